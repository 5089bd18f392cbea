/**
 * The collector's configuration file (docs/collector.md): YAML text → zod schema → our own
 * {@link CollectorConfig}, every problem collected with its key path and a fix. A config shell.
 * @module
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
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
  textCheck,
  urlCheck,
  whenValid,
} from '../config/checks.ts';
import {
  ConfigError,
  MAX_CONFIG_BYTES,
  deepFreeze,
  formatProblem,
  parseConfigYaml,
  problemsOf,
  readConfigText,
  type ConfigProblem,
} from '../config/config-file.ts';
import { importPrivateKey } from '../crypto/index.ts';
import {
  formatDuration,
  formatPrefix,
  isProtocolError,
  MAX_ADVISORY_ID_BYTES,
  MAX_OPERATOR_BYTES,
  MAX_POLICY_BYTES,
  MAX_VERDICT_LIFETIME_SECONDS,
  parsePrefix,
  signPolicy,
  type IpPrefix,
} from '../protocol/index.ts';

export { MAX_CONFIG_BYTES, formatProblem, type ConfigProblem };
export { editDistance, suggestKey } from '../config/checks.ts';
/** Most listen entries: 16 (an operator has one IPv4 and one IPv6 anycast address, [P-3-6]). */
export const MAX_LISTEN_ADDRESSES = 16;
/** Most ids in `policy.deny` or `policy.allow`: the wire limit of the policy document (§6.4). */
export const MAX_POLICY_ADVISORIES = 16;
/** Most exempt prefixes: 256, far above an ISP's own infrastructure ranges, and a bounded scan. */
export const MAX_EXEMPT_PREFIXES = 256;
/** Most names in `metrics.dashboard.allowedHosts`: the names an operator reaches the listener by. */
export const MAX_DASHBOARD_HOSTS = 8;
/** Longest DNS name in text form (RFC 1035 §2.3.4: 255 octets on the wire, 253 as dotted text). */
const MAX_HOST_NAME_CHARACTERS = 253;
/** RFC 1123 §2.1 host name labels: letters, digits, hyphens, not starting or ending with a hyphen. */
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function hostNameCheck(input: unknown, fail: (message: string) => never): string {
  const name = typeof input === 'string' ? input.toLowerCase().replace(/\.$/, '') : undefined;
  if (name === undefined || name.length > MAX_HOST_NAME_CHARACTERS || !HOST_NAME.test(name))
    return fail(`${describe(input)} is not a host name — write e.g. collector.example.net (no port, no scheme)`);
  return name;
}

/** Largest rate-limit table: 2^20 prefixes × ~150 B per entry (rate-limit.ts) ≈ 150 MiB. */
export const MAX_RATE_LIMIT_TABLE_SIZE = 1_048_576;

const MINUTE = 60;
const DAY = 86_400;

/** One UDP socket to bind: an IP literal (RFC 5952 text for IPv6) and a port (0: ephemeral). */
export interface ListenConfig {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
}

/** Where the signed feed bundle comes from. */
export type FeedSource =
  { readonly kind: 'file'; readonly path: string } | { readonly kind: 'url'; readonly url: string };

/** The feed bundle, how often it is checked for a newer one, and the trust root that verifies it. */
export interface FeedConfig {
  readonly source: FeedSource;
  readonly pullIntervalSeconds: number;
  readonly rootPath: string;
}

/** The ISP's policy: every rule narrows what the feed marks eligible ([P-6.4-1]). */
export interface PolicyConfig {
  readonly kevOnly: boolean;
  /** Quarantine only at or above this CVSS × 10 (0: any); the wire's `min_cvss` unit. */
  readonly minCvss10: number;
  readonly deny: readonly string[];
  readonly allow: readonly string[];
  readonly warnOnly: boolean;
  /** Source prefixes whose devices never get a FAIL from this collector (WARN instead). */
  readonly exempt: readonly IpPrefix[];
  readonly verdictLifetimeSeconds: {
    readonly fail: number;
    readonly pass: number;
    readonly warn: number;
    readonly unknown: number;
  };
}

