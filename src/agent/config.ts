/**
 * The device agent's configuration file (docs/agent.md): YAML text → zod schema → our own
 * {@link AgentSettings}, every problem collected with its key path and a fix; and the core's
 * {@link AgentConfig} built from it once the trust files are read. A config shell.
 * @module
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { readCertificateFile, readRootFile } from '../cli/files.ts';
import {
  booleanCheck,
  describe,
  durationCheck,
  integerCheck,
  ipCheckWith,
  leaf,
  list,
  pathCheck,
  requiredLeaf,
  section,
  type Check,
} from '../config/checks.ts';
import {
  ConfigError,
  deepFreeze,
  parseConfigYaml,
  problemsOf,
  readConfigText,
  type ConfigProblem,
} from '../config/config-file.ts';
import {
  MAX_HOST_BYTES,
  MAX_OUTSTANDING_REQUESTS,
  MAX_SWNAME_BYTES,
  MAX_URI_BYTES,
  MAX_VERSION_BYTES,
  canonicalName,
  encodeRequest,
  formatDuration,
  isProtocolError,
  isSelfSigned,
  parseIp,
  trustAnchorsOf,
  type KeyCertificate,
  type Signed,
  type TrustAnchors,
} from '../protocol/index.ts';
import { notifyConfigSchema, type NotifyConfig } from '../owner/notifier.ts';
import { DEFAULT_COLLECTOR_PORT, type AgentConfig } from './core.ts';
import { SCHEDULE } from './schedule.ts';
import { MAX_STATE_HOSTS } from './state.ts';

/** Most collector addresses: 4 addresses × 4 attempts fill the nonce book's 16 requests ([P-8.4-1]). */
export const MAX_COLLECTORS = Math.floor(MAX_OUTSTANDING_REQUESTS / SCHEDULE.maxAttempts);
/** Most pre-provisioned key certificates: an operator has a few collector keys, rotating weekly. */
export const MAX_CERTIFICATES = 16;
/** Most extra host names the status page answers to: a device has a few mDNS/DHCP names. */
export const MAX_ALLOWED_HOSTS = 8;
/** Most DNS resolvers kept reachable: resolv.conf holds at most 3 (MAXNS); 8 is generous. */
export const MAX_DNS_RESOLVERS = 8;
/** Routing tables the kernel reserves: 0 unspec, 253 default, 254 main, 255 local. */
const RESERVED_TABLES: readonly number[] = [0, 253, 254, 255];
/** Largest rule priority: 32766 is `lookup main`; ours and ours + 1 must come before it. */
const MAX_PRIORITY = 32_764;

/** How the device announces ([P-3-7]). */
export type AgentMode = 'private' | 'identified' | 'off';

/** What the device says about itself, as written in the config and in canonical form. */
export interface DeviceSettings {
  readonly vendor: string;
  readonly model: string;
  /** [P-4.1-1] the canonical names sent on the wire and hashed for the private form. */
  readonly canonicalVendor: string;
  readonly canonicalModel: string;
  readonly hardwareVersion?: string;
  readonly software: { readonly name: string; readonly version: string };
  readonly cpe?: string;
  readonly mudUrl?: string;
  readonly sbomUrl?: string;
}

/** One collector anycast address and port. */
export interface CollectorSettings {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
}

/** The validated configuration of one agent; paths are absolute. */
export interface AgentSettings {
  /** The config file, as given. */
  readonly file: string;
  readonly device: DeviceSettings;
  readonly mode: AgentMode;
  readonly collectors: readonly CollectorSettings[];
  readonly trust: { readonly rootPath: string; readonly certificatePaths: readonly string[] };
  readonly remediationHosts: readonly string[];
  readonly stateDir: string;
  readonly enforcement: boolean;
  readonly startupWindow: { readonly enabled: boolean; readonly timeoutSeconds: number };
  readonly quarantine: { readonly table: number; readonly priority: number };
  /** `null`: the nameservers of /etc/resolv.conf. */
  readonly dns: readonly string[] | null;
  /** `trusted`: the wall clock is a battery RTC or an authenticated sync ([P-8.3-4]). */
  readonly clock: { readonly trusted: boolean };
  /** The owner's channels: the LAN status page and the notifications (docs/agent.md "The owner"). */
  readonly owner: OwnerSettings;
}

