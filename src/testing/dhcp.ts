/**
 * The home network's services for the end-to-end tests (tests only): dnsmasq as DHCPv4 server,
 * IPv6 router advertiser (SLAAC) and DNS resolver on the router's LAN bridge; BusyBox udhcpc as
 * a device's DHCP client; `ip monitor` to await route changes instead of polling.
 * @module
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkTool } from './external-tool.ts';
import type { Netns } from './netns.ts';
import { ADDRESSES, EVENT_TIMEOUT_MS, type NetnsProcess, type ProcessGroup } from './topology.ts';

/** The Debian packages the end-to-end tests need (besides iproute2). */
export const E2E_PACKAGES = ['dnsmasq', 'udhcpc', 'nftables'] as const;

/**
 * Why the home services cannot run, or `undefined`: dnsmasq, udhcpc (BusyBox) and nft must be
 * installed.
 */
export async function checkHomeTools(): Promise<string | undefined> {
  const checks = await Promise.all([
    checkTool('dnsmasq', ['--version'], {
      installHint: 'the Debian package dnsmasq',
      exitCodes: [0],
    }),
    // BusyBox applets print their usage and exit 1 on --help.
    checkTool('udhcpc', ['--help'], {
      installHint: 'the Debian package udhcpc',
      exitCodes: [0, 1],
    }),
    checkTool('nft', ['--version'], { installHint: 'the Debian package nftables', exitCodes: [0] }),
  ]);
  return checks.find((reason) => reason !== undefined);
}

/** Options of {@link startDnsmasq}. */
export interface DnsmasqOptions {
  /** Where its config, lease and pid files go. */
  readonly dir: string;
  /** Names it answers for: name → addresses (both families). */
  readonly hostRecords?: Readonly<Record<string, readonly string[]>>;
  /** Seconds between unsolicited router advertisements (dnsmasq's `ra-param` interval). */
  readonly raIntervalSeconds?: number;
}

/**
 * Starts dnsmasq on the router's `br0`: DHCPv4 from {@link ADDRESSES.dhcpPool} (2 min leases,
 * dnsmasq's minimum, router and DNS option pointing at the router), router advertisements for
 * {@link ADDRESSES.lanPrefix6} (ra-only: SLAAC), and DNS for `hostRecords` only (no upstream).
 * Resolves once it logs that it started; logs every DHCP and RA exchange (`log-dhcp`).
 */
export async function startDnsmasq(
  group: ProcessGroup,
  router: Netns,
  options: DnsmasqOptions,
): Promise<NetnsProcess> {
  const interval = options.raIntervalSeconds ?? 4;
  const lan6 = ADDRESSES.lanPrefix6.split('/')[0] ?? '';
  const config = join(options.dir, 'dnsmasq.conf');
  await writeFile(
    config,
    [
      'interface=br0',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-poll',
      'user=root',
      'log-dhcp',
      'log-queries',
      `pid-file=${join(options.dir, 'dnsmasq.pid')}`,
      `dhcp-leasefile=${join(options.dir, 'dnsmasq.leases')}`,
      `dhcp-range=${ADDRESSES.dhcpPool.first},${ADDRESSES.dhcpPool.last},255.255.255.0,2m`,
      `dhcp-option=option:router,${ADDRESSES.homeLan.v4}`,
      `dhcp-option=option:dns-server,${ADDRESSES.homeLan.v4}`,
      'dhcp-authoritative',
      // No ICMP echo check of an address before offering it (a 3 s wait per lease).
      'no-ping',
      'enable-ra',
      `dhcp-range=${lan6},ra-only,64,10m`,
      // Interval between unsolicited RAs, router lifetime 10 min.
      `ra-param=br0,${String(interval)},600`,
      ...Object.entries(options.hostRecords ?? {}).map(
        ([name, addresses]) => `host-record=${name},${addresses.join(',')}`,
      ),
      '',
    ].join('\n'),
  );
  const dnsmasq = group.start(router, {
    name: 'dnsmasq',
    file: 'dnsmasq',
    args: [`--conf-file=${config}`, '--keep-in-foreground', '--log-facility=-'],
  });
  await dnsmasq.waitForLine((line) => /started, version/.test(line), { what: 'dnsmasq start' });
  return dnsmasq;
}

/** A lease as the client script reported it. */
export interface DhcpLease {
  readonly address: string;
  readonly router: string;
}

/** A running udhcpc in a device namespace. */
export interface DhcpClient {
  readonly process: NetnsProcess;
  /** The lease obtained at start. */
  readonly lease: DhcpLease;
  /** Makes udhcpc renew now (SIGUSR1) and resolves once its script has run for the renewal. */
  renew(): Promise<DhcpLease>;
}

// The udhcpc event script: installs the address and the default route the way a device's
// firmware does (`ip route replace`, proto dhcp) and prints one line per event, which the test
// awaits. BusyBox passes $interface, $ip, $mask (prefix length) and $router (a list).
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip -4 address flush dev "$interface"
    ;;
  bound|renew)
    ip -4 address replace "$ip/$mask" dev "$interface"
    set -- "$1" $router
    ip -4 route replace default via "$2" dev "$interface" proto dhcp
    ;;