/** Per-source-prefix token buckets ([P-3.5-1]). */
export interface RateLimitConfig {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number;
  /** Every Nth limited request of a prefix gets the 5.03 back-off answer; 0: never. */
  readonly slip: number;
  /** Max-Age of the 5.03 back-off answer. */
  readonly retryAfterSeconds: number;
  /** Most prefixes tracked at once. */
  readonly tableSize: number;
}

/** The optional, off-by-default store of (address, advisory, time) for customer notification. */
export interface NotifyConfig {
  readonly enabled: boolean;
  /** SQLite file; `null` only while disabled. */
  readonly databasePath: string | null;
  readonly retentionSeconds: number;
}

/** What the collector keeps about devices (docs/privacy.md). */
export interface PrivacyConfig {
  readonly notify: NotifyConfig;
}

/** The operator dashboard served on the metrics listener (docs/collector.md "Dashboard"). */
export interface DashboardConfig {
  /** Off by default: the listener then serves /metrics and /healthz only. */
  readonly enabled: boolean;
  /** How often the chart's history takes a point of the counters. */
  readonly sampleIntervalSeconds: number;
  /**
   * Host names (lower case) the dashboard answers to besides IP literals and `localhost`: the
   * Host header is checked against DNS rebinding (docs/collector.md "Dashboard").
   */
  readonly allowedHosts: readonly string[];
}

/** The operations listener: /metrics, /healthz and, when enabled, the dashboard. */
export interface MetricsConfig {
  readonly address: string;
  readonly port: number;
  readonly dashboard: DashboardConfig;
}

/** The optional SQLite store of hourly aggregate counts (docs/privacy.md), for the vendor report. */
export interface StatsConfig {
  /** SQLite file, absolute. */
  readonly databasePath: string;
  /** Hours older than this are deleted. */
  readonly retentionSeconds: number;
  /** How often the counts are written. */
  readonly flushIntervalSeconds: number;
}

/** The validated configuration of one collector; paths are absolute. */
export interface CollectorConfig {
  /** The config file, as given. */
  readonly file: string;
  readonly listen: readonly ListenConfig[];
  readonly feed: FeedConfig;
  readonly keyPath: string;
  readonly certificatePath: string;
  readonly operator: string;
  readonly policy: PolicyConfig;
  readonly rateLimit: RateLimitConfig;
  readonly privacy: PrivacyConfig;
  /** `null`: no metrics endpoint. */
  readonly metrics: MetricsConfig | null;
  /** `null`: no stats store (nothing persisted). */
  readonly stats: StatsConfig | null;
  readonly workers: number;
}

/** Defaults of every optional setting, in our units (docs/collector.md lists them as written). */
export const COLLECTOR_DEFAULTS = Object.freeze({
  /** [P-3-1]: CoAP's default port. */
  port: 5683,
  feed: Object.freeze({ pullIntervalSeconds: 15 * MINUTE }),
  policy: Object.freeze({
    kevOnly: false,
    minCvss10: 0,
    deny: Object.freeze([] as string[]),
    allow: Object.freeze([] as string[]),
    warnOnly: false,
    exempt: Object.freeze([] as IpPrefix[]),
    // The same numbers as policy.ts COLLECTOR_POLICY_DEFAULTS: an UNKNOWN is re-asked within the hour.
    verdictLifetimeSeconds: Object.freeze({ fail: 7 * DAY, pass: 1 * DAY, warn: 1 * DAY, unknown: 3600 }),
  }),
  // The same numbers as rate-limit.ts RATE_LIMIT_DEFAULTS (DNS RRL's defaults, argued there).
  rateLimit: Object.freeze({
    ratePerSecond: 10,
    burst: 20,
    ipv4PrefixLength: 24,
    ipv6PrefixLength: 56,
    slip: 2,
    retryAfterSeconds: 60,
    tableSize: 65_536,
  }),
  privacy: Object.freeze({
    notify: Object.freeze({ enabled: false, databasePath: null, retentionSeconds: 30 * DAY }),
  }),
  /** Metrics listen on loopback unless told otherwise; 9464 is the Prometheus exporter port. */
  metrics: Object.freeze({
    address: '127.0.0.1',
    port: 9464,
    dashboard: Object.freeze({ enabled: false, sampleIntervalSeconds: 10, allowedHosts: Object.freeze([]) }),
  }),
  /** A year and a month of hourly counts: this month against the same month last year. */
  stats: Object.freeze({ retentionSeconds: 400 * DAY, flushIntervalSeconds: MINUTE }),
  workers: 1,
});

