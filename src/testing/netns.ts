/**
 * Network-namespace topologies for tests: namespaces with a per-run prefix, veth links,
 * addresses, UDP echo servers and probes, and one cleanup that removes everything it made.
 * @module
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { runTool } from './external-tool.ts';

/** How long one `ip` run, helper start or probe answer may take before the test fails. */
const COMMAND_TIMEOUT_MS = 10_000;
const INSTALL_HINT = 'the Debian package iproute2';

let namespaceCounter = 0;

/**
 * Why a test cannot build namespaces, or `undefined` when it can: needs root, `ip netns` and a
 * kernel that lets us create one (a probe namespace is created and deleted).
 * @example test('…', { skip: await checkNetns() }, async (t) => { … });
 */
export async function checkNetns(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  const probe = `ttl-${process.pid}-probe`;
  let added;
  try {
    added = await runTool('ip', ['netns', 'add', probe], { timeoutMs: COMMAND_TIMEOUT_MS });
  } catch {
    return `ip is not available (install ${INSTALL_HINT})`;
  }
  if (added.exitCode !== 0) {
    return `\`ip netns add\` failed (${added.stderr.trim() || String(added.exitCode)}); install ${INSTALL_HINT}`;
  }
  await runTool('ip', ['netns', 'del', probe], { timeoutMs: COMMAND_TIMEOUT_MS });
  return undefined;
}

