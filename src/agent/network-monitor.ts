/**
 * Watches the device's network for the agent: the default route and the global addresses, read
 * with `ip -json` whenever `ip monitor route address` reports a change and every 60 s as a
 * fallback. Parsing is pure ({@link parseDefaultRoutes}, {@link parseGlobalAddresses}).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { z } from 'zod';
import { formatIp, parseIp } from '../protocol/index.ts';
import { createIpExec, type IpExec } from './routes.ts';
import { networkOf } from './startup-window.ts';

/** What the monitor reports: the core's `network` event without its kind. */
export interface NetworkView {
  readonly hasDefaultRoute: boolean;
  /** Global addresses (IPv4 and IPv6), as bytes. */
  readonly addresses: readonly Uint8Array[];
  /** The device's own public IPv4 address, when it has one (no NAT in between). */
  readonly wanIpv4?: Uint8Array;
  /** The prefixes of those addresses (`192.168.1.0/24`): the LAN, for the start-up window. */
  readonly onLink: readonly string[];
}

/** Watches the network and calls back on every change (and once at start). */
export interface NetworkMonitor {
  /** Reads the network once, calls `onChange` with it, then watches. */
  start(onChange: (view: NetworkView) => void): Promise<void>;
  /** Reads the network now; calls `onChange` when it differs from the last view. */
  refresh(): Promise<void>;
  stop(): void;
}

/** Defaults of {@link createNetworkMonitor}. */
export const MONITOR_DEFAULTS = Object.freeze({
  /** The fallback poll: catches what a missing or dead `ip monitor` misses. */
  pollMs: 60_000,
  /** A DHCP lease or an RA changes several things at once: read once they are done. */
  debounceMs: 200,
});

const routeJson = z.array(
  z.looseObject({ dst: z.string(), type: z.string().optional() }),
);
const addrJson = z.array(
  z.looseObject({
    addr_info: z
      .array(
        z.looseObject({
          family: z.string(),
          local: z.string().optional(),
          prefixlen: z.number().int().min(0).max(128).optional(),
          scope: z.string().optional(),
          tentative: z.boolean().optional(),
          dadfailed: z.boolean().optional(),
        }),
      )
      .optional(),
  }),
);

function parseJson(text: string, what: string): unknown {
  try {
    // `ip -json` prints nothing at all for an empty list on some versions.
    return text.trim() === '' ? [] : JSON.parse(text);
  } catch (err) {
    throw new Error(`${what}: not JSON`, { cause: err });
  }
}

/**
 * True when `ip -json route show default` output (either family) holds a usable default route:
 * a unicast one (`unreachable`, `blackhole`, `prohibit` defaults do not count).
 */
export function parseDefaultRoutes(text: string): boolean {
  const routes = routeJson.parse(parseJson(text, 'ip route show default'));
  return routes.some((r) => r.dst === 'default' && (r.type === undefined || r.type === 'unicast'));
}

// RFC 1918, RFC 6598 (CGNAT), RFC 3927 link-local, RFC 5737 TEST-NETs stay "not public".
const NOT_PUBLIC_V4: readonly [number, number, number][] = [
  [10, 0, 8],
  [172, 16, 12],
  [192, 168, 16],
  [100, 64, 10],
  [169, 254, 16],
  [127, 0, 8],
];

function isPublicIpv4(address: Uint8Array): boolean {
  if (address.byteLength !== 4) return false;
  const value = (((address[0] ?? 0) << 24) | ((address[1] ?? 0) << 16)) >>> 0;
  return !NOT_PUBLIC_V4.some(([a, b, length]) => {
    const net = ((a << 24) | (b << 16)) >>> 0;
    const mask = length === 0 ? 0 : (0xffff_ffff << (32 - length)) >>> 0;
    return ((value & mask) >>> 0) === net;
  });
}

/**
 * The global addresses in `ip -json addr` output (scope global, not tentative, DAD not
 * failed), and the first public IPv4 among them as the WAN address ([P-8.5-4]: without NAT the
 * device's own address is what a certificate scope must cover).
 */