/** The `owner:` section. */
export interface OwnerSettings {
  readonly page: {
    readonly enabled: boolean;
    /** Bind address: `0.0.0.0`, `::` or a LAN address of the device. */
    readonly address: string;
    readonly port: number;
    readonly allowedHosts: readonly string[];
    readonly public: 'status-only' | 'full';
  };
  /** The validated `notify:` section; an absent channel is off. */
  readonly notify: NotifyConfig;
}

/** Defaults of every optional setting (docs/agent.md lists them as written). */
export const AGENT_DEFAULTS = Object.freeze({
  mode: 'private',
  port: DEFAULT_COLLECTOR_PORT,
  stateDir: '/var/lib/tattler',
  enforcement: true,
  // Off by default: it delays general traffic at boot until the first verdict, up to the timeout.
  startupWindow: Object.freeze({ enabled: false, timeoutSeconds: 5 }),
  // The route layer's defaults (routes.ts DEFAULTS): table 4750, rules at 90 and 91.
  quarantine: Object.freeze({ table: 4750, priority: 90 }),
  clock: Object.freeze({ trusted: false }),
  // On, on every address, port 8080: a quarantined device's owner needs a page to find without
  // configuring anything first; the secret, Host allowlist and lockout guard it (docs/owner-page.md).
  ownerPage: Object.freeze({
    enabled: true,
    address: '0.0.0.0',
    port: 8080,
    public: 'status-only',
  }),
});

/** A config file that cannot be used; `problems` lists every problem found, in file order. */
export class AgentConfigError extends ConfigError {
  override readonly name: string = 'AgentConfigError';
}

// ---- leaf values ------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex -- the point is to refuse control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Text sent on the wire as it is (versions, software name): 1..maxBytes, no control characters. */
function wireTextCheck(options: { maxBytes: number; example: string }): Check<string> {
  return (input, fail) => {
    if (typeof input === 'number')
      return fail(
        `${describe(input)} is a number, not text — quote it so YAML keeps it as written, e.g. "${options.example}"`,
      );
    if (typeof input !== 'string' || input.trim() === '')
      return fail(`${describe(input)} is not text — write e.g. ${options.example}`);
    if (input !== input.trim())
      return fail(`${describe(input)} has spaces around it — write it without them`);
    if (CONTROL.test(input))
      return fail('contains a control character — write plain text (docs/protocol.md §5)');
    const bytes = Buffer.byteLength(input, 'utf8');
    if (bytes > options.maxBytes)
      return fail(
        `${bytes} bytes is too long, at most ${options.maxBytes} (UTF-8, docs/protocol.md §5) — shorten it`,
      );
    return input;
  };
}

/** A vendor or model name as people write it; its canonical form must exist ([P-4.1-1]). */
function nameCheck(example: string): Check<{ text: string; canonical: string }> {
  return (input, fail) => {
    const text = typeof input === 'number' ? String(input) : input;
    if (typeof text !== 'string' || text.trim() === '')
      return fail(`${describe(input)} is not a name — write e.g. ${example}`);
    let canonical: string;
    try {
      canonical = canonicalName(text);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      return /nothing left/.test(err.message)
        ? fail(
            `${describe(input)} has nothing left once punctuation and spaces are removed (docs/protocol.md §4.1) — write the name with letters or digits, e.g. ${example}`,
          )
        : fail(
            `${describe(input)} is longer than 64 bytes once canonical (docs/protocol.md §4.1) — shorten it`,
          );
    }
    return { text, canonical };
  };
}