/** Runs `ip args` and resolves with stdout; rejects with the command and its stderr. */
async function runIp(args: readonly string[]): Promise<string> {
  const result = await runTool('ip', args, { timeoutMs: COMMAND_TIMEOUT_MS });
  if (result.exitCode !== 0) {
    throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || String(result.exitCode)}`);
  }
  return result.stdout;
}

const linkJson = z.array(z.object({ operstate: z.string() }));
const probeAnswer = z.object({ id: z.number(), detail: z.string() });

/** A running UDP echo server inside a namespace. */
export interface EchoServer {
  readonly port: number;
  /** Stops the server and waits until it has exited. */
  close(): Promise<void>;
}

/** How a probe ended: an echo came back, or why not (`ENETUNREACH`, `EACCES`, `TIMEOUT`, …). */
export interface ProbeResult {
  readonly reached: boolean;
  readonly detail: string;
}

// Binds [::]:port dual-stack and echoes every datagram to its sender; prints the port when ready.
const ECHO_SERVER = `
const socket = require('node:dgram').createSocket({ type: 'udp6', ipv6Only: false });
socket.on('message', (message, peer) => socket.send(message, peer.port, peer.address));
socket.bind(Number(process.argv[1]), '::', () => console.log(socket.address().port));
process.stdin.on('end', () => process.exit(0)).resume();
`;

// Reads one JSON probe a line, {id, address, port, timeoutMs}; for each, sends one datagram from
// a new connected socket (so each probe sees the routes of its moment) and prints {id, detail}:
// ECHO on the same bytes back, else the error code. A route that says no fails at connect, at
// once; TIMEOUT only when the datagram left and nothing came back.
const PROBER = `
const dgram = require('node:dgram');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, address, port, timeoutMs } = JSON.parse(line);
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  const token = Buffer.from('tattler-probe-' + id);
  let timer;
  const done = (detail) => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    try { socket.close(); } catch {}
    console.log(JSON.stringify({ id, detail }));
  };
  timer = setTimeout(() => done('TIMEOUT'), timeoutMs);
  socket.on('error', (error) => done(error.code ?? String(error)));
  socket.on('message', (message) => { if (message.equals(token)) done('ECHO'); });
  socket.connect(port, address, (error) => {
    if (error) return done(error.code ?? String(error));
    socket.send(token, (sendError) => { if (sendError) done(sendError.code ?? String(sendError)); });
  });
});
process.stdin.on('end', () => process.exit(0));
`;

/** A Node.js script running in a namespace, spoken to in lines over stdin/stdout. */
export class NodeHelper {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string | undefined) => void)[] = [];
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
  #stderr = '';

  /** Starts `script` with `args` under `ip netns exec <ns> node -e`. */
  constructor(ns: string, program: { readonly script: string; readonly args: readonly string[] }) {
    const { script, args } = program;
    this.#child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args]);
    this.exited = new Promise((resolve) => {
      this.#child.once('close', () => {
        for (const waiter of this.#waiters.splice(0)) waiter(undefined);
        resolve();
      });
    });
    this.#child.once('error', () => undefined);
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#lines.push(line);
      else waiter(line);
    });
  }

  /** The next line the script prints; rejects when it exits or stays silent for too long. */
  async nextLine(what: string): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return queued;
    let timer: NodeJS.Timeout | undefined;
    const line = await new Promise<string | undefined>((resolve) => {
      timer = setTimeout(() => {
        resolve(undefined);
      }, COMMAND_TIMEOUT_MS);
      this.#waiters.push(resolve);
    }).finally(() => {
      clearTimeout(timer);
    });
    if (line === undefined) throw new Error(`${what}: no answer (${this.#stderr.trim()})`);
    return line;
  }

  /** Writes one line to the script's stdin. */
  send(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Closes its stdin (the scripts exit on that) and waits; kills it if it will not go. */
  async stop(): Promise<void> {
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** One network namespace made by a {@link NetnsKit}. */
export class Netns {
  readonly name: string;
  readonly #kit: NetnsKit;
  #prober: NodeHelper | undefined;
  #probes = 0;

  /** Use {@link NetnsKit.addNamespace}. */
  constructor(name: string, kit: NetnsKit) {
    this.name = name;
    this.#kit = kit;
  }

  /** Runs `ip args` inside this namespace (`ip -n`) and resolves with stdout. */
  ip(args: readonly string[]): Promise<string> {
    return runIp(['-n', this.name, ...args]);
  }

  /** Runs `file args` inside this namespace and resolves with stdout; rejects on failure. */
  async run(file: string, args: readonly string[]): Promise<string> {
    const all = ['netns', 'exec', this.name, file, ...args];
    const result = await runTool('ip', all, { timeoutMs: COMMAND_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      throw new Error(
        `${file} in ${this.name}: exit ${String(result.exitCode)}: ${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  }

  /** Sets sysctls (dotted keys, e.g. `net.ipv4.ip_forward`) to numbers, in one run. */
  async sysctl(settings: Readonly<Record<string, number>>): Promise<void> {
    const writes = Object.entries(settings).map(([key, value]) => {
      if (!/^[a-z0-9_.-]+$/.test(key) || !Number.isInteger(value)) {
        throw new RangeError(`sysctl: bad setting ${key}=${value}`);
      }
      return `echo ${value} > /proc/sys/${key.replaceAll('.', '/')}`;
    });
    await this.run('sh', ['-ec', writes.join('\n')]);
  }

  /** Adds `cidr` to `dev`; IPv6 addresses get `nodad` so they are usable at once. */
  async addAddress(dev: string, cidr: string): Promise<void> {
    const v6 = cidr.includes(':');
    await this.ip([v6 ? '-6' : '-4', 'address', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
  }

  /** Turns on IPv4 and IPv6 forwarding, as on a router. */
  async enableForwarding(): Promise<void> {
    await this.sysctl({ 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
  }

  /** Starts a UDP echo server on `port` (0: any) of every address here, IPv4 and IPv6. */
  async startUdpEcho(port = 0): Promise<EchoServer> {
    const helper = this.#kit.track(
      new NodeHelper(this.name, { script: ECHO_SERVER, args: [String(port)] }),
    );
    const bound = Number(await helper.nextLine(`echo server in ${this.name}`));
    return { port: bound, close: () => helper.stop() };
  }

  /**
   * Sends one UDP datagram to `address`:`port` from here and waits for its echo. Probes run
   * one at a time through one helper process per namespace, started on first use.
   */
  async probeUdp(
    address: string,
    port: number,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<ProbeResult> {
    const timeoutMs = options.timeoutMs ?? 2000;
    this.#prober ??= this.#kit.track(new NodeHelper(this.name, { script: PROBER, args: [] }));
    this.#probes += 1;
    const id = this.#probes;
    this.#prober.send(JSON.stringify({ id, address, port, timeoutMs }));
    const answer = probeAnswer.parse(
      JSON.parse(await this.#prober.nextLine(`probe from ${this.name}`)),
    );
    if (answer.id !== id) throw new Error(`probe from ${this.name}: answer ${answer.id} to ${id}`);
    return { reached: answer.detail === 'ECHO', detail: answer.detail };
  }
}

/** One end of a veth link for {@link NetnsKit.link}. */
export interface LinkEnd {
  readonly ns: Netns;
  readonly dev: string;
  /** Addresses with prefix length, IPv4 or IPv6. */
  readonly addresses?: readonly string[];
}

/**
 * Makes namespaces named `ttl-<pid>-<n>-<label>` and tracks everything it starts, so that one
 * {@link NetnsKit.cleanup} (register it with `t.after`) removes it all, also after a failure.
 * @example const kit = new NetnsKit(); t.after(() => kit.cleanup()); const a = await kit.addNamespace('a');
 */
export class NetnsKit {
  readonly #namespaces: string[] = [];
  readonly #helpers = new Set<NodeHelper>();
  readonly #linkEnds: LinkEnd[] = [];

  /** A new namespace with loopback up, no IPv6 DAD and no router advertisements accepted. */
  async addNamespace(label: string): Promise<Netns> {
    if (!/^[a-z0-9-]{1,20}$/.test(label)) throw new RangeError(`namespace label: ${label}`);
    namespaceCounter += 1;
    const name = `ttl-${process.pid}-${namespaceCounter}-${label}`;
    await runIp(['netns', 'add', name]);
    this.#namespaces.push(name);
    const ns = new Netns(name, this);
    await ns.ip(['link', 'set', 'lo', 'up']);
    // Before any link exists, so that every interface inherits them: addresses usable at once,
    // and only the routes a test adds (no default route from a stray router advertisement).
    await ns.sysctl({
      'net.ipv6.conf.all.accept_dad': 0,
      'net.ipv6.conf.default.accept_dad': 0,
      'net.ipv6.conf.default.accept_ra': 0,
    });
    return ns;
  }

  /** Connects `a` and `b` with a veth pair, adds their addresses and brings both ends up. */
  async link(a: LinkEnd, b: LinkEnd): Promise<void> {
    await a.ns.ip([
      'link',
      'add',
      a.dev,
      'type',
      'veth',
      'peer',
      'name',
      b.dev,
      'netns',
      b.ns.name,
    ]);
    for (const end of [a, b]) {
      for (const cidr of end.addresses ?? []) await end.ns.addAddress(end.dev, cidr);
      await end.ns.ip(['link', 'set', end.dev, 'up']);
      this.#linkEnds.push(end);
    }
  }

  /**
   * Waits until every veth end made so far is operationally up. The kernel reports carrier
   * changes in batches up to a second apart (linkwatch), and a neighbour solicitation sent
   * before then is lost and retried only a second later (RetransTimer), so tests call this once
   * after building a topology. Re-reads `ip -json link` (a few ms a run) until `timeoutMs`.
   */
  async waitUntilUp(timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (const { ns, dev } of this.#linkEnds) {
      for (;;) {
        const text = await ns.ip(['-json', 'link', 'show', 'dev', dev]);
        if (linkJson.parse(JSON.parse(text))[0]?.operstate === 'UP') break;
        if (performance.now() > deadline) {
          throw new Error(`${dev} in ${ns.name}: not up after ${timeoutMs} ms`);
        }
      }
    }
  }

  /** Used by {@link Netns}: registers a helper process for cleanup. */
  track(helper: NodeHelper): NodeHelper {
    this.#helpers.add(helper);
    void helper.exited.then(() => this.#helpers.delete(helper));
    return helper;
  }

  /** Stops every helper process and deletes every namespace (with its links) this kit made. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.#helpers].map((helper) => helper.stop()));
    const failures: string[] = [];
    for (const name of this.#namespaces.splice(0).reverse()) {
      const result = await runTool('ip', ['netns', 'del', name], { timeoutMs: COMMAND_TIMEOUT_MS });
      if (result.exitCode !== 0) failures.push(`${name}: ${result.stderr.trim()}`);
    }
    if (failures.length > 0) throw new Error(`netns cleanup: ${failures.join('; ')}`);
  }
}