export function parseGlobalAddresses(text: string): {
  addresses: Uint8Array[];
  wanIpv4?: Uint8Array;
  onLink: string[];
} {
  const links = addrJson.parse(parseJson(text, 'ip addr'));
  const addresses: Uint8Array[] = [];
  const onLink = new Set<string>();
  for (const link of links)
    for (const info of link.addr_info ?? []) {
      if (info.scope !== 'global' || info.tentative === true || info.dadfailed === true) continue;
      if (info.family !== 'inet' && info.family !== 'inet6') continue;
      const bytes = info.local === undefined ? undefined : parseIp(info.local);
      if (bytes === undefined) continue;
      addresses.push(bytes);
      const length = Math.min(info.prefixlen ?? bytes.byteLength * 8, bytes.byteLength * 8);
      onLink.add(networkOf(bytes, length));
    }
  const wanIpv4 = addresses.find(isPublicIpv4);
  return { addresses, ...(wanIpv4 === undefined ? {} : { wanIpv4 }), onLink: [...onLink] };
}

function viewKey(view: NetworkView): string {
  return JSON.stringify([
    view.hasDefaultRoute,
    view.addresses.map((a) => formatIp(a)).sort(),
    view.wanIpv4 === undefined ? '' : formatIp(view.wanIpv4),
    [...view.onLink].sort(),
  ]);
}

/** Options of {@link createNetworkMonitor}. */
export interface NetworkMonitorOptions {
  readonly exec?: IpExec;
  /** Spawn `ip monitor route address` for prompt updates; default true. */
  readonly watch?: boolean;
  readonly pollMs?: number;
  readonly debounceMs?: number;
  /** Told when a read fails or the watcher dies (the poll carries on). */
  readonly onError?: (message: string) => void;
  /** The `ip` program; default `ip` from PATH. */
  readonly program?: string;
}

/**
 * A monitor reading with `ip -json` (both families): on start, on every `ip monitor` line
 * (debounced) and every `pollMs`.
 * @example const monitor = createNetworkMonitor(); await monitor.start((view) => step({ kind: 'network', ...view }));
 */
export function createNetworkMonitor(options: NetworkMonitorOptions = {}): NetworkMonitor {
  const program = options.program ?? 'ip';
  const exec = options.exec ?? createIpExec({ program });
  const pollMs = options.pollMs ?? MONITOR_DEFAULTS.pollMs;
  const debounceMs = options.debounceMs ?? MONITOR_DEFAULTS.debounceMs;
  const onError = options.onError ?? ((): void => undefined);
  let onChange: ((view: NetworkView) => void) | undefined;
  let last: string | undefined;
  let poll: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let child: ChildProcess | undefined;
  let stopped = false;
  let reading: Promise<void> | undefined;

  async function read(): Promise<NetworkView> {
    const [v4, v6, addr] = await Promise.all([
      exec(['-4', '-json', 'route', 'show', 'default']),
      exec(['-6', '-json', 'route', 'show', 'default']),
      exec(['-json', 'addr', 'show']),
    ]);
    return {
      hasDefaultRoute: parseDefaultRoutes(v4) || parseDefaultRoutes(v6),
      ...parseGlobalAddresses(addr),
    };
  }

  async function refreshOnce(): Promise<void> {
    let view: NetworkView;
    try {
      view = await read();
    } catch (err) {
      onError(`reading the network failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const key = viewKey(view);
    if (stopped || key === last) return;
    last = key;
    onChange?.(view);
  }

  function refresh(): Promise<void> {
    // One read at a time; a change during a read is caught by the next trigger or the poll.
    reading ??= refreshOnce().finally(() => {
      reading = undefined;
    });
    return reading;
  }

  function watch(): void {
    if (options.watch === false || stopped) return;
    let spawned: ChildProcess;
    try {
      spawned = spawn(program, ['monitor', 'route', 'address'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch (err) {
      onError(`ip monitor: ${err instanceof Error ? err.message : String(err)}; polling only`);
      return;
    }
    child = spawned;
    spawned.on('error', (err) => {
      onError(`ip monitor: ${err.message}; polling every ${pollMs / 1000} s only`);
    });
    spawned.on('exit', () => {
      if (child === spawned) child = undefined;
    });
    spawned.stdout?.on('data', () => {
      if (debounce !== undefined) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        void refresh();
      }, debounceMs);
    });
  }

  return {
    async start(callback) {
      onChange = callback;
      await refresh();
      watch();
      poll = setInterval(() => {
        // A watcher that died is started again at the next poll.
        if (child === undefined) watch();
        void refresh();
      }, pollMs);
    },
    refresh,
    stop() {
      stopped = true;
      if (poll !== undefined) clearInterval(poll);
      if (debounce !== undefined) clearTimeout(debounce);
      child?.kill();
      child = undefined;
    },
  };
}
