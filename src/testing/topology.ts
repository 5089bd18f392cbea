/**
 * The end-to-end topology of the agent tests (tests only): an ISP namespace with the collector's
 * anycast addresses on its loopback, an "internet" host and a remediation host behind it, a home
 * router (IPv4 NAT, routed IPv6) with a LAN bridge, LAN devices and a LAN peer; plus the
 * collector's files, processes run inside namespaces and watched line by line.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { encodePrivateKeyPem, type PrivateKey } from '../crypto/index.ts';
import { encodeCbor, signRoot } from '../protocol/index.ts';
import { certificateBytes, testBundleBytes } from './collector-fixture.ts';
import { testRow } from './memory-feed-reader.ts';
import { NodeHelper, type EchoServer, type NetnsKit, type Netns } from './netns.ts';
import { ROOT } from './trust-fixture.ts';
import { TRUST_KEYS } from './trust-keys.ts';

/** The `tattler` entry point (bin/tattler.js), run with this Node.js. */
export const TATTLER_BIN = fileURLToPath(new URL('../../bin/tattler.js', import.meta.url));

/** How long a process line, a DHCP lease or a route may take before a test fails. */
export const EVENT_TIMEOUT_MS = 15_000;

/** Every address of the topology (documentation prefixes, RFC 5737 / RFC 3849, and RFC 6598). */
export const ADDRESSES = Object.freeze({
  /** The collector's anycast addresses, on the ISP namespace's loopback. */
  collector: { v4: '192.0.2.53', v6: '2001:db8:53::53' },
  internet: { v4: '198.51.100.9', v6: '2001:db8:100::9' },
  remediation: { v4: '203.0.113.80', v6: '2001:db8:80::80' },
  /** The ISP's side of the link to the home router. */
  ispHome: { v4: '100.64.10.1', v6: '2001:db8:ff::1' },
  /** The home router's WAN address: the NAT'd IPv4 every home device shares. */
  homeWan: { v4: '100.64.10.2', v6: '2001:db8:ff::2' },
  /** The home router on its LAN bridge: DHCP server, DNS resolver, IPv6 router. */
  homeLan: { v4: '192.168.1.1', v6: '2001:db8:1:1::1' },
  peer: { v4: '192.168.1.20', v6: '2001:db8:1:1::20' },
  /** The home's delegated IPv6 prefix (routed to the home router) and its LAN /64. */
  homePrefix6: '2001:db8:1::/48',
  lanPrefix6: '2001:db8:1:1::/64',
  lanPrefix4: '192.168.1.0/24',
  /** The DHCP pool of the LAN. */
  dhcpPool: { first: '192.168.1.100', last: '192.168.1.199' },
} as const);

/** The remediation host's name, as the feed record names it; the home's dnsmasq resolves it. */
export const REMEDIATION_NAME = 'updates.dlink.test';

/** The certificate scope of the e2e collector: the home's IPv6 prefix and its NAT'd WAN IPv4. */
export const HOME_SCOPE = [ADDRESSES.homePrefix6, `${ADDRESSES.homeWan.v4}/32`] as const;

/**
 * How long an agent event may take: its first announcement comes 2-5 s after it sees a default
 * route, and an exchange retries for up to 2 + 4 + 8 s inside its 30 s answer window
 * (docs/agent.md); on a loaded host a lost first attempt must not fail the test.
 */
export const AGENT_EVENT_TIMEOUT_MS = 40_000;