/** A config file that cannot be used; `problems` lists every problem found, in file order. */
export class CollectorConfigError extends ConfigError {
  override readonly name: string = 'CollectorConfigError';
}

// ---- leaf values: each checks its own input and says what to write instead -----------------

const ipCheck = ipCheckWith(
  'the collector binds addresses, not host names: write the anycast address, e.g. 192.0.2.53 or 2001:db8::53',
);

function prefixCheck(input: unknown, fail: (message: string) => never): IpPrefix {
  if (typeof input !== 'string')
    return fail(
      `${describe(input)} is not a prefix — write ADDRESS/LENGTH, e.g. 10.0.0.0/8 or 2001:db8::/32`,
    );
  try {
    return parsePrefix(input.trim());
  } catch (err) {
    const reason =
      err instanceof RangeError
        ? err.message.replace(/^prefix "[^"]*": /, '')
        : 'not ADDRESS/LENGTH';
    const fix = reason.includes('host bits')
      ? 'clear the host bits, e.g. 10.1.0.0/16 not 10.1.2.3/16'
      : 'write ADDRESS/LENGTH, e.g. 10.0.0.0/8 or 2001:db8::/32';
    return fail(`${describe(input)} is not a prefix (${reason}) — ${fix}`);
  }
}

// Advisory ids as the feed writes them: CVE-2021-36260, GHSA-xxxx-xxxx-xxxx, vendor ids.
const ADVISORY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

function advisoryIdCheck(input: unknown, fail: (message: string) => never): string {
  const text = typeof input === 'number' ? String(input) : input;
  if (
    typeof text !== 'string' ||
    !ADVISORY_ID.test(text) ||
    Buffer.byteLength(text) > MAX_ADVISORY_ID_BYTES
  ) {
    return fail(
      `${describe(input)} is not an advisory id — write it as the feed does, e.g. CVE-2021-36260 or GHSA-9c47-m6qq-7p4h (at most ${MAX_ADVISORY_ID_BYTES} characters)`,
    );
  }
  if (/^cve-/i.test(text) && !text.startsWith('CVE-'))
    return fail(`${describe(input)}: CVE ids are upper case — write ${text.toUpperCase()}`);
  return text;
}

function cvssCheck(input: unknown, fail: (message: string) => never): number {
  // One decimal, as NVD publishes scores; stored ×10 as the wire's min_cvss (0..100).
  const tenths = typeof input === 'number' ? Math.round(input * 10) : NaN;
  if (
    typeof input !== 'number' ||
    input < 0 ||
    input > 10 ||
    Math.abs(tenths - input * 10) > 1e-9
  ) {
    return fail(
      `${describe(input)} is not a CVSS score — write 0..10 with at most one decimal, e.g. 9.0 (0: any score)`,
    );
  }
  return tenths;
}

const feedUrlCheck = urlCheck({
  protocols: ['http:', 'https:'],
  example: 'https://feed.example.net/tattler/bundle.cbor',
  credentialsFix: 'the bundle is signed and needs none',
});

// ---- sections ---------------------------------------------------------------------------------

const listenSchema = section(
  {
    address: requiredLeaf(ipCheck, 'address: 192.0.2.53'),
    port: leaf(
      integerCheck({ min: 0, max: 65_535, example: '5683 (0: an ephemeral port, for tests)' }),
    ),
  },
  '{address: 192.0.2.53, port: 5683}',
);

const feedSchema = section(
  {
    file: leaf(pathCheck('feed/bundle.cbor')),
    url: leaf(feedUrlCheck),
    pullInterval: leaf(durationCheck({ minSeconds: MINUTE, maxSeconds: DAY })),
    root: requiredLeaf(pathCheck('root.cbor'), 'root: root.cbor (the trusted root document)'),
  },
  'feed: {url: https://feed.example.net/tattler/bundle.cbor, root: root.cbor}',
).superRefine(
  (feed, ctx) => {
    if ((feed.file === undefined) === (feed.url === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: feed.file === undefined ? [] : ['url'],
        message:
          feed.file === undefined
            ? 'no feed source — add file: (a bundle on disk) or url: (pulled on pullInterval)'
            : 'file and url are both set — keep one: file for a bundle on disk, url to pull one',
      });
    }
  },
  whenValid('file', 'url'),
);

