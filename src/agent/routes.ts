/**
 * Quarantine by policy routing (iproute2): plans, applies and lifts the `ip rule`s and the
 * quarantine table that leave a device only its links, the collector, its DNS resolvers and its
 * vendor's update hosts. Planning is pure; only {@link createIpExec} runs `ip`.
 * @module
 */
import { execFile } from 'node:child_process';
import { BlockList, SocketAddress, isIP } from 'node:net';
import { z } from 'zod';

/** An address family as iproute2 spells it (`ip -4`, `ip -6`). */
export type Family = 4 | 6;

/** The arguments of one `ip` invocation, without the program name. */
export type Command = readonly string[];

/** Runs `ip` with `args` and resolves with its standard output; rejects when `ip` fails. */
export type IpExec = ((args: Command) => Promise<string>) & {
  /**
   * Optional: runs several commands in one `ip [...global] -batch -` process and returns its
   * output (one line per `show`). One process instead of one per command: spawning `ip` costs
   * 2–30 ms here, and an apply is ~20 commands (bench: announce → enforcement).
   */
  readonly batch?: (global: readonly string[], lines: readonly Command[]) => Promise<string>;
};

/** Every reason this module refuses; callers switch on these codes (docs/errors.md). */
export const ROUTES_ERROR_CODES = [
  'MALFORMED_OUTPUT',
  'BAD_ADDRESS',
  'TOO_MANY_HOSTS',
  'TABLE_IN_USE',
  'COMMAND_FAILED',
  'VERIFY_FAILED',
] as const;

/** A code from {@link ROUTES_ERROR_CODES}. */
export type RoutesErrorCode = (typeof ROUTES_ERROR_CODES)[number];

/**
 * Quarantine routing was refused or failed. `MALFORMED_OUTPUT`: `ip -json` printed something we
 * do not understand; `BAD_ADDRESS`/`TOO_MANY_HOSTS`: the allow-list; `TABLE_IN_USE`: another owner
 * has routes in the quarantine table; `COMMAND_FAILED`: `ip` failed; `VERIFY_FAILED`: the state
 * read back after running the plan is not the planned one.
 */