/** A line-oriented process started inside a namespace with `ip netns exec` (same pid). */
export class NetnsProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #lines: { stream: 'stdout' | 'stderr'; line: string; atMs: number }[] = [];
  readonly #waiters = new Set<() => void>();
  /** Settles with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  #done = false;

  /** Starts `file args` inside `ns`; `name` labels errors. */
  constructor(ns: Netns, command: { name: string; file: string; args: readonly string[] }) {
    this.name = command.name;
    this.#child = spawn('ip', ['netns', 'exec', ns.name, command.file, ...command.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('close', (code, signal) => {
        this.#done = true;
        this.#wake();
        resolve(code ?? signal ?? 'unknown');
      });
    });
    this.#child.once('error', () => undefined);
    for (const stream of ['stdout', 'stderr'] as const) {
      const input = this.#child[stream];
      if (input === null) continue;
      createInterface({ input }).on('line', (line) => {
        this.#lines.push({ stream, line, atMs: Date.now() });
        this.#wake();
      });
    }
  }

  /** The process id (`ip netns exec` execs the command, so it is the command's). */
  get pid(): number {
    const pid = this.#child.pid;
    if (pid === undefined) throw new Error(`${this.name}: not started`);
    return pid;
  }

  /** Every line printed so far, both streams, in order of arrival. */
  lines(): string[] {
    return this.#lines.map((entry) => entry.line);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves with the first line at index ≥ `from` (default 0) that `match` accepts, and its
   * index; rejects when the process exits or `timeoutMs` passes first.
   */
  async waitForLine(
    match: (line: string, index: number) => boolean,
    options: { readonly from?: number; readonly timeoutMs?: number; readonly what?: string } = {},
  ): Promise<{ line: string; index: number; atMs: number }> {
    const timeoutMs = options.timeoutMs ?? EVENT_TIMEOUT_MS;
    let next = options.from ?? 0;
    const find = (): { line: string; index: number; atMs: number } | undefined => {
      for (; next < this.#lines.length; next += 1) {
        const entry = this.#lines[next];
        if (entry !== undefined && match(entry.line, next)) {
          return { line: entry.line, index: next, atMs: entry.atMs };
        }
      }
      return undefined;
    };
    const found = find();
    if (found !== undefined) return found;
    let timer: NodeJS.Timeout | undefined;
    let waiter: (() => void) | undefined;
    try {
      return await new Promise((resolve, reject) => {
        const fail = (why: string) => {
          reject(
            new Error(
              `${this.name}: ${why} before ${options.what ?? 'the expected line'}; output:\n${this.lines().slice(-40).join('\n')}`,
            ),
          );
        };
        waiter = () => {
          const hit = find();
          if (hit !== undefined) resolve(hit);
          else if (this.#done) fail('exited');
        };
        this.#waiters.add(waiter);
        timer = setTimeout(() => {
          fail(`no line in ${timeoutMs} ms`);
        }, timeoutMs);
        waiter();
      });
    } finally {
      clearTimeout(timer);
      if (waiter !== undefined) this.#waiters.delete(waiter);
    }
  }

  /** Sends `signal` to the process (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (!this.#done) this.#child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  async stop(graceMs = 5_000): Promise<number | string> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => {
      this.signal('SIGKILL');
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Processes of one test, stopped together (register {@link ProcessGroup.stopAll} with `t.after`). */
export class ProcessGroup {
  readonly #processes = new Set<NetnsProcess>();

  /** Starts and tracks a {@link NetnsProcess}. */
  start(ns: Netns, command: { name: string; file: string; args: readonly string[] }): NetnsProcess {
    const process = new NetnsProcess(ns, command);
    this.#processes.add(process);
    return process;
  }

  /** Stops every tracked process that still runs. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#processes].map((process) => process.stop()));
    this.#processes.clear();
  }
}

/** The namespaces and echo servers of {@link buildHomeTopology}. */
export interface HomeTopology {
  readonly kit: NetnsKit;
  readonly isp: Netns;
  readonly internet: Netns;
  readonly remediation: Netns;
  readonly router: Netns;
  readonly peer: Netns;
  /** The devices by label, each with `eth0` on the LAN bridge, no address until DHCP/RA. */
  readonly devices: ReadonlyMap<string, Netns>;
  /** UDP echo port of every echo host: the ISP (on the collector's anycast addresses), the internet host, the remediation host, the LAN peer. */
  readonly echoPorts: {
    readonly isp: number;
    readonly internet: number;
    readonly remediation: number;
    readonly peer: number;
  };
}

/**
 * Builds the ISP and the home; the caller adds its services on the LAN bridge (`br0` of the
 * router: DHCP, RA, DNS) with `beforeDevices`, which runs before the devices are plugged in, so
 * that their first router solicitation and DHCP discover are answered.
 *
 * ```
 *  internet (198.51.100.9) ─┐
 *  remediation (203.0.113.80)─ isp [lo: 192.0.2.53, 2001:db8:53::53] ─ router (NAT44, routed v6) ─ br0 ─ devices, peer
 * ```
 */
export async function buildHomeTopology(
  kit: NetnsKit,
  options: {
    readonly devices: readonly string[];
    readonly beforeDevices?: (router: Netns) => Promise<void>;
  },
): Promise<HomeTopology> {
  const A = ADDRESSES;
  const isp = await kit.addNamespace('isp');
  const router = await kit.addNamespace('router');
  await isp.enableForwarding();
  await router.enableForwarding();
  await isp.addAddress('lo', `${A.collector.v4}/32`);
  await isp.addAddress('lo', `${A.collector.v6}/128`);

  const servers: [string, { v4: string; v6: string }, { v4: string; v6: string }][] = [
    ['internet', A.internet, { v4: '198.51.100.1', v6: '2001:db8:100::1' }],
    ['remediation', A.remediation, { v4: '203.0.113.1', v6: '2001:db8:80::1' }],
  ];
  const serverNs = new Map<string, Netns>();
  for (const [label, host, gateway] of servers) {
    const ns = await kit.addNamespace(label);
    serverNs.set(label, ns);
    await kit.link(
      {
        ns: isp,
        dev: `to-${label.slice(0, 8)}`,
        addresses: [`${gateway.v4}/24`, `${gateway.v6}/64`],
      },
      { ns, dev: 'eth0', addresses: [`${host.v4}/24`, `${host.v6}/64`] },
    );
    await ns.ip(['-4', 'route', 'add', 'default', 'via', gateway.v4]);
    await ns.ip(['-6', 'route', 'add', 'default', 'via', gateway.v6]);
  }
  await kit.link(
    { ns: isp, dev: 'to-home', addresses: [`${A.ispHome.v4}/24`, `${A.ispHome.v6}/64`] },
    { ns: router, dev: 'wan0', addresses: [`${A.homeWan.v4}/24`, `${A.homeWan.v6}/64`] },
  );
  // IPv6 is routed: the ISP delegates the home's /48 to the router. IPv4 is NAT'd (below).
  await isp.ip(['-6', 'route', 'add', A.homePrefix6, 'via', A.homeWan.v6]);
  await router.ip(['-4', 'route', 'add', 'default', 'via', A.ispHome.v4]);
  await router.ip(['-6', 'route', 'add', 'default', 'via', A.ispHome.v6]);
  await router.run('sh', [
    '-ec',
    [
      'nft add table ip tattler-nat',
      "nft 'add chain ip tattler-nat postrouting { type nat hook postrouting priority srcnat; }'",
      'nft add rule ip tattler-nat postrouting oifname wan0 masquerade',
    ].join('\n'),
  ]);

  await router.ip(['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
  // The router's RAs and DHCP server live on br0; it accepts no RA itself (it is the router).
  await router.ip(['link', 'set', 'br0', 'up']);
  await router.addAddress('br0', `${A.homeLan.v4}/24`);
  await router.addAddress('br0', `${A.homeLan.v6}/64`);
  await kit.waitUntilUp();
  await options.beforeDevices?.(router);

  const peer = await kit.addNamespace('peer');
  await kit.link(
    { ns: peer, dev: 'eth0', addresses: [`${A.peer.v4}/24`, `${A.peer.v6}/64`] },
    { ns: router, dev: 'lan-peer' },
  );
  await router.ip(['link', 'set', 'lan-peer', 'master', 'br0']);
  await peer.ip(['-4', 'route', 'add', 'default', 'via', A.homeLan.v4]);
  await peer.ip(['-6', 'route', 'add', 'default', 'via', A.homeLan.v6]);

  const devices = new Map<string, Netns>();
  for (const [index, label] of options.devices.entries()) {
    const ns = await kit.addNamespace(label);
    // Devices take their IPv6 default route and address from RAs (SLAAC); set before eth0
    // exists so that it inherits it and solicits a router as soon as it is up.
    await ns.sysctl({ 'net.ipv6.conf.default.accept_ra': 1, 'net.ipv6.conf.default.autoconf': 1 });
    const routerDev = `lan-dev${String(index)}`;
    await kit.link({ ns, dev: 'eth0' }, { ns: router, dev: routerDev });
    await router.ip(['link', 'set', routerDev, 'master', 'br0']);
    devices.set(label, ns);
  }
  await kit.waitUntilUp();

  const echo = async (ns: Netns): Promise<EchoServer> => ns.startUdpEcho();
  const internet = serverNs.get('internet');
  const remediation = serverNs.get('remediation');
  if (internet === undefined || remediation === undefined) throw new Error('topology: servers');
  const [ispEcho, internetEcho, remediationEcho, peerEcho] = await Promise.all([
    startBoundEcho(kit, isp, [A.collector.v4, A.collector.v6]).then((port) => ({ port })),
    echo(internet),
    echo(remediation),
    echo(peer),
  ]);
  return {
    kit,
    isp,
    internet,
    remediation,
    router,
    peer,
    devices,
    echoPorts: {
      isp: ispEcho.port,
      internet: internetEcho.port,
      remediation: remediationEcho.port,
      peer: peerEcho.port,
    },
  };
}

/** The test feed with the DIR-859's record naming {@link REMEDIATION_NAME} as its update host. */
export function e2eBundleBytes(nowSeconds: number): Uint8Array {
  const remediationUrls = [`https://${REMEDIATION_NAME}/firmware`];
  return testBundleBytes({
    issuedAt: nowSeconds - 3_600,
    expiresAt: nowSeconds + 7 * 86_400,
    rows: [
      // Eligible (KEV, bounded): every version below 2.0 gets a FAIL.
      testRow(
        { vendor: 'dlink', model: 'dir859' },
        { id: 'CVE-2019-17621', cvss: 9.8, remediationUrls },
        { kev: true },
      ),
      // Not in KEV: not eligible, the collector answers WARN.
      testRow({ vendor: 'hikvision', model: 'ds2cd2032i' }, { id: 'CVE-2021-36260' }),
      testRow(
        { vendor: 'tplink', model: 'archerc7' },
        { id: 'CVE-2020-10882', cvss: 5.0 },
        { kev: true },
      ),
    ],
  });
}

/** Options of {@link writeE2eCollectorDir}. */
export interface E2eCollectorDirOptions {
  /** Wall-clock "now" in epoch seconds (the collector process runs on the real clock). */
  readonly nowSeconds: number;
  /** The collector's key; default the certified one. Another key gets a self-signed certificate the device does not hold. */
  readonly key?: PrivateKey;
  /** Certificate scope; default {@link HOME_SCOPE}. */
  readonly scope?: readonly string[];
}

/**
 * Writes a collector's key, certificate, root, feed and config into `dir` (listening on the
 * anycast addresses, port 5683) and returns the config path. The device's trust files are the
 * same `root.cbor` and `collector.cert.cbor`.
 */
export async function writeE2eCollectorDir(
  dir: string,
  options: E2eCollectorDirOptions,
): Promise<string> {
  const now = options.nowSeconds;
  const key = options.key ?? TRUST_KEYS.collector;
  const [r0, r1] = TRUST_KEYS.root;
  if (r0 === undefined || r1 === undefined) throw new Error('trust keys: two root keys expected');
  const validity = { notBefore: now - 86_400, notAfter: now + 6 * 86_400 };
  const scope = [...(options.scope ?? HOME_SCOPE)];
  // An uncertified key: its certificate is signed by itself, not by a registry key of the root.
  const certificate =
    key === TRUST_KEYS.collector
      ? certificateBytes({ scope, ...validity })
      : certificateBytes({ scope, subject: key, issuer: key, ...validity });
  await writeFile(join(dir, 'collector.key'), encodePrivateKeyPem(key), { mode: 0o600 });
  await writeFile(join(dir, 'collector.cert.cbor'), certificate);
  await writeFile(
    join(dir, 'root.cbor'),
    encodeCbor(
      signRoot([r0, r1], { ...ROOT, issuedAt: Math.min(ROOT.issuedAt, now - 365 * 86_400) }),
    ),
  );
  await writeFile(join(dir, 'bundle.cbor'), e2eBundleBytes(now));
  const config = join(dir, 'collector.yaml');
  await writeFile(
    config,
    [
      `listen: [{address: ${ADDRESSES.collector.v4}, port: 5683}, {address: '${ADDRESSES.collector.v6}', port: 5683}]`,
      'feed: {file: bundle.cbor, root: root.cbor}',
      'key: collector.key',
      'certificate: collector.cert.cbor',
      'operator: Example ISP',
      'rateLimit: {ratePerSecond: 1000000, burst: 1000000}',
      '',
    ].join('\n'),
  );
  return config;
}

/** Starts `tattler collector --config` in `ns` and waits for its "listening on" line. */
export async function startCollector(
  group: ProcessGroup,
  ns: Netns,
  config: string,
): Promise<NetnsProcess> {
  const collector = group.start(ns, {
    name: 'collector',
    file: process.execPath,
    args: [TATTLER_BIN, 'collector', '--config', config, '--log-format', 'json'],
  });
  await collector.waitForLine((line) => line.includes('listening on '), { what: '"listening on"' });
  return collector;
}

/** Which of `targets` (address → port) `ns` gets a UDP echo from, in order. */
export async function reachableFrom(
  ns: Netns,
  targets: readonly (readonly [string, number])[],
): Promise<string[]> {
  // One at a time: a namespace's probes share one helper process.
  const reached: string[] = [];
  for (const [address, port] of targets) {
    if ((await ns.probeUdp(address, port, { timeoutMs: 1_500 })).reached) reached.push(address);
  }
  return reached;
}

/** What {@link Announcer.announce} got back. */
export interface AnnounceResult {
  /** `fail`, `pass`, `warn`, `unknown`, another response kind, or `TIMEOUT`. */
  readonly status: string;
  /** Whether the answer was a signed verdict (a PASS to an unflagged request is not). */
  readonly signed: boolean;
  /** Epoch ms (high resolution) at the send and at the answer's arrival. */
  readonly sentAtMs: number;
  readonly receivedAtMs: number;
  /** The answer datagram, hex (for replay). */
  readonly hex: string;
  /** The verdict's addresses as the collector saw them (source: after NAT). */
  readonly source?: string;
  readonly destination?: string;
  readonly remediationHosts?: readonly string[];
}

const PROTOCOL_URL = new URL('../protocol/index.js', import.meta.url).href;

// Reads {address, port, model, swVersion} lines; sends one identified announcement (fresh token
// and nonce) from a new connected socket and prints what came back as one JSON line.
const ANNOUNCER = `
(async () => {
  const p = await import(process.argv[1]);
  const dgram = require('node:dgram');
  const { randomBytes } = require('node:crypto');
  const nowMs = () => performance.timeOrigin + performance.now();
  require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
    const { address, port, model, swVersion } = JSON.parse(line);
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const token = randomBytes(8);
    const bytes = p.encodeRequest({ kind: 'identified', nonce: randomBytes(16), vendor: 'dlink', model,
      swName: 'firmware', swVersion: { version: swVersion }, hwVersion: { version: 'A1' }, quarantined: false },
      { messageId: 1, token });
    let sentAtMs = 0;
    let timer;
    const done = (result) => {
      if (timer === undefined) return;
      clearTimeout(timer); timer = undefined;
      try { socket.close(); } catch {}
      console.log(JSON.stringify(result));
    };
    timer = setTimeout(() => done({ status: 'TIMEOUT', sentAtMs, receivedAtMs: 0, hex: '' }), 3000);
    socket.on('error', (error) => done({ status: String(error.code), sentAtMs, receivedAtMs: 0, hex: '' }));
    socket.on('message', (message) => {
      const receivedAtMs = nowMs();
      const decoded = p.decodeResponse(new Uint8Array(message));
      if (!Buffer.from(decoded.frame.token).equals(token)) return;
      const r = decoded.response;
      const v = r.kind === 'verdict' ? r.verdict.value : r.kind === 'unsigned-verdict' ? r.verdict : undefined;
      done({ status: v ? v.status : r.kind, signed: r.kind === 'verdict', sentAtMs, receivedAtMs, hex: message.toString('hex'),
        ...(v ? { source: p.formatIp(v.source), destination: p.formatIp(v.destination),
          remediationHosts: v.record ? v.record.value.remediationHosts : [] } : {}) });
    });
    socket.connect(port, address, (error) => {
      if (error) return done({ status: String(error.code), sentAtMs, receivedAtMs: 0, hex: '' });
      sentAtMs = nowMs();
      socket.send(bytes);
    });
  });
  process.stdin.on('end', () => process.exit(0));
  console.log('ready');
})();
`;

const announceJson = z.object({
  status: z.string(),
  signed: z.boolean().optional(),
  sentAtMs: z.number(),
  receivedAtMs: z.number(),
  hex: z.string(),
  source: z.string().optional(),
  destination: z.string().optional(),
  remediationHosts: z.array(z.string()).optional(),
});

/** A device-side client in a namespace that sends real announcements (not the agent). */
export class Announcer {
  readonly #helper: NodeHelper;

  private constructor(helper: NodeHelper) {
    this.#helper = helper;
  }

  /** Starts the client in `ns` (stopped by the kit's cleanup). */
  static async start(kit: NetnsKit, ns: Netns): Promise<Announcer> {
    const helper = kit.track(new NodeHelper(ns.name, { script: ANNOUNCER, args: [PROTOCOL_URL] }));
    await helper.nextLine(`announcer in ${ns.name}`);
    return new Announcer(helper);
  }

  /** Announces `model` `swVersion` (DIR-859 1.05B03 by default) to `address`:5683. */
  async announce(
    address: string,
    device: { readonly model?: string; readonly swVersion?: string } = {},
  ): Promise<AnnounceResult> {
    this.#helper.send(
      JSON.stringify({
        address,
        port: 5683,
        model: device.model ?? 'dir859',
        swVersion: device.swVersion ?? '1.05B03',
      }),
    );
    const parsed = announceJson.parse(JSON.parse(await this.#helper.nextLine('announcement')));
    return {
      status: parsed.status,
      signed: parsed.signed ?? false,
      sentAtMs: parsed.sentAtMs,
      receivedAtMs: parsed.receivedAtMs,
      hex: parsed.hex,
      ...(parsed.source === undefined ? {} : { source: parsed.source }),
      ...(parsed.destination === undefined ? {} : { destination: parsed.destination }),
      ...(parsed.remediationHosts === undefined
        ? {}
        : { remediationHosts: parsed.remediationHosts }),
    };
  }
}

// Reads {name} lines; resolves A and AAAA through the given server and prints {v4, v6, error}.
const DNS_CLIENT = `
const { Resolver } = require('node:dns/promises');
const resolver = new Resolver({ timeout: 1000, tries: 1 });
resolver.setServers([process.argv[1]]);
require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
  const { name } = JSON.parse(line);
  const settle = (promise) => promise.then((a) => a, (error) => error.code ?? String(error));
  const [v4, v6] = await Promise.all([settle(resolver.resolve4(name)), settle(resolver.resolve6(name))]);
  console.log(JSON.stringify({ v4, v6 }));
});
process.stdin.on('end', () => process.exit(0));
console.log('ready');
`;

const dnsJson = z.object({
  v4: z.union([z.array(z.string()), z.string()]),
  v6: z.union([z.array(z.string()), z.string()]),
});

/** A DNS client in a namespace asking one server (real UDP queries). */
export class DnsClient {
  readonly #helper: NodeHelper;

  private constructor(helper: NodeHelper) {
    this.#helper = helper;
  }

  /** Starts the client in `ns`, asking `server`. */
  static async start(kit: NetnsKit, ns: Netns, server: string): Promise<DnsClient> {
    const helper = kit.track(new NodeHelper(ns.name, { script: DNS_CLIENT, args: [server] }));
    await helper.nextLine(`dns client in ${ns.name}`);
    return new DnsClient(helper);
  }

  /** The A and AAAA records of `name`, or the error code of each query. */
  async resolve(name: string): Promise<{ v4: string[] | string; v6: string[] | string }> {
    this.#helper.send(JSON.stringify({ name }));
    return dnsJson.parse(JSON.parse(await this.#helper.nextLine('dns answer')));
  }
}

// Binds one socket per address given (same port for all, the first one's) and echoes; an echo
// from a socket bound to `::` would leave from the route's source address, not the anycast one.
const BOUND_ECHO = `
const dgram = require('node:dgram');
const addresses = process.argv.slice(1);
let port = 0;
(async () => {
  for (const address of addresses) {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (message, peer) => socket.send(message, peer.port, peer.address));
    await new Promise((resolve) => socket.bind(port, address, resolve));
    port = socket.address().port;
  }
  console.log(port);
})();
process.stdin.on('end', () => process.exit(0)).resume();
`;

/** Starts a UDP echo bound to each of `addresses` (one port for all) in `ns`; resolves with the port. */
export async function startBoundEcho(
  kit: NetnsKit,
  ns: Netns,
  addresses: readonly string[],
): Promise<number> {
  const helper = kit.track(new NodeHelper(ns.name, { script: BOUND_ECHO, args: [...addresses] }));
  return Number(await helper.nextLine(`bound echo in ${ns.name}`));
}

/** Whether `tattler agent` exists yet: why the daemon tests must be skipped, or `undefined`. */
export function checkAgentDaemon(): string | undefined {
  const source = fileURLToPath(new URL('../../src/cli/commands/agent.ts', import.meta.url));
  const built = fileURLToPath(new URL('../cli/commands/agent.js', import.meta.url));
  if (!existsSync(source)) return 'agent daemon not built yet (no src/cli/commands/agent.ts)';
  if (!existsSync(built)) return 'agent daemon not built yet (run npx tsc -b)';
  return undefined;
}

/** What goes into an agent's config file (docs/agent.md). */
export interface AgentConfigOptions {
  readonly stateDir: string;
  /** root.cbor and collector.cert.cbor are read from here (the collector's directory). */
  readonly trustDir: string;
  readonly mode?: 'identified' | 'private' | 'off';
  readonly model?: string;
  readonly vendor?: string;
  readonly version?: string;
}

/** Writes an agent config (DIR-859 1.05B03, identified, both anycast collectors) to `file`. */
export async function writeAgentConfig(file: string, options: AgentConfigOptions): Promise<string> {
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
  await writeFile(
    file,
    [
      `device: {vendor: ${options.vendor ?? 'dlink'}, model: ${options.model ?? 'dir859'}, hardwareVersion: A1, software: {name: firmware, version: ${quote(options.version ?? '1.05B03')}}}`,
      `mode: ${options.mode ?? 'identified'}`,
      `collectors: [{address: ${ADDRESSES.collector.v4}}, {address: ${quote(ADDRESSES.collector.v6)}}]`,
      `trust: {root: ${quote(join(options.trustDir, 'root.cbor'))}, certificates: [${quote(join(options.trustDir, 'collector.cert.cbor'))}]}`,
      `remediationHosts: [${ADDRESSES.remediation.v4}, ${quote(ADDRESSES.remediation.v6)}]`,
      `stateDir: ${quote(options.stateDir)}`,
      'enforcement: true',
      'quarantine: {table: 4750, priority: 90}',
      `dns: [${ADDRESSES.homeLan.v4}]`,
      '',
    ].join('\n'),
  );
  return file;
}

/** One JSON log line of the agent. */
export interface AgentLogLine {
  readonly event: string;
  /** Epoch ms of the line's `time`. */
  readonly timeMs: number;
  readonly index: number;
  readonly fields: Readonly<Record<string, unknown>>;
}

const logLineJson = z.looseObject({ event: z.string(), time: z.string() });

function parseAgentLine(line: string, index: number): AgentLogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = logLineJson.safeParse(value);
  if (!parsed.success) return undefined;
  return {
    event: parsed.data.event,
    timeMs: Date.parse(parsed.data.time),
    index,
    fields: parsed.data,
  };
}

/** `tattler agent --config FILE --log-format json` running in a device namespace. */
export class AgentProcess {
  readonly process: NetnsProcess;
  readonly ns: Netns;

  private constructor(ns: Netns, process: NetnsProcess) {
    this.ns = ns;
    this.process = process;
  }

  /** Starts the agent in `ns` and waits for its `started` line. */
  static async start(group: ProcessGroup, ns: Netns, config: string): Promise<AgentProcess> {
    const process = group.start(ns, {
      name: `agent in ${ns.name}`,
      file: globalThis.process.execPath,
      args: [TATTLER_BIN, 'agent', '--config', config, '--log-format', 'json'],
    });
    const agent = new AgentProcess(ns, process);
    await agent.waitFor('started');
    return agent;
  }

  /** Every JSON log line so far. */
  log(): AgentLogLine[] {
    return this.process
      .lines()
      .map((line, index) => parseAgentLine(line, index))
      .filter((line) => line !== undefined);
  }

  /** The line count so far: pass as `from` to wait only for later lines. */
  mark(): number {
    return this.process.lines().length;
  }

  /** Resolves with the first log line from `from` on with this `event` (and matching `where`). */
  async waitFor(
    event: string,
    options: {
      readonly from?: number;
      readonly timeoutMs?: number;
      readonly where?: (line: AgentLogLine) => boolean;
    } = {},
  ): Promise<AgentLogLine> {
    const found = await this.process.waitForLine(
      (line, index) => {
        const parsed = parseAgentLine(line, index);
        return parsed?.event === event && (options.where?.(parsed) ?? true);
      },
      {
        ...(options.from === undefined ? {} : { from: options.from }),
        timeoutMs: options.timeoutMs ?? AGENT_EVENT_TIMEOUT_MS,
        what: `agent event "${event}"`,
      },
    );
    const parsed = parseAgentLine(found.line, found.index);
    if (parsed === undefined) throw new Error('unreachable: matched line does not parse');
    return parsed;
  }

  /**
   * SIGUSR1: announce now. Only once the agent has announced by itself: until its handler is
   * installed (after `started`), SIGUSR1 starts Node.js's inspector instead.
   */
  announceNow(): void {
    this.process.signal('SIGUSR1');
  }

  /** The agent's local UDP port for `family` (read with `ss` in its namespace). */
  async port(family: 4 | 6): Promise<number> {
    const text = await this.ns.run('ss', ['-H', '-u', '-a', '-n', '-p']);
    const pid = `pid=${String(this.process.pid)},`;
    for (const line of text.split('\n')) {
      if (!line.includes(pid)) continue;
      const local = line.trim().split(/\s+/)[3] ?? '';
      const match =
        family === 4
          ? /^0\.0\.0\.0:(\d+)$/.exec(local)
          : (/^\[::\]:(\d+)$/.exec(local) ?? /^\*:(\d+)$/.exec(local));
      if (match?.[1] !== undefined) return Number(match[1]);
    }
    throw new Error(
      `agent in ${this.ns.name}: no IPv${String(family)} socket in ss output:\n${text}`,
    );
  }
}

// Reads {hex, to, port, from, fromPort} lines and sends the bytes from from:fromPort (an address
// of this namespace: the spoofed one); prints "sent".
const SPOOFER = `
const dgram = require('node:dgram');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const { hex, to, port, from, fromPort } = JSON.parse(line);
  const socket = dgram.createSocket(to.includes(':') ? 'udp6' : 'udp4');
  socket.bind(fromPort, from, () => {
    socket.send(Buffer.from(hex, 'hex'), port, to, (error) => {
      socket.close();
      console.log(error ? 'error ' + error.code : 'sent');
    });
  });
});
process.stdin.on('end', () => process.exit(0));
console.log('ready');
`;

/** Sends datagrams from a spoofed source address (added to the namespace's loopback first). */
export class Spoofer {
  readonly #helper: NodeHelper;

  private constructor(helper: NodeHelper) {
    this.#helper = helper;
  }

  /** Adds `addresses` to `ns`'s loopback and starts the sender there. */
  static async start(kit: NetnsKit, ns: Netns, addresses: readonly string[]): Promise<Spoofer> {
    for (const address of addresses) {
      await ns.addAddress('lo', `${address}/${address.includes(':') ? '128' : '32'}`);
    }
    const helper = kit.track(new NodeHelper(ns.name, { script: SPOOFER, args: [] }));
    await helper.nextLine(`spoofer in ${ns.name}`);
    return new Spoofer(helper);
  }

  /** Sends `bytes` to `to`:`port` from `from`:`fromPort`. */
  async send(
    bytes: Uint8Array,
    target: { to: string; port: number; from: string; fromPort: number },
  ): Promise<void> {
    this.#helper.send(JSON.stringify({ hex: Buffer.from(bytes).toString('hex'), ...target }));
    const answer = await this.#helper.nextLine('spoofed send');
    if (answer !== 'sent') throw new Error(`spoofer: ${answer}`);
  }
}

const TESTING_URL = new URL('./', import.meta.url).href;

// A collector impostor on the anycast addresses, holding the real (certified) collector key: it
// answers every announcement with a FAIL bound to the request's nonce, token, destination and
// source, carrying a feed record signed by the real feed key with `argv[2]` overrides (JSON), e.g.
// another model, or eligible: false. Prints "ready".
const IMPOSTOR = `
(async () => {
  const base = process.argv[1];
  const p = await import(base + '../protocol/index.js');
  const { TRUST_KEYS } = await import(base + 'trust-keys.js');
  const { deviceRecord } = await import(base + 'trust-fixture.js');
  const overrides = JSON.parse(process.argv[2]);
  const addresses = JSON.parse(process.argv[3]);
  const dgram = require('node:dgram');
  const now = Math.floor(Date.now() / 1000);
  const record = p.readFeedRecord(p.signFeedRecord(TRUST_KEYS.feed,
    deviceRecord({ issuedAt: now - 3600, expiresAt: now + 30 * 86400, ...overrides })));
  for (const address of addresses) {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (message, peer) => {
      try {
        const { frame, request } = p.decodeRequest(new Uint8Array(message));
        if (request.kind !== 'identified' && request.kind !== 'private') return;
        const verdict = p.signVerdict(TRUST_KEYS.collector, { nonce: request.nonce, status: 'fail',
          destination: p.parseIp(address), source: p.parseIp(peer.address), lifetimeSeconds: 86400,
          feedVersion: record.value.feedVersion, record });
        const answer = p.encodeResponse(frame, { kind: 'verdict', signed: p.encodeCbor(verdict) }, p.COAP_CODE.POST);
        socket.send(answer, peer.port, peer.address);
      } catch (error) { console.error(String(error)); }
    });
    await new Promise((resolve) => socket.bind(5683, address, resolve));
  }
  console.log('ready');
})();
process.stdin.on('end', () => process.exit(0)).resume();
`;

/**
 * Starts a collector impostor in `ns` on the anycast addresses (stop the real collector first):
 * a certified key answering FAIL with a feed record changed by `recordOverrides`.
 */
export async function startImpostor(
  kit: NetnsKit,
  ns: Netns,
  recordOverrides: Readonly<Record<string, unknown>>,
): Promise<NodeHelper> {
  const helper = kit.track(
    new NodeHelper(ns.name, {
      script: IMPOSTOR,
      args: [
        TESTING_URL,
        JSON.stringify(recordOverrides),
        JSON.stringify([ADDRESSES.collector.v4, ADDRESSES.collector.v6]),
      ],
    }),
  );
  await helper.nextLine(`impostor in ${ns.name}`);
  return helper;
}