function uriCheck(options: { prefix: string; example: string }): Check<string> {
  return (input, fail) => {
    if (typeof input !== 'string' || !input.startsWith(options.prefix))
      return fail(
        `${describe(input)} does not start with ${options.prefix} — write e.g. ${options.example}`,
      );
    if (CONTROL.test(input) || /\s/.test(input))
      return fail('contains spaces or control characters — write it without them');
    const bytes = Buffer.byteLength(input, 'utf8');
    if (bytes > MAX_URI_BYTES)
      return fail(
        `${bytes} bytes is too long, at most ${MAX_URI_BYTES} (docs/protocol.md §5) — shorten it`,
      );
    if (options.prefix === 'https://') {
      try {
        new URL(input);
      } catch {
        return fail(`${describe(input)} is not a URL — write e.g. ${options.example}`);
      }
    }
    return input;
  };
}

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** A host name (RFC 1123) or an IP literal. */
function hostCheck(input: unknown, fail: (message: string) => never): string {
  if (typeof input !== 'string')
    return fail(`${describe(input)} is not a host name — write e.g. update.example.com`);
  if (/^[a-z]+:\/\//i.test(input) || input.includes('/')) {
    const host = /^[a-z]+:\/\/([^/:]+)/i.exec(input)?.[1];
    return fail(
      `${describe(input)} is a URL — write the host name only${host === undefined ? '' : `: ${host}`}`,
    );
  }
  if (isIP(input) !== 0) return input;
  const name = input.endsWith('.') ? input.slice(0, -1) : input;
  if (
    name.length === 0 ||
    name.length > MAX_HOST_BYTES ||
    !name.split('.').every((label) => HOST_LABEL.test(label))
  )
    return fail(
      `${describe(input)} is not a host name — write letters, digits, '-' and '.', e.g. update.example.com`,
    );
  return name.toLowerCase();
}

const collectorIpCheck = ipCheckWith(
  "devices send to the operator's anycast address, not a host name (announcing needs no DNS): write the address, e.g. 192.0.2.53 or 2001:db8::53",
);
const resolverIpCheck = ipCheckWith(
  'write the resolver\'s address, e.g. 192.0.2.1 (a name would need DNS to find DNS)',
);

function modeCheck(input: unknown, fail: (message: string) => never): AgentMode {
  if (input === 'private' || input === 'identified' || input === 'off') return input;
  if (input === false)
    return fail('false is not a mode — write off (quoted or not), private or identified');
  return fail(`${describe(input)} is not a mode — write private (the default), identified or off`);
}

const pageAddressCheck = ipCheckWith(
  'write a LAN address of the device, e.g. 192.168.1.20, or 0.0.0.0 for every address (names go in allowedHosts)',
);

function publicCheck(input: unknown, fail: (message: string) => never): 'status-only' | 'full' {
  if (input === 'status-only' || input === 'full') return input;
  return fail(`${describe(input)} is not a choice — write status-only (the default) or full`);
}

function tableCheck(input: unknown, fail: (message: string) => never): number {
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 1 || input > 0x7fff_ffff)
    return fail(`${describe(input)} is not a routing table id — write a whole number, e.g. 4750`);
  if (RESERVED_TABLES.includes(input))
    return fail(
      `${input} is a table the kernel reserves (253 default, 254 main, 255 local) — pick an unused one, e.g. 4750`,
    );
  return input;
}

// ---- the schema ---------------------------------------------------------------------------------