const lifetimeCheck = durationCheck({
  minSeconds: MINUTE,
  maxSeconds: MAX_VERDICT_LIFETIME_SECONDS,
});

const policySchema = section(
  {
    kevOnly: leaf(booleanCheck),
    minCvss: leaf(cvssCheck),
    deny: list(requiredLeaf(advisoryIdCheck, 'CVE-2021-36260'), {
      max: MAX_POLICY_ADVISORIES,
      example: '[CVE-2021-36260]',
    }).optional(),
    allow: list(requiredLeaf(advisoryIdCheck, 'CVE-2021-36260'), {
      max: MAX_POLICY_ADVISORIES,
      example: '[CVE-2021-36260]',
    }).optional(),
    warnOnly: leaf(booleanCheck),
    exempt: list(requiredLeaf(prefixCheck, '10.0.0.0/8'), {
      max: MAX_EXEMPT_PREFIXES,
      example: '[10.0.0.0/8, 2001:db8::/32]',
    }).optional(),
    verdictLifetime: section(
      {
        fail: leaf(lifetimeCheck),
        pass: leaf(lifetimeCheck),
        warn: leaf(lifetimeCheck),
        unknown: leaf(lifetimeCheck),
      },
      '{fail: 7d, pass: 1d, warn: 1d, unknown: 1h}',
    ).optional(),
  },
  '{kevOnly: true, minCvss: 9.0}',
).superRefine(
  (policy, ctx) => {
    const deny = new Set(policy.deny);
    (policy.allow ?? []).forEach((id, i) => {
      if (deny.has(id))
        ctx.addIssue({
          code: 'custom',
          path: ['allow', i],
          message: `${id} is also in deny (deny wins, so it can never quarantine) — remove it from one list`,
        });
    });
  },
  whenValid('deny', 'allow'),
);

const rateLimitSchema = section(
  {
    ratePerSecond: leaf((input, fail) => {
      if (typeof input !== 'number' || !(input > 0) || input > 1_000_000)
        return fail(
          `${describe(input)} is not a rate — write requests per second per prefix, more than 0 and at most 1000000, e.g. 10 (0.5: one every 2 s)`,
        );
      return input;
    }),
    burst: leaf(integerCheck({ min: 1, max: 1_000_000, example: '20' })),
    ipv4PrefixLength: leaf(integerCheck({ min: 8, max: 32, example: '24 (a customer NAT range)' })),
    ipv6PrefixLength: leaf(
      integerCheck({ min: 16, max: 128, example: '56 (a customer delegation)' }),
    ),
    slip: leaf(
      integerCheck({
        min: 0,
        max: 10,
        example: '2 (every 2nd limited request gets a back-off answer; 0: never)',
      }),
    ),
    retryAfter: leaf(durationCheck({ minSeconds: 1, maxSeconds: DAY })),
    tableSize: leaf(integerCheck({ min: 1_024, max: MAX_RATE_LIMIT_TABLE_SIZE, example: '65536' })),
  },
  '{ratePerSecond: 10, burst: 20}',
);

const notifySchema = section(
  {
    enabled: leaf(booleanCheck),
    database: leaf(pathCheck('/var/lib/tattler/notify.db')),
    retention: leaf(durationCheck({ minSeconds: DAY, maxSeconds: 90 * DAY })),
  },
  '{enabled: true, database: /var/lib/tattler/notify.db, retention: 30d}',
).superRefine(
  (notify, ctx) => {
    if (notify.enabled === true && notify.database === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['database'],
        message:
          'missing while enabled is true — add database: /var/lib/tattler/notify.db, or set enabled: false',
      });
    }
  },
  whenValid('enabled', 'database'),
);

