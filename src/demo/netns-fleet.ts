/**
 * The demo's netns fleet: every device a real `tattler agent` process in its own network
 * namespace on one bridge (198.18.0.0/16, RFC 2544 benchmarking space), reaching the host's
 * collector over one veth, with real quarantine rules in its kernel namespace; plus the check that
 * says whether this mode can run and the `--cleanup` of a crashed run.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoAgentYaml, type DemoAgentYaml } from './agent-yaml.ts';
import { DemoAgentProcess } from './netns-agent.ts';
import {
  hasHostLink,
  hasLookupRule,
  hostRoutesOverlapping,
  IpError,
  listNamespaces,
  namespacePids,
  runIp,
  runIpRaw,
} from './netns-ip.ts';
import {
  DEMO_NETNS,
  type DemoDevice,
  type DeviceFleet,
  type FleetStart,
  type OwnerPageLink,
} from './types.ts';

/** The fleet's fixed choices, in one place. */
export const NETNS_FLEET_DEFAULTS = Object.freeze({
  /** The namespace holding the devices' bridge. */
  lanNamespace: `${DEMO_NETNS.namespacePrefix}lan`,
  bridge: 'br0',
  /** The host veth's peer, on the bridge. */
  uplink: 'uplink',
  /** Agents started at once: each is a Node.js start-up (~0.5 s of CPU); 2 vCPUs stay responsive. */
  concurrency: 4,
  /** From spawn to the agent's `started` line, with others starting alongside on a loaded host. */
  startTimeoutMs: 60_000,
  /** From SIGHUP to `reloaded`: the reload re-reads files and re-opens sockets. */
  reloadTimeoutMs: 15_000,
  /** SIGTERM, then SIGKILL after this. */
  stopGraceMs: 5_000,
  /** Devices per /24 of 198.18.0.0/16 (198.18.1.1–250, then 198.18.2.1–250, …). */
  devicesPerBlock: 250,
  /** The agent's quarantine rule (docs/agent.md: `priority 90 lookup 4750`). */
  quarantineRule: { priority: 90, table: 4750 },
  ownerPagePort: 8080,
});

/** The prefix the devices live in, as `ip` writes it. */
const DEMO_PREFIX = `198.18.0.0/${String(DEMO_NETNS.prefixLength)}`;
/** The third octet runs 1..255: at most this many devices. */
const MAX_NETNS_DEVICES = 255 * NETNS_FLEET_DEFAULTS.devicesPerBlock;
/** Device names as types.ts allows them (they name namespaces and directories). */
const DEVICE_NAME = /^[a-z0-9-]{1,24}$/;

/** The address of the `index`-th device (1-based): 198.18.1.1 … 198.18.1.250, 198.18.2.1, … */
export function deviceAddress(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NETNS_DEVICES) {
    throw new RangeError(
      `device index: expected 1..${String(MAX_NETNS_DEVICES)}, got ${String(index)}`,
    );
  }
  const block = Math.floor((index - 1) / NETNS_FLEET_DEFAULTS.devicesPerBlock) + 1;
  const host = ((index - 1) % NETNS_FLEET_DEFAULTS.devicesPerBlock) + 1;
  return `198.18.${String(block)}.${String(host)}`;
}