const deviceSchema = section(
  {
    vendor: requiredLeaf(nameCheck('D-Link'), 'vendor: D-Link'),
    model: requiredLeaf(nameCheck('DIR-859'), 'model: DIR-859'),
    hardwareVersion: leaf(wireTextCheck({ maxBytes: MAX_VERSION_BYTES, example: 'A1' })),
    software: section(
      {
        name: requiredLeaf(
          wireTextCheck({ maxBytes: MAX_SWNAME_BYTES, example: 'firmware' }),
          'name: firmware',
        ),
        version: requiredLeaf(
          wireTextCheck({ maxBytes: MAX_VERSION_BYTES, example: '1.05B03' }),
          'version: 1.05B03',
        ),
      },
      'software: {name: firmware, version: 1.05B03}',
    ),
    cpe: leaf(
      uriCheck({
        prefix: 'cpe:2.3:',
        example: 'cpe:2.3:o:dlink:dir-859_firmware:1.05b03:*:*:*:*:*:*:*',
      }),
    ),
    mudUrl: leaf(uriCheck({ prefix: 'https://', example: 'https://vendor.example/mud/dir859.json' })),
    sbomUrl: leaf(
      uriCheck({ prefix: 'https://', example: 'https://vendor.example/sbom/dir859.spdx.json' }),
    ),
  },
  'device: {vendor: D-Link, model: DIR-859, software: {name: firmware, version: 1.05B03}}',
);

const collectorSchema = section(
  {
    address: requiredLeaf(collectorIpCheck, 'address: 192.0.2.53'),
    port: leaf(integerCheck({ min: 1, max: 65_535, example: '5683' })),
  },
  '{address: 192.0.2.53}',
);

const configSchema = section(
  {
    device: deviceSchema,
    mode: leaf(modeCheck),
    collectors: z
      .array(collectorSchema, {
        error: (issue) =>
          issue.input === undefined
            ? "missing — add the operator's anycast addresses, e.g. collectors: [{address: 192.0.2.53}, {address: \"2001:db8::53\"}]"
            : `${describe(issue.input)} is not a list — write e.g. collectors: [{address: 192.0.2.53}, {address: "2001:db8::53"}]`,
      })
      .min(1, { error: 'empty — add at least one address, e.g. [{address: 192.0.2.53}]' })
      .max(MAX_COLLECTORS, {
        error: (issue) =>
          `${Array.isArray(issue.input) ? issue.input.length : 'too many'} addresses, at most ${MAX_COLLECTORS} (× ${SCHEDULE.maxAttempts} attempts fill one answer window's ${MAX_OUTSTANDING_REQUESTS} requests) — list one IPv4 and one IPv6 anycast address`,
      })
      .superRefine((collectors, ctx) => {
        const seen = new Set<string>();
        collectors.forEach((entry, i) => {
          const key = `[${entry.address.address}]:${String(entry.port ?? AGENT_DEFAULTS.port)}`;
          if (seen.has(key))
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `${key} is listed twice — remove the duplicate`,
            });
          seen.add(key);
        });
      }),
    trust: section(
      {
        root: requiredLeaf(
          pathCheck('root.cbor'),
          'root: root.cbor (the root document shipped with the device)',
        ),
        certificates: list(requiredLeaf(pathCheck('collector.cert.cbor'), 'collector.cert.cbor'), {
          max: MAX_CERTIFICATES,
          example: '[collector.cert.cbor]',
        }).optional(),
      },
      'trust: {root: root.cbor}',
    ),
    remediationHosts: list(requiredLeaf(hostCheck, 'update.example.com'), {
      max: MAX_STATE_HOSTS,
      example: '[update.example.com]',
    }).optional(),
    stateDir: leaf(pathCheck('/var/lib/tattler')),
    enforcement: leaf(booleanCheck),
    startupWindow: section(
      {
        enabled: leaf(booleanCheck),
        timeout: leaf(durationCheck({ minSeconds: 1, maxSeconds: 300 })),
      },
      '{enabled: true, timeout: 5s}',
    ).optional(),
    quarantine: section(
      {
        table: leaf(tableCheck),
        priority: leaf(
          integerCheck({
            min: 1,
            max: MAX_PRIORITY,
            example: '90 (the catch-all rule takes the next one; both before 32766 "lookup main")',
          }),
        ),
      },
      '{table: 4750, priority: 90}',
    ).optional(),
    dns: list(requiredLeaf(resolverIpCheck, '192.0.2.1'), {
      max: MAX_DNS_RESOLVERS,
      example: '[192.0.2.1, "2001:db8::1"]',
    }).optional(),
    clock: section({ trusted: leaf(booleanCheck) }, '{trusted: false}').optional(),
    owner: section(
      {
        page: section(
          {
            enabled: leaf(booleanCheck),
            address: leaf(pageAddressCheck),
            port: leaf(integerCheck({ min: 1, max: 65_535, example: '8080' })),
            allowedHosts: list(requiredLeaf(hostCheck, 'camera.local'), {
              max: MAX_ALLOWED_HOSTS,
              example: '[camera.local]',
            }).optional(),
            public: leaf(publicCheck),
          },
          '{enabled: true, address: 0.0.0.0, port: 8080, allowedHosts: [camera.local]}',
        ).optional(),
        notify: notifyConfigSchema.optional(),
      },
      '{page: {port: 8080}, notify: {syslog: {}}}',
    ).optional(),
  },
  'device: {...}',
);