export class RoutesError extends Error {
  override readonly name = 'RoutesError';
  readonly code: RoutesErrorCode;
  constructor(code: RoutesErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

// Kernel numbers, as `ip -N` prints them (linux/rtnetlink.h, linux/fib_rules.h).
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_TABLE_MAIN = 254;
const FR_ACT_UNREACHABLE = 7;
const RULE_ACTION_NAMES: ReadonlyMap<number, string> = new Map([
  [6, 'blackhole'],
  [7, 'unreachable'],
  [8, 'prohibit'],
]);
// A link route wider than these is no LAN but a catch-all through a tunnel (OpenVPN's
// `0.0.0.0/1 dev tun0`): copying it would undo the quarantine.
const MIN_ON_LINK_PREFIX_LENGTH = { 4: 8, 6: 16 } as const;
// The kernel picks 1024 for an IPv6 route added without a metric (IP6_RT_PRIO_USER); we say it
// explicitly so the route we read back compares equal to the one we planned.
const IPV6_DEFAULT_METRIC = 1024;

/** One next hop of a multipath route. */
export interface Nexthop {
  readonly gateway?: string;
  readonly dev?: string;
}

/** One route as read from `ip -N -d -json route show table all`, numbers kept numeric. */
export interface Route {
  readonly family: Family;
  /** Route type: 1 unicast, 2 local, 3 broadcast, 7 unreachable, … (RTN_*). */
  readonly type: number;
  /** `default`, or a prefix with its length (host routes get `/32` or `/128`). */
  readonly dst: string;
  readonly gateway?: string;
  /** The gateway's family when it differs from the route's (IPv4 via IPv6, RFC 5549). */
  readonly gatewayFamily?: Family;
  readonly dev?: string;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  /** IPv4 routes without a metric have metric 0. */
  readonly metric: number;
  readonly prefsrc?: string;
  readonly nexthops: readonly Nexthop[];
}

/** One policy-routing rule as read from `ip -N -d -json rule show`. */
export interface Rule {
  readonly family: Family;
  readonly priority: number;
  /** `all`, or a prefix with its length. */
  readonly src: string;
  /** The table of a `lookup` rule. */
  readonly table?: number;
  /** FR_ACT_* of a rule that is not a lookup: 6 blackhole, 7 unreachable, 8 prohibit, … */
  readonly action?: number;
  /** 0 when the rule was added without one. */
  readonly protocol: number;
}

/** Every route and rule of the families read. */
export interface RoutingSnapshot {
  readonly routes: readonly Route[];
  readonly rules: readonly Rule[];
}

/** The addresses a quarantined device may still reach (IP literals, already resolved). */
export interface AllowList {
  readonly collectors: readonly string[];
  readonly resolvers: readonly string[];
  readonly remediationHosts: readonly string[];
}

/** Where quarantine lives and how it marks what it creates. */
export interface QuarantineOptions {
  /** The quarantine routing table id. */
  readonly table: number;
  /** Priority of `lookup <table>`; must come before every rule that could reach a default route. */
  readonly lookupPriority: number;
  /** Priority of the catch-all `unreachable` rule, just after the lookup. */
  readonly unreachablePriority: number;
  /** The route and rule `protocol` that marks what we created (and only that). */
  readonly protocol: number;
  /** Most allowed addresses per family; more is refused (`TOO_MANY_HOSTS`). */
  readonly maxHostRoutesPerFamily: number;
  readonly families: readonly Family[];
}

/** The defaults of {@link QuarantineOptions}. */
export const DEFAULTS: QuarantineOptions = Object.freeze({
  table: 4750,
  lookupPriority: 90,
  unreachablePriority: 91,
  // 0xa7 = 167: above the kernel's own values (< 4, RTPROT_STATIC) and absent from iproute2's
  // rt_protos, where 186-192 and the low numbers are taken by routing daemons.
  protocol: 0xa7,
  // A feed record names at most a few remediation hosts, plus collectors and resolvers: 64
  // host routes per family is generous and keeps `ip` runs and the table small.
  maxHostRoutesPerFamily: 64,
  families: Object.freeze([4, 6] as const),
});

/** The default route the quarantine table sends allowed hosts through. */
export interface Gateway {
  /** Absent for a point-to-point link (`default dev ppp0`). */
  readonly address?: string;
  readonly addressFamily?: Family;
  readonly dev: string;
}

/** What a quarantine plan does for one family. */
export interface FamilyPlan {
  readonly family: Family;
  /** The main table's default route at planning time; `undefined`: no gateway. */
  readonly gateway: Gateway | undefined;
  /** On-link routes copied from the main table. */
  readonly onLinkRoutes: number;
  /** Allowed addresses that get a host route via the gateway. */
  readonly routedHosts: readonly string[];
  /** Allowed addresses already on a link (no host route needed). */
  readonly onLinkHosts: readonly string[];
  /** Allowed addresses that stay unreachable because there is no default route to copy. */
  readonly unroutableHosts: readonly string[];
}

/** The commands that take a snapshot to quarantine, and what they amount to per family. */
export interface QuarantinePlan {
  readonly commands: readonly Command[];
  readonly families: readonly FamilyPlan[];
}

/** What {@link applyQuarantine} did. */
export interface ApplyResult extends QuarantinePlan {
  /** False when the state was already the planned one (nothing ran). */
  readonly changed: boolean;
}

/** What {@link liftQuarantine} did. */
export interface LiftResult {
  readonly commands: readonly Command[];
  readonly changed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Parsing `ip -N -d -json` (external input: validated here, trusted after).

const MAX_DEV_NAME_CHARS = 15; // IFNAMSIZ 16 − the NUL
const numeric = z
  .string()
  .regex(/^\d{1,10}$/, 'expected digits (ip -N)')
  .transform(Number);
const devName = z.string().min(1).max(MAX_DEV_NAME_CHARS);
const address = z.string().refine((value) => isIP(value) !== 0, 'expected an IP address');

const routeJson = z.object({
  type: numeric,
  dst: z.string().min(1).max(64),
  gateway: address.optional(),
  via: z.object({ family: z.enum(['inet', 'inet6']), host: address }).optional(),
  dev: devName.optional(),
  table: numeric,
  protocol: numeric,
  scope: numeric,
  metric: z.number().int().nonnegative().optional(),
  prefsrc: address.optional(),
  nexthops: z
    .array(z.object({ gateway: address.optional(), dev: devName.optional() }))
    .max(256)
    .optional(),
});

const ruleJson = z.object({
  priority: z.number().int().nonnegative(),
  src: z.string().min(1).max(64),
  srclen: z.number().int().nonnegative().max(128).optional(),
  table: numeric.optional(),
  action: numeric.optional(),
  protocol: numeric,
});

function familyName(family: Family): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function maxPrefixLength(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** `default`, or `address/length` with a canonical address; `undefined` when malformed. */
function normalizePrefix(text: string, family: Family): string | undefined {
  if (text === 'default') return text;
  const slash = text.indexOf('/');
  const host = slash === -1 ? text : text.slice(0, slash);
  const lengthText = slash === -1 ? String(maxPrefixLength(family)) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return undefined;
  const length = Number(lengthText);
  const canonical = canonicalAddress(host, family);
  if (canonical === undefined || length > maxPrefixLength(family)) return undefined;
  return `${canonical}/${length}`;
}

/** The canonical spelling of an IP literal of `family`, or `undefined`. */
function canonicalAddress(text: string, family: Family): string | undefined {
  if (isIP(text) !== family || text.includes('%')) return undefined;
  return new SocketAddress({ address: text, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
}

function parseJsonArray(text: string, what: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RoutesError('MALFORMED_OUTPUT', `${what}: not JSON`, { cause: error });
  }
  if (!Array.isArray(value)) {
    throw new RoutesError('MALFORMED_OUTPUT', `${what}: expected a JSON array`);
  }
  return value;
}

function describeIssue(what: string, index: number, error: z.ZodError): RoutesError {
  const issue = error.issues[0];
  const path = [index, ...(issue?.path ?? [])].map(String).join('.');
  return new RoutesError('MALFORMED_OUTPUT', `${what}[${path}]: ${issue?.message ?? 'invalid'}`);
}

/**
 * Parses the output of `ip -N -d -json -<family> route show table all`.
 * @example parseRoutes('[{"type":"1","dst":"default","gateway":"192.0.2.1","dev":"eth0",…}]', 4)
 */
export function parseRoutes(text: string, family: Family): Route[] {
  const what = `ip -${family} route`;
  // iproute2 prints nothing at all, rather than `[]`, for some empty dumps.
  if (text.trim() === '') return [];
  return parseJsonArray(text, what).map((item, index) => {
    const parsed = routeJson.safeParse(item);
    if (!parsed.success) throw describeIssue(what, index, parsed.error);
    const json = parsed.data;
    const dst = normalizePrefix(json.dst, family);
    if (dst === undefined) {
      throw new RoutesError(
        'MALFORMED_OUTPUT',
        `${what}[${index}].dst: got ${JSON.stringify(json.dst)}`,
      );
    }
    const gateway = json.gateway ?? json.via?.host;
    const gatewayFamily: Family | undefined =
      gateway === undefined ? undefined : isIP(gateway) === 4 ? 4 : 6;
    return {
      family,
      type: json.type,
      dst,
      ...(gateway === undefined ? {} : { gateway }),
      ...(gatewayFamily === undefined || gatewayFamily === family ? {} : { gatewayFamily }),
      ...(json.dev === undefined ? {} : { dev: json.dev }),
      table: json.table,
      protocol: json.protocol,
      scope: json.scope,
      metric: json.metric ?? 0,
      ...(json.prefsrc === undefined ? {} : { prefsrc: json.prefsrc }),
      nexthops: (json.nexthops ?? []).map((hop) => ({
        ...(hop.gateway === undefined ? {} : { gateway: hop.gateway }),
        ...(hop.dev === undefined ? {} : { dev: hop.dev }),
      })),
    };
  });
}

/**
 * Parses the output of `ip -N -d -json -<family> rule show`.
 * @example parseRules('[{"priority":0,"src":"all","table":"255","protocol":"2"}]', 4)
 */
export function parseRules(text: string, family: Family): Rule[] {
  const what = `ip -${family} rule`;
  return parseJsonArray(text, what).map((item, index) => {
    const parsed = ruleJson.safeParse(item);
    if (!parsed.success) throw describeIssue(what, index, parsed.error);
    const json = parsed.data;
    const src =
      json.src === 'all'
        ? 'all'
        : normalizePrefix(`${json.src}/${json.srclen ?? maxPrefixLength(family)}`, family);
    if (src === undefined) {
      throw new RoutesError(
        'MALFORMED_OUTPUT',
        `${what}[${index}].src: got ${JSON.stringify(json.src)}`,
      );
    }
    if (json.table === undefined && json.action === undefined) {
      throw new RoutesError('MALFORMED_OUTPUT', `${what}[${index}]: neither "table" nor "action"`);
    }
    return {
      family,
      priority: json.priority,
      src,
      ...(json.table === undefined ? {} : { table: json.table }),
      ...(json.action === undefined ? {} : { action: json.action }),
      protocol: json.protocol,
    };
  });
}

/** The `ip` arguments that print the routes of `family`, as {@link parseRoutes} reads them. */
export function showRoutesCommand(family: Family): Command {
  // -N: numbers instead of names, so an operator's rt_tables/rt_protos entry (say "4750
  // quarantine") cannot change what we parse; -d: type, table, scope and protocol always printed.
  return ['-N', '-d', '-json', `-${family}`, 'route', 'show', 'table', 'all'];
}

/** The `ip` arguments that print the rules of `family`, as {@link parseRules} reads them. */
export function showRulesCommand(family: Family): Command {
  return ['-N', '-d', '-json', `-${family}`, 'rule', 'show'];
}

/**
 * Reads every route and rule of `families` through `exec`.
 * @example const snapshot = await readSnapshot(createIpExec(), { families: [4, 6] });
 */
export async function readSnapshot(
  exec: IpExec,
  options: { readonly families?: readonly Family[] } = {},
): Promise<RoutingSnapshot> {
  const routes: Route[] = [];
  const rules: Rule[] = [];
  for (const family of options.families ?? DEFAULTS.families) {
    if (exec.batch === undefined) {
      routes.push(...parseRoutes(await exec(showRoutesCommand(family)), family));
      rules.push(...parseRules(await exec(showRulesCommand(family)), family));
      continue;
    }
    // One process per family: `ip -json -batch` prints each show's array on a line of its own.
    const [routesGlobal, routesLine] = splitGlobal(showRoutesCommand(family));
    const [, rulesLine] = splitGlobal(showRulesCommand(family));
    const lines = (await exec.batch(routesGlobal, [routesLine, rulesLine])).split('\n').filter((l) => l.trim() !== '');
    if (lines.length !== 2) {
      throw new RoutesError('MALFORMED_OUTPUT', `ip -batch: expected 2 lines of JSON (routes, rules), got ${lines.length}`);
    }
    routes.push(...parseRoutes(lines[0] ?? '', family));
    rules.push(...parseRules(lines[1] ?? '', family));
  }
  return { routes, rules };
}

/** `['-N', '-d', '-json', '-4', 'route', 'show']` → global options and the command line. */
function splitGlobal(command: Command): [string[], string[]] {
  const first = command.findIndex((arg) => !arg.startsWith('-'));
  return first === -1 ? [[...command], []] : [command.slice(0, first), command.slice(first)];
}

// ---------------------------------------------------------------------------------------------
// Planning (pure).

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: expected an integer in ${min}..${max}, got ${value}`);
  }
}

/** {@link DEFAULTS} overridden by `options`, checked. Throws `RangeError` on nonsense. */
export function resolveOptions(options: Partial<QuarantineOptions> = {}): QuarantineOptions {
  const resolved = { ...DEFAULTS, ...options };
  // 0 and 252-255 are unspec, compat, default, main and local (rt_tables).
  assertInteger('table', resolved.table, 1, 0xffff_ffff);
  if (resolved.table >= 252 && resolved.table <= 255) {
    throw new RangeError(`table: ${resolved.table} is reserved by the kernel`);
  }
  // Below 32766 (main) and above 0 (local), or the rules would not come first / at all.
  assertInteger('lookupPriority', resolved.lookupPriority, 1, 32_765);
  assertInteger('unreachablePriority', resolved.unreachablePriority, 1, 32_765);
  if (resolved.unreachablePriority <= resolved.lookupPriority) {
    throw new RangeError('unreachablePriority: must come after lookupPriority');
  }
  // Values below RTPROT_STATIC (4) are the kernel's own.
  assertInteger('protocol', resolved.protocol, 5, 255);
  assertInteger('maxHostRoutesPerFamily', resolved.maxHostRoutesPerFamily, 0, 4096);
  if (resolved.families.length === 0) throw new RangeError('families: expected 4, 6 or both');
  return resolved;
}

/** A route we want in the quarantine table. */
interface DesiredRoute {
  readonly family: Family;
  readonly table: number;
  readonly dst: string;
  readonly gateway?: string;
  readonly gatewayFamily?: Family;
  readonly dev: string;
  readonly scope: number;
  readonly metric: number;
  readonly prefsrc?: string;
}

/** A rule we want. */
interface DesiredRule {
  readonly family: Family;
  readonly priority: number;
  readonly table?: number;
  readonly action?: number;
}

function routeKey(route: Route | DesiredRoute): string {
  const hops = 'nexthops' in route && route.nexthops.length > 0 ? 'multipath' : '';
  return [route.dst, route.gateway, route.dev, route.scope, route.metric, route.prefsrc, hops]
    .map((part) => String(part ?? ''))
    .join('|');
}

function ruleKey(rule: Rule | DesiredRule): string {
  const src = 'src' in rule ? rule.src : 'all';
  return [rule.priority, src, rule.table, rule.action].map((part) => String(part ?? '')).join('|');
}

/** Allowed addresses by family, canonical and deduplicated; refuses junk and too many. */
function splitAllowList(allow: AllowList, options: QuarantineOptions): Map<Family, string[]> {
  const byFamily = new Map<Family, string[]>([
    [4, []],
    [6, []],
  ]);
  const lists = [
    ['collectors', allow.collectors],
    ['resolvers', allow.resolvers],
    ['remediationHosts', allow.remediationHosts],
  ] as const;
  for (const [name, list] of lists) {
    for (const text of list) {
      const family = isIP(text);
      const canonical = family === 4 || family === 6 ? canonicalAddress(text, family) : undefined;
      if (canonical === undefined || (family !== 4 && family !== 6)) {
        throw new RoutesError(
          'BAD_ADDRESS',
          `allow list ${name}: expected an IP address without zone, got ${JSON.stringify(text)}`,
        );
      }
      const addresses = byFamily.get(family) ?? [];
      if (!addresses.includes(canonical)) addresses.push(canonical);
      byFamily.set(family, addresses);
    }
  }
  for (const [family, addresses] of byFamily) {
    if (addresses.length > options.maxHostRoutesPerFamily) {
      throw new RoutesError(
        'TOO_MANY_HOSTS',
        `allow list: ${addresses.length} ${familyName(family)} addresses, at most ${options.maxHostRoutesPerFamily}`,
      );
    }
  }
  return byFamily;
}

function isOurs(item: Route | Rule, options: QuarantineOptions): boolean {
  return item.protocol === options.protocol;
}

/** The main table's preferred default route of `family` (lowest metric), if any. */
function findGateway(snapshot: RoutingSnapshot, family: Family, options: QuarantineOptions) {
  let best: Route | undefined;
  for (const route of snapshot.routes) {
    if (
      route.family === family &&
      route.table === RT_TABLE_MAIN &&
      route.type === RTN_UNICAST &&
      route.dst === 'default' &&
      !isOurs(route, options) &&
      (best === undefined || route.metric < best.metric)
    ) {
      best = route;
    }
  }
  if (best === undefined) return undefined;
  // A multipath default: the first hop is enough to reach a handful of hosts.
  const hop = best.nexthops[0] ?? best;
  if (hop.dev === undefined) return undefined;
  const address = hop.gateway;
  const addressFamily: Family | undefined =
    address === undefined ? undefined : isIP(address) === 4 ? 4 : 6;
  const gateway: Gateway = {
    dev: hop.dev,
    ...(address === undefined ? {} : { address }),
    ...(addressFamily === undefined ? {} : { addressFamily }),
  };
  return gateway;
}

/** The main table's on-link routes of `family`, as routes for the quarantine table. */
function onLinkRoutes(snapshot: RoutingSnapshot, family: Family, options: QuarantineOptions) {
  const routes: DesiredRoute[] = [];
  for (const route of snapshot.routes) {
    if (
      route.family === family &&
      route.table === RT_TABLE_MAIN &&
      route.type === RTN_UNICAST &&
      route.dst !== 'default' &&
      route.gateway === undefined &&
      route.nexthops.length === 0 &&
      route.dev !== undefined &&
      route.dev !== 'lo' &&
      // IPv6 prints every route with scope universe; on-link there means "no gateway".
      (family === 6 || route.scope === RT_SCOPE_LINK) &&
      prefixParts(route.dst)[1] >= MIN_ON_LINK_PREFIX_LENGTH[family] &&
      !isOurs(route, options)
    ) {
      routes.push({
        family,
        table: options.table,
        dst: route.dst,
        dev: route.dev,
        scope: route.scope,
        metric: route.metric,
        ...(route.prefsrc === undefined ? {} : { prefsrc: route.prefsrc }),
      });
    }
  }
  return routes;
}

function prefixParts(prefix: string): [string, number] {
  const [host = '', length = '0'] = prefix.split('/');
  return [host, Number(length)];
}

function plannedRoutes(
  snapshot: RoutingSnapshot,
  plan: {
    readonly family: Family;
    readonly allowed: readonly string[];
    readonly options: QuarantineOptions;
  },
): { routes: DesiredRoute[]; summary: FamilyPlan } {
  const { family, allowed, options } = plan;
  const gateway = findGateway(snapshot, family, options);
  const links = onLinkRoutes(snapshot, family, options);
  const onLink = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const route of links) {
    const [host, length] = prefixParts(route.dst);
    onLink.addSubnet(host, length, type);
  }
  const hostRoutes: DesiredRoute[] = [];
  const onLinkHosts: string[] = [];
  const unroutableHosts: string[] = [];
  for (const host of allowed) {
    if (onLink.check(host, type)) {
      onLinkHosts.push(host);
    } else if (gateway === undefined) {
      unroutableHosts.push(host);
    } else {
      hostRoutes.push({
        family,
        table: options.table,
        dst: `${host}/${maxPrefixLength(family)}`,
        dev: gateway.dev,
        ...(gateway.address === undefined ? {} : { gateway: gateway.address }),
        ...(gateway.addressFamily === undefined || gateway.addressFamily === family
          ? {}
          : { gatewayFamily: gateway.addressFamily }),
        // IPv4: a route through a gateway has scope universe, a point-to-point one scope link.
        scope: family === 4 && gateway.address === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
        metric: family === 4 ? 0 : IPV6_DEFAULT_METRIC,
      });
    }
  }
  return {
    // On-link routes first: the kernel checks a gateway against the routes of the same table.
    routes: [...links, ...hostRoutes],
    summary: {
      family,
      gateway,
      onLinkRoutes: links.length,
      routedHosts: hostRoutes.map((route) => prefixParts(route.dst)[0]),
      onLinkHosts,
      unroutableHosts,
    },
  };
}

function routeCommand(
  verb: 'add' | 'del',
  route: DesiredRoute | Route,
  options: { readonly protocol: number },
): Command {
  const via =
    route.gateway === undefined
      ? []
      : route.gatewayFamily === 6
        ? ['via', 'inet6', route.gateway]
        : ['via', route.gateway];
  const exact =
    verb === 'add'
      ? [
          ...(route.family === 4 ? ['scope', String(route.scope)] : []),
          ...(route.prefsrc === undefined ? [] : ['src', route.prefsrc]),
          'metric',
          String(route.metric),
        ]
      : [];
  // IPv6 refuses a second route to the same prefix and metric on another device with `add`
  // (EEXIST: two links each with fe80::/64, eth0 and wlan0); `append` adds it beside the first.
  // The planner only adds routes that are missing, so `append` never duplicates one.
  const ipVerb = verb === 'add' && route.family === 6 ? 'append' : verb;
  return [
    `-${route.family}`,
    'route',
    ipVerb,
    route.dst,
    ...via,
    ...(route.dev === undefined ? [] : ['dev', route.dev]),
    ...exact,
    'table',
    String(route.table),
    'proto',
    String(options.protocol),
  ];
}

function ruleCommand(
  verb: 'add' | 'del',
  rule: DesiredRule | Rule,
  options: { readonly protocol: number },
): Command {
  const action = rule.action === undefined ? undefined : RULE_ACTION_NAMES.get(rule.action);
  const src = 'src' in rule && rule.src !== 'all' ? ['from', rule.src] : [];
  return [
    `-${rule.family}`,
    'rule',
    verb,
    'priority',
    String(rule.priority),
    ...src,
    ...(rule.table === undefined ? [] : ['lookup', String(rule.table)]),
    ...(action === undefined ? [] : [action]),
    'protocol',
    String(options.protocol),
  ];
}

/** Deletes of our routes: through a gateway first, the on-link ones they depend on last. */
function deleteRoutes(routes: readonly Route[], options: QuarantineOptions): Command[] {
  const ordered = [
    ...routes.filter((route) => route.gateway !== undefined || route.nexthops.length > 0),
    ...routes.filter((route) => route.gateway === undefined && route.nexthops.length === 0),
  ];
  return ordered.map((route) => routeCommand('del', route, options));
}

/** Deletes of our rules: the catch-all first, so traffic is never blocked by half a lift. */
function deleteRules(rules: readonly Rule[], options: QuarantineOptions): Command[] {
  return [...rules]
    .sort((a, b) => b.priority - a.priority)
    .map((rule) => ruleCommand('del', rule, options));
}

/**
 * The `ip` commands that take `current` to quarantine for `allow`: only on-link routes and host
 * routes to the allowed addresses in the quarantine table, a `lookup` rule for it and a catch-all
 * `unreachable` rule after it. Only routes and rules marked with our protocol are ever deleted;
 * what is already right is left alone, so planning on the applied state yields no commands.
 * @example const { commands } = planQuarantine(snapshot, { collectors: ['192.0.2.53'], resolvers: [], remediationHosts: [] });
 */
export function planQuarantine(
  current: RoutingSnapshot,
  allow: AllowList,
  options: Partial<QuarantineOptions> = {},
): QuarantinePlan {
  const resolved = resolveOptions(options);
  const allowed = splitAllowList(allow, resolved);
  const commands: Command[] = [];
  const families: FamilyPlan[] = [];
  for (const family of resolved.families) {
    const foreign = current.routes.find(
      (route) =>
        route.family === family && route.table === resolved.table && !isOurs(route, resolved),
    );
    if (foreign !== undefined) {
      throw new RoutesError(
        'TABLE_IN_USE',
        `table ${resolved.table}: holds ${familyName(family)} route ${foreign.dst} of protocol ${foreign.protocol}, not ours (${resolved.protocol})`,
      );
    }
    const { routes, summary } = plannedRoutes(current, {
      family,
      allowed: allowed.get(family) ?? [],
      options: resolved,
    });
    families.push(summary);
    const ourRoutes = current.routes.filter(
      (route) => route.family === family && isOurs(route, resolved),
    );
    const wantedRoutes = new Set(routes.map(routeKey));
    const haveRoutes = new Set(
      ourRoutes.filter((route) => route.table === resolved.table).map(routeKey),
    );
    // Stale routes go first: IPv4 refuses a second route to the same prefix and metric.
    commands.push(
      ...deleteRoutes(
        ourRoutes.filter(
          (route) => route.table !== resolved.table || !wantedRoutes.has(routeKey(route)),
        ),
        resolved,
      ),
    );
    for (const route of routes) {
      if (!haveRoutes.has(routeKey(route))) {
        commands.push(routeCommand('add', route, resolved));
      }
    }
    const rules: DesiredRule[] = [
      { family, priority: resolved.lookupPriority, table: resolved.table },
      { family, priority: resolved.unreachablePriority, action: FR_ACT_UNREACHABLE },
    ];
    const ourRules = current.rules.filter(
      (rule) => rule.family === family && isOurs(rule, resolved),
    );
    const wantedRules = new Set(rules.map(ruleKey));
    const haveRules = new Set(ourRules.map(ruleKey));
    // New rules before stale ones go: the device is never without a catch-all meanwhile.
    for (const rule of rules) {
      if (!haveRules.has(ruleKey(rule))) commands.push(ruleCommand('add', rule, resolved));
    }
    commands.push(
      ...deleteRules(
        ourRules.filter((rule) => !wantedRules.has(ruleKey(rule))),
        resolved,
      ),
    );
  }
  return { commands, families };
}

/**
 * The `ip` commands that remove every rule and route marked with our protocol, rules first, and
 * nothing else: after them the routing state is the one before quarantine.
 * @example const commands = planLift(await readSnapshot(exec));
 */
export function planLift(
  current: RoutingSnapshot,
  options: Partial<QuarantineOptions> = {},
): Command[] {
  const resolved = resolveOptions(options);
  const commands: Command[] = [];
  for (const family of resolved.families) {
    commands.push(
      ...deleteRules(
        current.rules.filter((rule) => rule.family === family && isOurs(rule, resolved)),
        resolved,
      ),
    );
  }
  for (const family of resolved.families) {
    commands.push(
      ...deleteRoutes(
        current.routes.filter((route) => route.family === family && isOurs(route, resolved)),
        resolved,
      ),
    );
  }
  return commands;
}

// ---------------------------------------------------------------------------------------------
// Resolving the allow-list (before the rules go in; again when the shortest TTL runs out).

/** DNS with TTLs, as `node:dns/promises` `Resolver` offers it (injected, so tests need no DNS). */
export interface AddressResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
}

/** Options of {@link resolveAllowList}. */
export interface ResolveAllowListOptions {
  readonly resolver: AddressResolver;
  /** Addresses kept per name and family, in the order DNS gave them. */
  readonly maxAddressesPerName?: number;
  /** Bounds of `refreshAfterMs`, whatever the TTLs say. */
  readonly minRefreshMs?: number;
  readonly maxRefreshMs?: number;
}

/** The defaults of {@link ResolveAllowListOptions}. */
export const RESOLVE_DEFAULTS = Object.freeze({
  // A CDN answers with 2-8 addresses; 4 per family is enough to reach one of them and keeps
  // 3 lists × a few names far below maxHostRoutesPerFamily.
  maxAddressesPerName: 4,
  // TTLs of 0-30 s (CDNs) would make the agent rewrite routes every few seconds.
  minRefreshMs: 60_000,
  maxRefreshMs: 3_600_000,
});

/** An allow-list with names resolved, and when to resolve (and apply) again. */
export interface ResolvedAllowList {
  readonly allow: AllowList;
  /** The shortest TTL seen, bounded; the minimum when something did not resolve. */
  readonly refreshAfterMs: number;
  /** Names with no address in either family. */
  readonly unresolved: readonly string[];
}

/**
 * Resolves the names of `names` (IP literals pass through) to addresses of both families, capped
 * per name, for {@link applyQuarantine}: resolve before quarantine goes in, and again after
 * `refreshAfterMs` (re-applying swaps only the host routes that changed).
 * @example const { allow, refreshAfterMs } = await resolveAllowList(names, { resolver: new Resolver() });
 */
export async function resolveAllowList(
  names: AllowList,
  options: ResolveAllowListOptions,
): Promise<ResolvedAllowList> {
  const maxPerName = options.maxAddressesPerName ?? RESOLVE_DEFAULTS.maxAddressesPerName;
  const minRefreshMs = options.minRefreshMs ?? RESOLVE_DEFAULTS.minRefreshMs;
  const maxRefreshMs = options.maxRefreshMs ?? RESOLVE_DEFAULTS.maxRefreshMs;
  let refreshAfterMs = maxRefreshMs;
  const unresolved: string[] = [];
  async function resolveOne(name: string): Promise<string[]> {
    if (isIP(name) !== 0) return [name];
    const answers = await Promise.allSettled([
      options.resolver.resolve4(name, { ttl: true }),
      options.resolver.resolve6(name, { ttl: true }),
    ]);
    const addresses: string[] = [];
    for (const answer of answers) {
      if (answer.status === 'rejected') continue;
      for (const record of answer.value.slice(0, maxPerName)) {
        addresses.push(record.address);
        refreshAfterMs = Math.min(refreshAfterMs, record.ttl * 1000);
      }
    }
    if (addresses.length === 0) unresolved.push(name);
    return addresses;
  }
  async function resolveList(list: readonly string[]): Promise<string[]> {
    return (await Promise.all(list.map(resolveOne))).flat();
  }
  const allow: AllowList = {
    collectors: await resolveList(names.collectors),
    resolvers: await resolveList(names.resolvers),
    remediationHosts: await resolveList(names.remediationHosts),
  };
  if (unresolved.length > 0) refreshAfterMs = minRefreshMs;
  return { allow, refreshAfterMs: Math.max(minRefreshMs, refreshAfterMs), unresolved };
}

// ---------------------------------------------------------------------------------------------
// Running (the shell).

async function runAll(exec: IpExec, commands: readonly Command[]): Promise<void> {
  if (exec.batch === undefined) {
    for (const command of commands) await exec(command);
    return;
  }
  // One `ip -batch` per family (family flags are global options there), each in plan order;
  // the families' rules and tables are independent, so their relative order does not matter.
  for (const family of ['-4', '-6']) {
    const lines = commands.filter((c) => c[0] === family).map((c) => c.slice(1));
    if (lines.length > 0) await exec.batch([family], lines);
  }
  const other = commands.filter((c) => c[0] !== '-4' && c[0] !== '-6');
  for (const command of other) await exec(command);
}

/**
 * Reads the routing state, plans quarantine for `allow`, runs the plan and reads back to check
 * that nothing is left to do (`VERIFY_FAILED` otherwise). Idempotent: on a quarantined device
 * with the same allow-list it runs nothing; with a changed one it swaps only our host routes.
 * After a failed command, running it again converges.
 * @example const { families } = await applyQuarantine(createIpExec(), allow);
 */
export async function applyQuarantine(
  exec: IpExec,
  allow: AllowList,
  options: Partial<QuarantineOptions> = {},
): Promise<ApplyResult> {
  const resolved = resolveOptions(options);
  const plan = planQuarantine(await readSnapshot(exec, resolved), allow, resolved);
  await runAll(exec, plan.commands);
  if (plan.commands.length > 0) {
    const left = planQuarantine(await readSnapshot(exec, resolved), allow, resolved).commands;
    if (left.length > 0) {
      throw new RoutesError(
        'VERIFY_FAILED',
        `quarantine: after ${plan.commands.length} commands still to do: ip ${(left[0] ?? []).join(' ')}`,
      );
    }
  }
  return { ...plan, changed: plan.commands.length > 0 };
}

/**
 * Removes every rule and route marked with our protocol and checks that none is left.
 * @example await liftQuarantine(createIpExec());
 */
export async function liftQuarantine(
  exec: IpExec,
  options: Partial<QuarantineOptions> = {},
): Promise<LiftResult> {
  const resolved = resolveOptions(options);
  const commands = planLift(await readSnapshot(exec, resolved), resolved);
  await runAll(exec, commands);
  if (commands.length > 0) {
    const left = planLift(await readSnapshot(exec, resolved), resolved);
    if (left.length > 0) {
      throw new RoutesError('VERIFY_FAILED', `lift: still to do: ip ${(left[0] ?? []).join(' ')}`);
    }
  }
  return { commands, changed: commands.length > 0 };
}

/** Options of {@link createIpExec}. */
export interface IpExecOptions {
  /** Run inside this named network namespace (`ip -n`). */
  readonly netns?: string;
  readonly timeoutMs?: number;
  /** The `ip` program; default `ip` from PATH. */
  readonly program?: string;
}

// A routing dump of a few thousand routes is a few MB of JSON.
const MAX_IP_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * An {@link IpExec} that runs iproute2's `ip` (no shell), with a timeout; failures become
 * `RoutesError('COMMAND_FAILED')` carrying the first line `ip` printed on stderr.
 * @example const exec = createIpExec({ netns: 'ttl-1-0' }); await exec(['-j', 'rule']);
 */
export function createIpExec(options: IpExecOptions = {}): IpExec {
  const program = options.program ?? 'ip';
  const prefix = options.netns === undefined ? [] : ['-n', options.netns];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const run = (args: readonly string[], shown: string, input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        program,
        [...prefix, ...args],
        { encoding: 'utf8', timeout: timeoutMs, maxBuffer: MAX_IP_OUTPUT_BYTES },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve(stdout);
            return;
          }
          const reason = stderr.trim().split('\n')[0] ?? '';
          reject(
            new RoutesError('COMMAND_FAILED', `ip ${shown}: ${reason === '' ? error.message : reason}`, {
              cause: error,
            }),
          );
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  const ipExec = (args: Command): Promise<string> => run(args, args.join(' '));
  return Object.assign(ipExec, {
    // iproute2 splits batch lines on white space; our arguments (addresses, numbers, interface
    // names) never contain any. `ip -batch` stops at the first failing line and names it.
    batch: (global: readonly string[], lines: readonly Command[]): Promise<string> =>
      run(
        [...global, '-batch', '-'],
        `${global.join(' ')} -batch (${lines.map((l) => l.join(' ')).join('; ')})`,
        `${lines.map((l) => l.join(' ')).join('\n')}\n`,
      ),
  });
}