esac
echo "tattler-dhcp $1 \${ip:-} \${router:-}"
`;

function leaseOf(line: string): DhcpLease {
  const [, , address, router] = line.split(' ');
  if (address === undefined || router === undefined) throw new Error(`udhcpc: ${line}`);
  return { address, router };
}

/**
 * Starts udhcpc on `dev` in `ns` (foreground, its script installs address and default route) and
 * resolves once it has a lease.
 */
export async function startDhcpClient(
  group: ProcessGroup,
  ns: Netns,
  options: { readonly dir: string; readonly dev?: string },
): Promise<DhcpClient> {
  const dev = options.dev ?? 'eth0';
  const script = join(options.dir, `udhcpc-${ns.name}.sh`);
  await writeFile(script, UDHCPC_SCRIPT);
  await chmod(script, 0o755);
  const client = group.start(ns, {
    name: `udhcpc in ${ns.name}`,
    file: 'udhcpc',
    // -f foreground, -t/-T: a discover every second, up to 10; -A 1: retry soon after that.
    args: ['-f', '-i', dev, '-s', script, '-t', '10', '-T', '1', '-A', '1'],
  });
  const bound = await client.waitForLine((line) => line.startsWith('tattler-dhcp bound '), {
    what: 'a DHCP lease',
  });
  return {
    process: client,
    lease: leaseOf(bound.line),
    async renew() {
      const from = client.lines().length;
      client.signal('SIGUSR1');
      const renewed = await client.waitForLine(
        (line) => /^tattler-dhcp (renew|bound) /.test(line),
        { from, what: 'a DHCP renewal' },
      );
      return leaseOf(renewed.line);
    },
  };
}

/** `ip monitor route` in a namespace: await route changes as they happen. */
export interface RouteMonitor {
  readonly process: NetnsProcess;
  /** The number of lines seen so far (pass as `from` to wait only for later ones). */
  mark(): number;
  /** Resolves with the first route line from `from` on that `pattern` matches. */
  waitFor(
    pattern: RegExp,
    options?: { readonly from?: number; readonly timeoutMs?: number },
  ): Promise<string>;
}

/** Starts `ip monitor route` (both families) in `ns`; it is ready once it has printed nothing yet but runs. */
export function monitorRoutes(group: ProcessGroup, ns: Netns): RouteMonitor {
  const monitor = group.start(ns, {
    name: `ip monitor in ${ns.name}`,
    file: 'ip',
    args: ['monitor', 'route'],
  });
  return {
    process: monitor,
    mark: () => monitor.lines().length,
    async waitFor(pattern, options = {}) {
      const found = await monitor.waitForLine((line) => pattern.test(line), {
        from: options.from ?? 0,
        timeoutMs: options.timeoutMs ?? EVENT_TIMEOUT_MS,
        what: String(pattern),
      });
      return found.line;
    },
  };
}

/**
 * Resolves once `ns` has an IPv6 default route learnt from a router advertisement and a global
 * SLAAC address in {@link ADDRESSES.lanPrefix6}; returns that address. Reads `ip -json` until
 * `timeoutMs` (the first RA can come before a monitor could be started, so there is no event to
 * await here; the first read usually succeeds).
 */
export async function waitForSlaac(ns: Netns, timeoutMs = EVENT_TIMEOUT_MS): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  const lan = ADDRESSES.lanPrefix6.split('::/')[0] ?? '';
  for (;;) {
    const routes = await ns.ip(['-6', 'route', 'show', 'default', 'proto', 'ra']);
    const addresses = await ns.ip([
      '-6',
      '-o',
      'address',
      'show',
      'dev',
      'eth0',
      'scope',
      'global',
    ]);
    const address = /inet6 ([0-9a-f:]+)\/64/.exec(addresses)?.[1];
    if (routes.trim() !== '' && address?.startsWith(`${lan}:`) === true) return address;
    if (performance.now() > deadline) {
      throw new Error(`${ns.name}: no SLAAC address and RA default route after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Sends one ICMPv6 Router Solicitation (RFC 4861 §4.1: type 133, code 0, hop limit 255) to
// all-routers (ff02::2) on eth0; the kernel fills in the ICMPv6 checksum of a raw socket.
const ROUTER_SOLICITATION = `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ('ff02::2', 0, 0, socket.if_nametoindex('eth0')))
`;

/**
 * Asks the LAN's router for an RA now (a Router Solicitation from `ns`'s eth0), so a test that
 * removed the RA default route gets it back from the answer instead of waiting for the next
 * unsolicited RA, whose timing dnsmasq stretches under load. Best effort: without python3
 * (`.ci/run` installs it) the next unsolicited RA still brings the route back.
 */
export async function solicitRouter(ns: Netns): Promise<void> {
  await ns.run('python3', ['-c', ROUTER_SOLICITATION]).catch(() => undefined);
}