type ParsedConfig = z.output<typeof configSchema>;

function toSettings(parsed: ParsedConfig, file: string): AgentSettings {
  const base = dirname(file);
  const at = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
  const d = AGENT_DEFAULTS;
  const device = parsed.device;
  return {
    file,
    device: {
      vendor: device.vendor.text,
      model: device.model.text,
      canonicalVendor: device.vendor.canonical,
      canonicalModel: device.model.canonical,
      ...(device.hardwareVersion === undefined ? {} : { hardwareVersion: device.hardwareVersion }),
      software: { name: device.software.name, version: device.software.version },
      ...(device.cpe === undefined ? {} : { cpe: device.cpe }),
      ...(device.mudUrl === undefined ? {} : { mudUrl: device.mudUrl }),
      ...(device.sbomUrl === undefined ? {} : { sbomUrl: device.sbomUrl }),
    },
    mode: parsed.mode ?? d.mode,
    collectors: parsed.collectors.map((c) => ({
      address: c.address.address,
      family: c.address.family,
      port: c.port ?? d.port,
    })),
    trust: {
      rootPath: at(parsed.trust.root),
      certificatePaths: (parsed.trust.certificates ?? []).map(at),
    },
    remediationHosts: parsed.remediationHosts ?? [],
    stateDir: at(parsed.stateDir ?? d.stateDir),
    enforcement: parsed.enforcement ?? d.enforcement,
    startupWindow: {
      enabled: parsed.startupWindow?.enabled ?? d.startupWindow.enabled,
      timeoutSeconds: parsed.startupWindow?.timeout ?? d.startupWindow.timeoutSeconds,
    },
    quarantine: {
      table: parsed.quarantine?.table ?? d.quarantine.table,
      priority: parsed.quarantine?.priority ?? d.quarantine.priority,
    },
    dns: parsed.dns?.map((r) => r.address) ?? null,
    clock: { trusted: parsed.clock?.trusted ?? d.clock.trusted },
    owner: {
      page: {
        enabled: parsed.owner?.page?.enabled ?? d.ownerPage.enabled,
        address: parsed.owner?.page?.address?.address ?? d.ownerPage.address,
        port: parsed.owner?.page?.port ?? d.ownerPage.port,
        allowedHosts: parsed.owner?.page?.allowedHosts ?? [],
        public: parsed.owner?.page?.public ?? d.ownerPage.public,
      },
      notify: parsed.owner?.notify ?? {},
    },
  };
}

/** [P-5-4] the identified request with every optional claim must fit the fixed request size. */
function wireProblem(device: DeviceSettings): ConfigProblem | undefined {
  try {
    encodeRequest(
      {
        kind: 'identified',
        nonce: new Uint8Array(16),
        vendor: device.canonicalVendor,
        model: device.canonicalModel,
        swName: device.software.name,
        swVersion: { version: device.software.version },
        ...(device.hardwareVersion === undefined
          ? {}
          : { hwVersion: { version: device.hardwareVersion } }),
        ...(device.cpe === undefined ? {} : { cpe: device.cpe }),
        ...(device.mudUrl === undefined ? {} : { mudUrl: device.mudUrl }),
        ...(device.sbomUrl === undefined ? {} : { sbomUrl: device.sbomUrl }),
        quarantined: true,
      },
      { messageId: 0, token: new Uint8Array(8) },
    );
    return undefined;
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    return {
      path: 'device',
      message: `the announcement would not fit one request (${err.message}; docs/protocol.md [P-5-4]) — shorten cpe, mudUrl or sbomUrl`,
    };
  }
}