/** The namespace of the device named `name`. */
export function deviceNamespace(name: string): string {
  return `${DEMO_NETNS.namespacePrefix}${name}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One device of a started fleet. */
interface Slot {
  readonly device: DemoDevice;
  readonly index: number;
  readonly namespace: string;
  readonly address: string;
  readonly configPath: string;
  yaml: DemoAgentYaml;
  agent?: DemoAgentProcess;
}

/** Options of {@link createNetnsFleet}. */
export interface NetnsFleetOptions {
  /** bin/tattler.js; default the package's own. */
  readonly tattlerBin?: string;
}

/**
 * The netns fleet ({@link DeviceFleet} with `mode: 'netns'`): needs root and `ip netns` (check with
 * {@link netnsUnavailableReason} first). Changes nothing on the host but one veth link,
 * `tattler-demo0` with 198.18.0.1/16, which `stop()` removes with every namespace it made.
 * @example const fleet = createNetnsFleet(); const { listen } = await fleet.prepare(); … await fleet.stop();
 */
export function createNetnsFleet(options: NetnsFleetOptions = {}): DeviceFleet {
  const tattlerBin =
    options.tattlerBin ?? fileURLToPath(new URL('../../bin/tattler.js', import.meta.url));
  const d = NETNS_FLEET_DEFAULTS;
  const slots = new Map<string, Slot>();
  /** Namespaces made, in order of making (deleted in reverse). */
  const namespaces: string[] = [];
  let hostLinkMade = false;
  let prepared:
    { readonly listen: readonly string[]; readonly collectorAddress: string } | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let say: (line: string) => void = () => undefined;

  async function addNamespace(name: string): Promise<void> {
    await runIp(['netns', 'add', name]);
    namespaces.push(name);
    await runIp(['-n', name, 'link', 'set', 'lo', 'up']);
  }

  async function deleteNamespace(name: string): Promise<void> {
    const result = await runIpRaw(['netns', 'del', name]);
    if (result.exitCode !== 0)
      throw new IpError('IP_FAILED', `ip netns del ${name}: ${result.stderr.trim()}`);
    namespaces.splice(namespaces.indexOf(name), 1);
  }

  async function deleteHostLink(): Promise<void> {
    // Deleting one end of a veth deletes both at once; deleting the LAN namespace would too, but
    // the kernel dismantles a namespace asynchronously, and leftovers() must not see it linger.
    if (await hasHostLink(DEMO_NETNS.hostLink)) await runIp(['link', 'del', DEMO_NETNS.hostLink]);
    hostLinkMade = false;
  }

  async function buildLan(): Promise<void> {
    const lan = d.lanNamespace;
    await addNamespace(lan);
    await runIp(['-n', lan, 'link', 'add', d.bridge, 'type', 'bridge']);
    await runIp(['-n', lan, 'link', 'set', d.bridge, 'up']);
    await runIp([
      'link',
      'add',
      DEMO_NETNS.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      d.uplink,
      'netns',
      lan,
    ]);
    hostLinkMade = true;
    await runIp(['-n', lan, 'link', 'set', d.uplink, 'master', d.bridge, 'up']);
    const cidr = `${DEMO_NETNS.hostAddress}/${String(DEMO_NETNS.prefixLength)}`;
    await runIp(['address', 'add', cidr, 'dev', DEMO_NETNS.hostLink]);
    await runIp(['link', 'set', DEMO_NETNS.hostLink, 'up']);
  }

  /** Removes what prepare/start made; returns the problems, one line each. */
  async function teardown(): Promise<string[]> {
    const problems: string[] = [];
    if (hostLinkMade) {
      try {
        await deleteHostLink();
      } catch (err) {
        problems.push(errorText(err));
      }
    }
    // Devices first (their veth peers sit on the LAN bridge), the LAN namespace last.
    for (const name of [...namespaces].reverse()) {
      try {
        await deleteNamespace(name);
      } catch (err) {
        problems.push(errorText(err));
      }
    }
    return problems;
  }

  async function startDevice(slot: Slot, start: FleetStart): Promise<void> {
    const { namespace, index } = slot;
    const home = join(start.dir, slot.device.name);
    await mkdir(join(home, 'state'), { recursive: true, mode: 0o700 });
    await addNamespace(namespace);
    // The device's end is eth0 in its namespace; the bridge's end is named by index (IFNAMSIZ 16).
    const port = `d${String(index)}`;
    await runIp([
      '-n',
      d.lanNamespace,
      'link',
      'add',
      port,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      namespace,
    ]);
    await runIp(['-n', d.lanNamespace, 'link', 'set', port, 'master', d.bridge, 'up']);
    await runIp([
      '-n',
      namespace,
      'address',
      'add',
      `${slot.address}/${String(DEMO_NETNS.prefixLength)}`,
      'dev',
      'eth0',
    ]);
    await runIp(['-n', namespace, 'link', 'set', 'eth0', 'up']);
    await runIp(['-n', namespace, 'route', 'add', 'default', 'via', DEMO_NETNS.hostAddress]);
    await writeFile(slot.configPath, demoAgentYaml(slot.yaml), { mode: 0o600 });
    const agent = new DemoAgentProcess({
      device: slot.device.name,
      namespace,
      configPath: slot.configPath,
      logPath: join(home, 'agent.log'),
      tattlerBin,
      onEvent: start.onEvent,
    });
    // Listening before anything can print: the `started` line cannot be missed.
    const started = agent.nextEvent(['started'], d.startTimeoutMs);
    slot.agent = agent;
    await started;
  }

  async function startAll(start: FleetStart): Promise<void> {
    if (prepared === undefined) throw new Error('netns fleet: start() before prepare()');
    if (slots.size > 0) throw new Error('netns fleet: start() twice');
    if (start.devices.length > MAX_NETNS_DEVICES)
      throw new RangeError(`netns fleet: at most ${String(MAX_NETNS_DEVICES)} devices`);
    say = start.progress;
    let index = 0;
    for (const device of start.devices) {
      index += 1;
      if (
        !DEVICE_NAME.test(device.name) ||
        deviceNamespace(device.name) === d.lanNamespace ||
        slots.has(device.name)
      ) {
        throw new RangeError(
          `netns fleet: device name ${JSON.stringify(device.name)} is not usable (unique [a-z0-9-]{1,24}, not "lan")`,
        );
      }
      const home = join(start.dir, device.name);
      const address = deviceAddress(index);
      slots.set(device.name, {
        device,
        index,
        namespace: deviceNamespace(device.name),
        address,
        configPath: join(home, 'agent.yaml'),
        yaml: {
          device,
          firmware: device.firmware,
          collector: start.collector,
          rootPath: start.rootPath,
          certificatePath: start.certificatePath,
          stateDir: join(home, 'state'),
          enforcement: true,
          dns: [DEMO_NETNS.hostAddress],
          ownerPage: { address, port: d.ownerPagePort },
        },
      });
    }
    await mkdir(start.dir, { recursive: true, mode: 0o700 });
    const queue = [...slots.values()];
    const total = queue.length;
    let started = 0;
    let failure: Error | undefined;
    async function worker(): Promise<void> {
      for (let slot = queue.shift(); slot !== undefined; slot = queue.shift()) {
        if (failure !== undefined || stopping !== undefined) return;
        try {
          await startDevice(slot, start);
        } catch (err) {
          failure ??= err instanceof Error ? err : new Error(errorText(err));
          return;
        }
        started += 1;
        if (started % 5 === 0 || started === total) {
          start.progress(
            `started ${String(started)}/${String(total)} agents (each in its own network namespace)`,
          );
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(d.concurrency, total) }, worker));
    if (failure !== undefined) throw failure;
    if (stopping !== undefined) throw new Error('netns fleet: stopped while starting');
  }

  async function stopAll(): Promise<void> {
    // A start still running stops taking devices; wait for the ones in flight.
    await starting?.catch(() => undefined);
    const agents = [...slots.values()].flatMap((slot) =>
      slot.agent === undefined ? [] : [slot.agent],
    );
    await Promise.all(
      agents.map(async (agent) => {
        const how = await agent.stop(d.stopGraceMs);
        if (how === 'SIGKILL') say(`agent of ${agent.device} did not stop on SIGTERM: killed`);
      }),
    );
    for (const problem of await teardown()) say(`cleanup: ${problem}`);
  }

  function slotOf(name: string): Slot {
    const slot = slots.get(name);
    if (slot?.agent === undefined)
      throw new Error(`netns fleet: no running device ${JSON.stringify(name)}`);
    return slot;
  }

  return {
    mode: 'netns',

    async prepare() {
      if (stopping !== undefined) throw new Error('netns fleet: prepare() after stop()');
      if (prepared !== undefined) return prepared;
      try {
        await buildLan();
      } catch (err) {
        const problems = await teardown();
        const also = problems.length > 0 ? ` (and cleaning up: ${problems.join('; ')})` : '';
        throw new Error(`netns fleet: could not build the demo network: ${errorText(err)}${also}`, {
          cause: err,
        });
      }
      prepared = { listen: [DEMO_NETNS.hostAddress], collectorAddress: DEMO_NETNS.hostAddress };
      return prepared;
    },

    start(start: FleetStart): Promise<void> {
      if (stopping !== undefined)
        return Promise.reject(new Error('netns fleet: start() after stop()'));
      starting = startAll(start);
      return starting;
    },

    async update(name: string, firmware: string): Promise<void> {
      const slot = slotOf(name);
      const agent = slot.agent;
      if (agent === undefined)
        throw new Error(`netns fleet: no running device ${JSON.stringify(name)}`);
      slot.yaml = { ...slot.yaml, firmware };
      await writeFile(slot.configPath, demoAgentYaml(slot.yaml), { mode: 0o600 });
      const reloaded = agent.nextEvent(['reloaded', 'reload_failed'], d.reloadTimeoutMs);
      agent.signal('SIGHUP');
      const line = await reloaded;
      if (line.event !== 'reloaded')
        throw new Error(`${name}: the agent did not reload its config: ${line.message}`);
      // docs/agent.md: SIGUSR1 announces now (held from process start, so never the inspector).
      agent.signal('SIGUSR1');
    },

    async isQuarantined(name: string): Promise<boolean> {
      const slot = slots.get(name);
      if (slot === undefined || !namespaces.includes(slot.namespace)) return false;
      return hasLookupRule(slot.namespace, d.quarantineRule);
    },

    ownerPage(name: string): OwnerPageLink | undefined {
      const slot = slots.get(name);
      const secret = slot?.agent?.secret;
      if (slot === undefined || secret === undefined) return undefined;
      return { url: `http://${slot.address}:${String(d.ownerPagePort)}/`, secret };
    },

    stop(): Promise<void> {
      stopping ??= stopAll().catch((err: unknown) => {
        say(`cleanup: ${errorText(err)}`);
      });
      return stopping;
    },

    async leftovers(): Promise<string[]> {
      const left: string[] = [];
      for (const slot of slots.values()) {
        if (slot.agent !== undefined && !slot.agent.done) {
          left.push(
            `agent of ${slot.device.name} (pid ${String(slot.agent.pid ?? '?')}) still running`,
          );
        }
      }
      try {
        for (const name of await listNamespaces()) {
          if (name.startsWith(DEMO_NETNS.namespacePrefix)) left.push(`network namespace ${name}`);
        }
        if (await hasHostLink(DEMO_NETNS.hostLink)) left.push(`host link ${DEMO_NETNS.hostLink}`);
      } catch (err) {
        left.push(`could not check namespaces and links: ${errorText(err)}`);
      }
      return left;
    },
  };
}

