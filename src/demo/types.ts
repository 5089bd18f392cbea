/**
 * The demo's shared types (`tattler demo`, docs/demo.md): the devices it runs, what each must end
 * with, the events a fleet of agents reports, and the two ways of running them (network
 * namespaces with real enforcement, or loopback with enforcement simulated).
 * @module
 */

/** How the devices run: `netns` (root with `ip netns`: real routes) or `loopback` (simulated). */
export type DemoMode = 'netns' | 'loopback';

/** A verdict status as the demo counts it. */
export type DemoStatus = 'pass' | 'fail' | 'warn' | 'unknown';

/** One demo device: a real model, a firmware build, a mode, and what it must end with. */
export interface DemoDevice {
  /** Unique, `[a-z0-9-]{1,24}`: names its state directory, namespace and log lines. */
  readonly name: string;
  /** As people write them (`D-Link`, `DIR-859`); the agent canonicalises them. */
  readonly vendor: string;
  readonly model: string;
  readonly hardwareVersion?: string;
  readonly firmware: string;
  readonly mode: 'identified' | 'private';
  /**
   * The status the device must reach with the demo's feed and policy: `fail` means it must be
   * quarantined; anything else means it must not be.
   */
  readonly expected: DemoStatus;
  /** Why, for people: the advisory and where it comes from (`CVE-2018-14933, in CISA KEV`). */
  readonly why: string;
  /** A build the feed names as fixed: the demo "updates" some FAIL devices to it mid-run. */
  readonly fixedFirmware?: string;
}

/** Something a device's agent did, as the fleet saw it. */
export type DeviceEventKind =
  /** The agent runs. */
  | 'started'
  /** It sent its first (or a later) announcement. */
  | 'announced'
  /** It accepted an answer: `status` says which. */
  | 'verdict'
  /** Its quarantine is in place (netns: the rules are in the kernel; loopback: simulated). */
  | 'quarantined'
  /** Its quarantine was lifted. */
  | 'lifted'
  /** Something went wrong (`detail` says what). */
  | 'error'
  /** The agent stopped. */
  | 'stopped';

/** One event of one device. */
export interface DeviceEvent {
  readonly device: string;
  readonly kind: DeviceEventKind;
  /** Epoch milliseconds when it happened (the agent's own log time where there is one). */
  readonly atMs: number;
  /** For `verdict`. */
  readonly status?: DemoStatus;
  readonly detail?: string;
}

/** Where the devices find the collector and their trust files. */
export interface FleetStart {
  readonly devices: readonly DemoDevice[];
  /** The collector's address as the devices reach it, and its UDP port. */
  readonly collector: { readonly address: string; readonly port: number };
  /** The trust root document and the collector's key certificate (demo-data). */
  readonly rootPath: string;
  readonly certificatePath: string;
  /** A directory the fleet owns: state directories, agent configs, logs. */
  readonly dir: string;
  readonly onEvent: (event: DeviceEvent) => void;
  /** Progress lines for people (stderr). */
  readonly progress: (line: string) => void;
}

/** A device's owner status page, as the owner would open it. */
export interface OwnerPageLink {
  readonly url: string;
  /** The owner secret the agent printed once at first start. */
  readonly secret: string;
}

/** The devices of one demo run: in network namespaces or on loopback. */
export interface DeviceFleet {
  readonly mode: DemoMode;
  /**
   * Builds what the devices need before the collector starts (netns: namespaces, bridge, the
   * host's veth) and says where the collector must listen so the devices reach it.
   */
  prepare(): Promise<{ readonly listen: readonly string[]; readonly collectorAddress: string }>;
  /** Starts every device's agent; resolves once each has started. Events go to `onEvent`. */
  start(options: FleetStart): Promise<void>;
  /** Installs `firmware` on `device` (rewrites its config, reloads the agent, announces now). */
  update(device: string, firmware: string): Promise<void>;
  /** Whether `device` is quarantined now, read from the kernel (netns) or the simulated layer. */
  isQuarantined(device: string): Promise<boolean>;
  /** The owner page of `device`, once its agent has printed the secret. */
  ownerPage(device: string): OwnerPageLink | undefined;
  /** Stops every agent and removes everything `prepare` and `start` made. Never rejects. */
  stop(): Promise<void>;
  /** What is still there after `stop` (namespaces, links, rules, processes), one line each. */
  leftovers(): Promise<string[]>;
}

/**
 * The certificate scope of the demo collector: loopback for the loopback mode, and the RFC 2544
 * benchmarking block the netns mode puts its devices in (198.18.0.0/15, RFC 6890 §2.2.2: not
 * private, so the agent sees it as its own WAN address and the scope check is real).
 */
export const DEMO_SCOPE = ['127.0.0.0/8', '::1/128', '198.18.0.0/15'] as const;

/** The demo's network in netns mode: the host's end, and the devices' /16. */
export const DEMO_NETNS = Object.freeze({
  /** Every namespace the demo makes starts with this; `tattler demo --cleanup` removes them. */
  namespacePrefix: 'tattler-demo-',
  /** The host's veth end (its peer is on the devices' bridge): the collector listens here. */
  hostLink: 'tattler-demo0',
  hostAddress: '198.18.0.1',
  prefixLength: 16,
});

/** The JSON summary line of `tattler demo --json` (the last line of stdout). */
export interface DemoSummary {
  readonly mode: DemoMode;
  readonly devices: number;
  readonly verdicts: Readonly<Record<DemoStatus, number>>;
  /** Devices quarantined at some point in the run. */
  readonly quarantined: number;
  /** Quarantined although their expected status is not `fail`. */
  readonly wronglyQuarantined: number;
  /** Expected `fail` but never quarantined. */
  readonly missed: number;
  /** Quarantines lifted by a firmware update during the run. */
  readonly restored: number;
  /** From a device's first announcement to its quarantine in place. */
  readonly timeToQuarantineMs: { readonly p50: number | null; readonly p99: number | null };
  /** Things left behind after cleanup (0 is the only good answer). */
  readonly leftovers: number;
}