/**
 * Parses and validates an agent config file's text; `file` names it in messages and anchors
 * relative paths. Throws {@link AgentConfigError} listing every problem.
 * @example const settings = parseAgentConfig(text, '/etc/tattler/agent.yaml');
 */
export function parseAgentConfig(text: string, file: string): AgentSettings {
  let data: unknown;
  try {
    data = parseConfigYaml(text, file, {
      program: 'agent',
      example: 'examples/agent.yaml (docs/agent.md)',
    });
  } catch (err) {
    if (err instanceof ConfigError)
      throw new AgentConfigError(file, err.problems, { cause: err.cause });
    throw err;
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) throw new AgentConfigError(file, problemsOf(result.error));
  const settings = toSettings(result.data, file);
  const problem = wireProblem(settings.device);
  if (problem !== undefined) throw new AgentConfigError(file, [problem]);
  return deepFreeze(settings);
}

/** Reads and validates an agent config file (size checked before reading). */
export async function loadAgentConfig(file: string): Promise<AgentSettings> {
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new AgentConfigError(file, err.problems, { cause: err.cause });
    throw err;
  }
  return parseAgentConfig(text, file);
}

/** The trust files of a config, read and checked. */
export interface AgentTrust {
  readonly anchors: TrustAnchors;
  readonly certificates: readonly Signed<KeyCertificate>[];
}

/**
 * Reads the root document (it must carry its own threshold of signatures) and the key
 * certificates; throws {@link AgentConfigError} naming the key (`trust.root`,
 * `trust.certificates[1]`) of every file that cannot be used.
 */
export async function loadAgentTrust(settings: AgentSettings): Promise<AgentTrust> {
  const problems: ConfigProblem[] = [];
  const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
  let anchors: TrustAnchors | undefined;
  try {
    const root = await readRootFile(settings.trust.rootPath);
    if (!isSelfSigned(root))
      problems.push({
        path: 'trust.root',
        message: `${settings.trust.rootPath}: not signed by its own threshold of root keys — ship the root document written by "tattler root init" (or a verified rotation)`,
      });
    else anchors = trustAnchorsOf(root.value);
  } catch (err) {
    problems.push({ path: 'trust.root', message: message(err) });
  }
  const certificates: Signed<KeyCertificate>[] = [];
  for (const [i, path] of settings.trust.certificatePaths.entries()) {
    try {
      certificates.push(await readCertificateFile(path));
    } catch (err) {
      problems.push({ path: `trust.certificates[${i}]`, message: message(err) });
    }
  }
  if (problems.length > 0 || anchors === undefined)
    throw new AgentConfigError(settings.file, problems);
  return { anchors, certificates };
}

function addressBytes(text: string): Uint8Array {
  const bytes = parseIp(text);
  if (bytes === undefined) throw new RangeError(`not an IP literal: ${text}`);
  return bytes;
}

/** The core's configuration from validated settings and their trust files. */
export function coreConfigOf(
  settings: AgentSettings,
  trust: AgentTrust,
  options: { schedule?: AgentConfig['schedule']; answerWindowMs?: number } = {},
): AgentConfig {
  const device = settings.device;
  return {
    mode: settings.mode,
    enforcement: settings.enforcement,
    device: {
      vendor: device.canonicalVendor,
      model: device.canonicalModel,
      swName: device.software.name,
      swVersion: device.software.version,
      ...(device.hardwareVersion === undefined ? {} : { hwVersion: device.hardwareVersion }),
    },
    collectors: settings.collectors.map((c) => ({ address: addressBytes(c.address), port: c.port })),
    anchors: trust.anchors,
    certificates: trust.certificates,
    remediationHosts: settings.remediationHosts,
    ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
    ...(options.answerWindowMs === undefined ? {} : { answerWindowMs: options.answerWindowMs }),
  };
}