/** The demo's namespaces now on this host, and whether its host link exists. */
async function findLeftovers(): Promise<{ namespaces: string[]; hostLink: boolean }> {
  const namespaces = (await listNamespaces()).filter((name) =>
    name.startsWith(DEMO_NETNS.namespacePrefix),
  );
  return { namespaces, hostLink: await hasHostLink(DEMO_NETNS.hostLink) };
}

/**
 * Why the netns mode cannot run here, or `undefined` when it can: not root, no `ip netns` (or
 * namespaces not allowed), leftovers of an earlier run, or 198.18.0.0/16 already routed on this
 * host (the demo would shadow or break someone's network).
 */
export async function netnsUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces need root)';
  let found;
  try {
    found = await findLeftovers();
  } catch (err) {
    return `\`ip netns\` is not available (${errorText(err)}; install iproute2)`;
  }
  if (found.namespaces.length > 0 || found.hostLink) {
    const what = [
      ...found.namespaces.map((n) => `namespace ${n}`),
      ...(found.hostLink ? [`link ${DEMO_NETNS.hostLink}`] : []),
    ];
    return `an earlier demo run left ${what.join(', ')}: run tattler demo --cleanup`;
  }
  try {
    const routes = await hostRoutesOverlapping(DEMO_PREFIX);
    if (routes.length > 0)
      return `${DEMO_PREFIX} is already routed on this host (${routes.slice(0, 3).join(', ')}); the demo puts its devices there`;
  } catch (err) {
    return `could not read the host's routes (${errorText(err)})`;
  }
  // Root in a container may still be refused namespaces: try one.
  const probe = `${DEMO_NETNS.namespacePrefix}probe-${String(process.pid)}`;
  const added = await runIpRaw(['netns', 'add', probe]).catch((err: unknown) => ({
    exitCode: -1,
    stdout: '',
    stderr: errorText(err),
  }));
  if (added.exitCode !== 0)
    return `\`ip netns add\` failed (${added.stderr.trim() || String(added.exitCode)})`;
  await runIpRaw(['netns', 'del', probe]).catch(() => undefined);
  return undefined;
}