const configSchema = section(
  {
    listen: z
      .array(listenSchema, {
        error: (issue) =>
          issue.input === undefined
            ? 'missing — add the anycast addresses, e.g. listen: [{address: 192.0.2.53}, {address: "2001:db8::53"}]'
            : `${describe(issue.input)} is not a list — write e.g. listen: [{address: 192.0.2.53}, {address: "2001:db8::53"}]`,
      })
      .min(1, { error: 'empty — add at least one address, e.g. [{address: 192.0.2.53}]' })
      .max(MAX_LISTEN_ADDRESSES, {
        error: (issue) =>
          `${Array.isArray(issue.input) ? issue.input.length : 'too many'} addresses, at most ${MAX_LISTEN_ADDRESSES} — shorten the list`,
      })
      .superRefine((listen, ctx) => {
        const seen = new Set<string>();
        listen.forEach((entry, i) => {
          const key = `[${entry.address.address}]:${String(entry.port ?? COLLECTOR_DEFAULTS.port)}`;
          if (seen.has(key))
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `${key} is listed twice — remove the duplicate`,
            });
          seen.add(key);
        });
      }),
    feed: feedSchema,
    key: requiredLeaf(
      pathCheck('collector.key'),
      'key: collector.key (written by "tattler keys generate")',
    ),
    certificate: requiredLeaf(
      pathCheck('collector.cert.cbor'),
      'certificate: collector.cert.cbor (written by "tattler registry issue")',
    ),
    operator: requiredLeaf(
      textCheck({ maxBytes: MAX_OPERATOR_BYTES, example: 'Example ISP' }),
      'operator: Example ISP',
    ),
    policy: policySchema.optional(),
    rateLimit: rateLimitSchema.optional(),
    privacy: section({ notify: notifySchema.optional() }, '{notify: {enabled: false}}').optional(),
    metrics: section(
      {
        address: leaf(ipCheck),
        port: leaf(integerCheck({ min: 0, max: 65_535, example: '9464' })),
        dashboard: section(
          {
            enabled: leaf(booleanCheck),
            sampleInterval: leaf(durationCheck({ minSeconds: 1, maxSeconds: 5 * MINUTE })),
            allowedHosts: list(requiredLeaf(hostNameCheck, 'collector.example.net'), {
              max: MAX_DASHBOARD_HOSTS,
              example: '[collector.example.net]',
            }).optional(),
          },
          '{enabled: true, sampleInterval: 10s}',
        ).optional(),
      },
      '{address: 127.0.0.1, port: 9464}',
    ).optional(),
    stats: section(
      {
        database: requiredLeaf(pathCheck('stats.db'), 'database: stats.db (a SQLite file)'),
        retention: leaf(durationCheck({ minSeconds: DAY, maxSeconds: 3650 * DAY })),
        flushInterval: leaf(durationCheck({ minSeconds: 1, maxSeconds: 3600 })),
      },
      '{database: stats.db, retention: 400d}',
    ).optional(),
    workers: leaf(integerCheck({ min: 1, max: 64, example: '1' })),
  },
  'listen: [...]',
);

type ParsedConfig = z.output<typeof configSchema>;

/** The policy document's fixed-size parts at their largest, to measure deny/allow against §6.4. */
const MEASURE_KEY = importPrivateKey(new Uint8Array(32));
const MAX_UINT32 = 0xffff_ffff;

/** Bytes of the signed policy this config produces; signature and kid have fixed sizes. */
function signedPolicyBytes(operator: string, policy: PolicyConfig): number {
  const document = { operator, issuedAt: MAX_UINT32, expiresAt: MAX_UINT32, ...policy };
  try {
    signPolicy(MEASURE_KEY, document);
    return 0;
  } catch (err) {
    if (isProtocolError(err) && err.code === 'TOO_LARGE')
      return Number(/(\d+) bytes/.exec(err.message)?.[1] ?? MAX_POLICY_BYTES + 1);
    throw err;
  }
}