/** `192.0.2.53:5683`, `[2001:db8::53]:5683`. */
export function formatEndpoint(endpoint: { address: string; port: number }): string {
  return endpoint.address.includes(':')
    ? `[${endpoint.address}]:${endpoint.port}`
    : `${endpoint.address}:${endpoint.port}`;
}

/** A one-screen, readable summary of the effective configuration. */
export function summarizeAgentConfig(settings: AgentSettings): string {
  const d = settings.device;
  const modeText: Record<AgentMode, string> = {
    private: 'private: sends only a 12-bit prefix of the model hash; decides on the device',
    identified: 'identified: sends vendor, model and software version; the collector decides',
    off: 'off: nothing is sent, nothing is quarantined',
  };
  const w = settings.startupWindow;
  const q = settings.quarantine;
  const rows: [string, string][] = [
    ['config', settings.file],
    [
      'device',
      `${d.vendor} ${d.model}${d.hardwareVersion === undefined ? '' : ` (hardware ${d.hardwareVersion})`}, ` +
        `${d.software.name} ${d.software.version}; canonical ${d.canonicalVendor}/${d.canonicalModel}`,
    ],
    [
      'claims',
      [d.cpe, d.mudUrl, d.sbomUrl].every((x) => x === undefined)
        ? 'none beyond the identity'
        : [
            d.cpe === undefined ? null : `cpe ${d.cpe}`,
            d.mudUrl === undefined ? null : `MUD ${d.mudUrl}`,
            d.sbomUrl === undefined ? null : `SBOM ${d.sbomUrl}`,
          ]
            .filter((x) => x !== null)
            .join(', '),
    ],
    ['mode', modeText[settings.mode]],
    [
      'collectors',
      settings.collectors.map((c) => `${formatEndpoint(c)} (IPv${c.family})`).join(', '),
    ],
    ['trust root', settings.trust.rootPath],
    [
      'certificates',
      settings.trust.certificatePaths.length === 0
        ? 'none pre-provisioned'
        : settings.trust.certificatePaths.join(', '),
    ],
    [
      'remediation',
      settings.remediationHosts.length === 0
        ? 'no hosts (a private FAIL keeps only the collectors and DNS)'
        : settings.remediationHosts.join(', '),
    ],
    [
      'enforcement',
      settings.enforcement
        ? `on: a valid FAIL quarantines (table ${q.table}, rules at priority ${q.priority} and ${q.priority + 1})`
        : 'off: a valid FAIL is recorded and logged, never enforced',
    ],
    [
      'startup',
      w.enabled
        ? `fail-closed window until the first verdict, at most ${formatDuration(w.timeoutSeconds)} after the first announcement`
        : 'no start-up window',
    ],
    [
      'dns',
      settings.dns === null ? 'nameservers of /etc/resolv.conf' : settings.dns.join(', '),
    ],
    [
      'clock',
      settings.clock.trusted
        ? 'wall clock trusted (RTC or authenticated time)'
        : 'wall clock not trusted: lifetimes on the monotonic clock only',
    ],
    [
      'owner page',
      settings.owner.page.enabled
        ? `${formatEndpoint(settings.owner.page)} (${settings.owner.page.public === 'full' ? 'advisories public' : 'status only without the secret'})`
        : 'off',
    ],
    [
      'notify',
      Object.keys(settings.owner.notify).length === 0
        ? 'no channels'
        : Object.keys(settings.owner.notify).join(', '),
    ],
    ['state', settings.stateDir],
  ];
  return rows.map(([name, value]) => `${name.padEnd(13)}${value}\n`).join('');
}