/**
 * `tattler demo --cleanup`: kills the processes in every `tattler-demo-*` namespace, deletes those
 * namespaces and the host link `tattler-demo0` if present. Touches nothing else. Resolves with
 * what it removed, one line each; problems go to `progress` and do not stop the rest.
 */
export async function cleanupDemoLeftovers(progress: (line: string) => void): Promise<string[]> {
  const removed: string[] = [];
  let found;
  try {
    found = await findLeftovers();
  } catch (err) {
    progress(`cleanup: cannot list namespaces (${errorText(err)}); nothing removed`);
    return removed;
  }
  if (found.hostLink) {
    try {
      await runIp(['link', 'del', DEMO_NETNS.hostLink]);
      removed.push(`host link ${DEMO_NETNS.hostLink}`);
      progress(`removed host link ${DEMO_NETNS.hostLink}`);
    } catch (err) {
      progress(`cleanup: ${errorText(err)}`);
    }
  }
  // Devices before the LAN namespace, as stop() does.
  const lan = NETNS_FLEET_DEFAULTS.lanNamespace;
  const order = [
    ...found.namespaces.filter((n) => n !== lan),
    ...found.namespaces.filter((n) => n === lan),
  ];
  for (const name of order) {
    const pids = await namespacePids(name);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        removed.push(`process ${String(pid)} in ${name}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH')
          progress(`cleanup: kill ${String(pid)} in ${name}: ${errorText(err)}`);
      }
    }
    const result = await runIpRaw(['netns', 'del', name]).catch((err: unknown) => ({
      exitCode: -1,
      stdout: '',
      stderr: errorText(err),
    }));
    if (result.exitCode === 0) {
      removed.push(`network namespace ${name}`);
      progress(
        `removed network namespace ${name}${pids.length > 0 ? ` and killed ${String(pids.length)} process(es) in it` : ''}`,
      );
    } else progress(`cleanup: ip netns del ${name}: ${result.stderr.trim()}`);
  }
  return removed;
}