function toConfig(parsed: ParsedConfig, file: string): CollectorConfig {
  const base = dirname(file);
  const at = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
  const d = COLLECTOR_DEFAULTS;
  const policy = parsed.policy;
  const rate = parsed.rateLimit;
  const notify = parsed.privacy?.notify;
  const feed = parsed.feed;
  const source: FeedSource =
    feed.url === undefined
      ? { kind: 'file', path: at(feed.file ?? '') }
      : { kind: 'url', url: feed.url };
  return {
    file,
    listen: parsed.listen.map((entry) => ({
      address: entry.address.address,
      family: entry.address.family,
      port: entry.port ?? d.port,
    })),
    feed: {
      source,
      pullIntervalSeconds: feed.pullInterval ?? d.feed.pullIntervalSeconds,
      rootPath: at(feed.root),
    },
    keyPath: at(parsed.key),
    certificatePath: at(parsed.certificate),
    operator: parsed.operator,
    policy: {
      kevOnly: policy?.kevOnly ?? d.policy.kevOnly,
      minCvss10: policy?.minCvss ?? d.policy.minCvss10,
      deny: policy?.deny ?? d.policy.deny,
      allow: policy?.allow ?? d.policy.allow,
      warnOnly: policy?.warnOnly ?? d.policy.warnOnly,
      exempt: policy?.exempt ?? d.policy.exempt,
      verdictLifetimeSeconds: {
        fail: policy?.verdictLifetime?.fail ?? d.policy.verdictLifetimeSeconds.fail,
        pass: policy?.verdictLifetime?.pass ?? d.policy.verdictLifetimeSeconds.pass,
        warn: policy?.verdictLifetime?.warn ?? d.policy.verdictLifetimeSeconds.warn,
        unknown: policy?.verdictLifetime?.unknown ?? d.policy.verdictLifetimeSeconds.unknown,
      },
    },
    rateLimit: {
      ratePerSecond: rate?.ratePerSecond ?? d.rateLimit.ratePerSecond,
      burst: rate?.burst ?? d.rateLimit.burst,
      ipv4PrefixLength: rate?.ipv4PrefixLength ?? d.rateLimit.ipv4PrefixLength,
      ipv6PrefixLength: rate?.ipv6PrefixLength ?? d.rateLimit.ipv6PrefixLength,
      slip: rate?.slip ?? d.rateLimit.slip,
      retryAfterSeconds: rate?.retryAfter ?? d.rateLimit.retryAfterSeconds,
      tableSize: rate?.tableSize ?? d.rateLimit.tableSize,
    },
    privacy: {
      notify: {
        enabled: notify?.enabled ?? d.privacy.notify.enabled,
        databasePath:
          notify?.database === undefined ? d.privacy.notify.databasePath : at(notify.database),
        retentionSeconds: notify?.retention ?? d.privacy.notify.retentionSeconds,
      },
    },
    metrics:
      parsed.metrics === undefined
        ? null
        : {
            address: parsed.metrics.address?.address ?? d.metrics.address,
            port: parsed.metrics.port ?? d.metrics.port,
            dashboard: {
              enabled: parsed.metrics.dashboard?.enabled ?? d.metrics.dashboard.enabled,
              sampleIntervalSeconds:
                parsed.metrics.dashboard?.sampleInterval ?? d.metrics.dashboard.sampleIntervalSeconds,
              allowedHosts: [...new Set(parsed.metrics.dashboard?.allowedHosts ?? d.metrics.dashboard.allowedHosts)],
            },
          },
    stats:
      parsed.stats === undefined
        ? null
        : {
            databasePath: at(parsed.stats.database),
            retentionSeconds: parsed.stats.retention ?? d.stats.retentionSeconds,
            flushIntervalSeconds: parsed.stats.flushInterval ?? d.stats.flushIntervalSeconds,
          },
    workers: parsed.workers ?? d.workers,
  };
}

/**
 * Parses and validates a collector config file's text; `file` names it in messages and anchors
 * relative paths. Throws {@link CollectorConfigError} listing every problem.
 */
export function parseCollectorConfig(text: string, file: string): CollectorConfig {
  let data: unknown;
  try {
    data = parseConfigYaml(text, file, {
      program: 'collector',
      example: 'examples/collector.yaml (docs/collector.md)',
    });
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CollectorConfigError(file, err.problems, { cause: err.cause });
    throw err;
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) throw new CollectorConfigError(file, problemsOf(result.error));
  const config = toConfig(result.data, file);
  const size = signedPolicyBytes(config.operator, config.policy);
  if (size > 0) {
    throw new CollectorConfigError(file, [
      {
        path: 'policy',
        message: `deny, allow and operator make a ${size}-byte signed policy document, at most ${MAX_POLICY_BYTES} (docs/protocol.md §6.4) — shorten deny or allow (a CVE id costs 5 bytes, another id its length + 1) or the operator name`,
      },
    ]);
  }
  return deepFreeze(config);
}

/** Reads and validates a collector config file (size checked before reading). */
export async function loadCollectorConfig(file: string): Promise<CollectorConfig> {
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CollectorConfigError(file, err.problems, { cause: err.cause });
    throw err;
  }
  return parseCollectorConfig(text, file);
}

/** A one-screen, readable summary of the effective configuration (no secrets: paths only). */
export function summarizeCollectorConfig(config: CollectorConfig): string {
  const p = config.policy;
  const r = config.rateLimit;
  const n = config.privacy.notify;
  const address = (l: { address: string; port: number }): string =>
    l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`;
  const narrowing = [
    p.kevOnly ? 'KEV only' : null,
    p.minCvss10 > 0 ? `CVSS ≥ ${(p.minCvss10 / 10).toFixed(1)}` : null,
    p.allow.length > 0 ? `only ${p.allow.join(', ')}` : null,
    p.deny.length > 0 ? `never ${p.deny.join(', ')}` : null,
  ].filter((x) => x !== null);
  const source =
    config.feed.source.kind === 'file'
      ? `file ${config.feed.source.path}`
      : `url ${config.feed.source.url}`;
  const rows: [string, string][] = [
    ['config', config.file],
    ['listen', config.listen.map((l) => `${address(l)} (IPv${l.family})`).join(', ')],
    ['feed', `${source}, checked every ${formatDuration(config.feed.pullIntervalSeconds)}`],
    ['trust root', config.feed.rootPath],
    ['key', config.keyPath],
    ['certificate', config.certificatePath],
    ['operator', config.operator],
    [
      'policy',
      p.warnOnly
        ? 'warn only: no FAIL is ever signed (WARN instead)'
        : `FAIL for eligible advisories${narrowing.length === 0 ? '' : `: ${narrowing.join('; ')}`}`,
    ],
    ['exempt', p.exempt.length === 0 ? 'none' : p.exempt.map(formatPrefix).join(', ')],
    [
      'verdicts',
      `FAIL valid ${formatDuration(p.verdictLifetimeSeconds.fail)}, PASS ${formatDuration(p.verdictLifetimeSeconds.pass)}, ` +
        `WARN ${formatDuration(p.verdictLifetimeSeconds.warn)}, UNKNOWN ${formatDuration(p.verdictLifetimeSeconds.unknown)}`,
    ],
    [
      'rate limit',
      `${r.ratePerSecond}/s, burst ${r.burst}, per /${r.ipv4PrefixLength} (IPv4) and /${r.ipv6PrefixLength} (IPv6); ` +
        `${r.slip === 0 ? 'no back-off answers' : `every ${r.slip === 1 ? '' : ordinal(r.slip) + ' '}limited request gets a back-off (retry after ${formatDuration(r.retryAfterSeconds)})`}; table ${r.tableSize} prefixes`,
    ],
    [
      'privacy',
      n.enabled
        ? `notify store ON: ${n.databasePath ?? '?'}, rows kept ${formatDuration(n.retentionSeconds)}`
        : 'nothing stored per device (notify store off)',
    ],
    [
      'metrics',
      config.metrics === null
        ? 'off'
        : `${address(config.metrics)}; dashboard ${
            config.metrics.dashboard.enabled
              ? `on at /dashboard, a chart point every ${formatDuration(config.metrics.dashboard.sampleIntervalSeconds)}`
              : 'off'
          }`,
    ],
    [
      'stats',
      config.stats === null
        ? 'off (no counts persisted)'
        : `hourly aggregate counts in ${config.stats.databasePath}, written every ${formatDuration(config.stats.flushIntervalSeconds)}, kept ${formatDuration(config.stats.retentionSeconds)}`,
    ],
    ['workers', String(config.workers)],
  ];
  return rows.map(([name, value]) => `${name.padEnd(12)}${value}\n`).join('');
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 2 && n !== 12
      ? 'nd'
      : n % 10 === 3 && n !== 13
        ? 'rd'
        : n % 10 === 1 && n !== 11
          ? 'st'
          : 'th';
  return `${n}${suffix}`;
}
