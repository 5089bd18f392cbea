/**
 * `npm run bench:collector`: the collector under open-loop UDP load beside two baselines (a bare
 * `node:dgram` echo and the `coap` package), each in its own process, driven by the C load
 * generator tools/udp-load.c. Finds each server's highest rate at < 0.1 % loss, its latency at
 * 50 % and 80 % of it and its memory drift, and rewrites the `bench:collector` section of
 * docs/PERFORMANCE.md. The search, the mixes and the rendering are plain functions elsewhere.
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { z } from 'zod';
import { createCollectorState, onDatagram } from '../collector/core.ts';
import { sign } from '../crypto/index.ts';
import { decodeResponse, sign1ToBeSigned } from '../protocol/index.ts';
import {
  NOW,
  certificateBytes,
  testBundle,
  testBundleBytes,
  writeCollectorDir,
} from '../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { describeEnvironment, publishReport } from './environment.ts';
import { MEASURE_DEFAULTS, measureCases, type Measurement } from './measure.ts';
import {
  buildMixDatagrams,
  checkAnswer,
  expectedAnswer,
  mixDatagram,
  MIX_LABELS,
  type ExpectedAnswer,
  type Mix,
} from './collector-mixes.ts';
import {
  SEARCH_DEFAULTS,
  isPassing,
  MAX_P99_US,
  searchMaxRate,
  type SearchOptions,
  type StepOutcome,
} from './collector-search.ts';
import {
  SIGN_ID,
  collectorRatios,
  goalNotes,
  rateMeasurements,
  renderDetailTable,
  type ComboResult,
  type LatencyRun,
  type ServerKind,
} from './collector-report.ts';
import { formatNumber } from './performance-section.ts';

const COMMAND = 'npm run bench:collector';
const SECTION = 'collector';
const HOST = '127.0.0.1';
const LISTENING = /listening on 127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const ANSWER_TIMEOUT_MS = 2_000;
/** Pause between steps, so a server drains what it queued before the next rate starts. */
const SETTLE_MS = 300;
/** Answers later than this after the last send count as lost. */
const DRAIN_MS = 500;
const GENERATOR_SOCKETS = 8;

const PACKAGE_ROOT = new URL('../../', import.meta.url);
const pathOf = (relative: string): string => fileURLToPath(new URL(relative, PACKAGE_ROOT));
const execFileAsync = promisify(execFile);

/** How long each part runs; `--quick` shrinks all of it to a smoke run. */
interface Plan {
  readonly stepSeconds: number;
  readonly driftSeconds: number;
  readonly warmupSeconds: number;
  readonly search: SearchOptions;
  readonly signWarmupNs: bigint;
  readonly signRunNs: bigint;
}

/** One server process to measure and the mixes it gets; the 80 % run of `driftMix` lasts the drift window. */
interface ServerPlan {
  readonly kind: ServerKind;
  readonly workers: number;
  readonly mixes: readonly Mix[];
  readonly driftMix: Mix | undefined;
}

const SERVERS: readonly ServerPlan[] = [
  // The echo answers any bytes alike: one mix is enough, and it keeps nothing that could drift.
  { kind: 'echo', workers: 1, mixes: ['pass'], driftMix: undefined },
  { kind: 'coap', workers: 1, mixes: ['pass', 'private'], driftMix: 'pass' },
  { kind: 'collector', workers: 1, mixes: ['pass', 'fail10', 'fail', 'private'], driftMix: 'pass' },
  { kind: 'collector', workers: 2, mixes: ['pass', 'fail10', 'fail', 'private'], driftMix: 'pass' },
];

const GeneratorReport = z.object({
  targetRate: z.number(),
  scheduled: z.number(),
  sent: z.number(),
  sendErrors: z.number(),
  received: z.number(),
  lost: z.number(),
  lossFraction: z.number(),
  unexpected: z.number(),
  duplicates: z.number(),
  latencyUs: z.object({ p50: z.number(), p90: z.number(), p99: z.number(), max: z.number() }),
  sendRate: z.number(),
  maxSendLagUs: z.number(),
  bytesSent: z.number(),
  bytesReceived: z.number(),
  cpuUserSeconds: z.number(),
  cpuSystemSeconds: z.number(),
  wallSeconds: z.number(),
  cpuShare: z.number(),
});
type GeneratorReport = z.infer<typeof GeneratorReport>;

function progress(line: string): void {
  process.stderr.write(`bench:collector: ${line}\n`);
}

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`--${name}: expected a positive number of seconds, got "${text}"`);
  return value;
}

function planOf(argv: readonly string[]): Plan {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      'step-seconds': { type: 'string' },
      'drift-seconds': { type: 'string' },
    },
    strict: true,
  });
  const quick = values.quick;
  return {
    stepSeconds: positiveNumber(values['step-seconds'], 'step-seconds', quick ? 0.75 : 1.5),
    driftSeconds: positiveNumber(values['drift-seconds'], 'drift-seconds', quick ? 3 : 60),
    warmupSeconds: quick ? 0.5 : 2,
    search: quick ? { ...SEARCH_DEFAULTS, resolution: 0.25, retries: 0 } : SEARCH_DEFAULTS,
    signWarmupNs: quick ? 200_000_000n : MEASURE_DEFAULTS.warmupNs,
    signRunNs: quick ? 300_000_000n : MEASURE_DEFAULTS.runNs,
  };
}

/** Kills what this run started, also on Ctrl-C: every child goes through here. */
class Children {
  readonly #running = new Set<ChildProcess>();
  readonly abort = new AbortController();

  track(child: ChildProcess): ChildProcess {
    this.#running.add(child);
    child.once('exit', () => this.#running.delete(child));
    return child;
  }

  /** SIGKILL to every child still running; synchronous, for the `exit` event. */
  killAll(): void {
    for (const child of this.#running) child.kill('SIGKILL');
  }
}

async function buildGenerator(dir: string): Promise<string> {
  const binary = join(dir, 'udp-load');
  await execFileAsync('gcc', [
    '-O2',
    '-std=c99',
    '-Wall',
    '-Wextra',
    '-o',
    binary,
    pathOf('tools/udp-load.c'),
  ]);
  return binary;
}

/**
 * `pid` and its descendants (the collector's workers): every /proc/N/stat read once for its parent
 * (field 4), as `pgrep -P` does; /proc/PID/task/TID/children is missing on some kernels.
 */
async function processTree(pid: number): Promise<number[]> {
  const childrenOf = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(parent)) continue;
    childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === undefined || found.includes(next)) continue;
    found.push(next);
    pending.push(...(childrenOf.get(next) ?? []));
  }
  return found;
}

/** Summed VmRSS of `pid` and its descendants, bytes; undefined when none could be read. */
async function treeRssBytes(pid: number): Promise<number | undefined> {
  let total: number | undefined;
  for (const member of await processTree(pid)) {
    const status = await readFile(`/proc/${member}/status`, 'utf8').catch(() => '');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    if (kb !== undefined) total = (total ?? 0) + Number(kb) * 1024;
  }
  return total;
}

/** Summed user + system CPU seconds of `pid` and its descendants so far (/proc/PID/stat fields 14, 15). */
async function treeCpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  let ticks = 0;
  for (const member of await processTree(pid)) {
    const stat = await readFile(`/proc/${member}/stat`, 'utf8').catch(() => '');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / ticksPerSecond;
}

interface RunningServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly log: () => string;
}

async function startServer(
  children: Children,
  argv: readonly string[],
  name: string,
): Promise<RunningServer> {
  const child = children.track(
    spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  let tail = '';
  let resolvePort: (port: number) => void = () => undefined;
  let rejectPort: (err: Error) => void = () => undefined;
  const ready = new Promise<number>((resolve, reject) => {
    resolvePort = resolve;
    rejectPort = reject;
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
    const port = LISTENING.exec(tail)?.[1];
    if (port !== undefined) resolvePort(Number(port));
  });
  child.once('exit', (code, signal) => {
    rejectPort(new Error(`${name} exited (${signal ?? String(code)}) before listening:\n${tail}`));
  });
  const timer = setTimeout(() => {
    rejectPort(
      new Error(`${name}: no "listening on" line within ${START_TIMEOUT_MS} ms:\n${tail}`),
    );
  }, START_TIMEOUT_MS);
  try {
    return { child, port: await ready, log: () => tail };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function stopServer(server: RunningServer): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Sends one datagram and returns the first answer, or throws after {@link ANSWER_TIMEOUT_MS}. */
async function askOnce(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const socket = createSocket('udp4');
  try {
    socket.bind(0, HOST);
    await once(socket, 'listening');
    const answered = once(socket, 'message', { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    socket.send(bytes, port, HOST);
    const values: unknown[] = await answered;
    const answer = values[0];
    if (!Buffer.isBuffer(answer)) throw new TypeError('dgram: a message that is not a Buffer');
    return new Uint8Array(answer);
  } finally {
    socket.close();
  }
}

/** Checks one real answer of every kind the mix expects; throws, naming what came back, if one is wrong. */
async function checkMix(kind: ServerKind, port: number, mix: Mix): Promise<void> {
  const indices = mix === 'fail10' ? [0, 1] : [0];
  for (const index of indices) {
    const token = Uint8Array.of(0xbe, 0x7c, 0x41, 0, 0, 0, 0, index);
    const request = mixDatagram(mix, index, token);
    let answer: Uint8Array;
    try {
      answer = await askOnce(port, request);
    } catch (err) {
      throw new Error(
        `${kind} · ${MIX_LABELS[mix]}: no answer to request ${index} within ${ANSWER_TIMEOUT_MS} ms`,
        { cause: err },
      );
    }
    const expected: ExpectedAnswer = expectedAnswer(mix, index);
    const problem =
      kind === 'echo'
        ? Buffer.from(answer).equals(Buffer.from(request))
          ? undefined
          : 'the echo differs from the request'
        : checkAnswer(request, answer, {
            answer: expected,
            signer: TRUST_KEYS.collector.publicKey,
          });
    if (problem !== undefined)
      throw new Error(`${kind} · ${MIX_LABELS[mix]}: request ${index}: ${problem}`);
  }
}

async function runGenerator(
  children: Children,
  binary: string,
  args: { file: string; port: number; rate: number; seconds: number },
): Promise<GeneratorReport> {
  const argv = [
    args.file,
    HOST,
    String(args.port),
    String(Math.round(args.rate)),
    String(args.seconds),
    String(GENERATOR_SOCKETS),
    String(DRAIN_MS),
  ];
  const child = children.track(
    execFile(binary, argv, { signal: children.abort.signal, maxBuffer: 1 << 20 }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer | string) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer | string) => (stderr += chunk.toString()));
  const exit: unknown[] = await once(child, 'exit');
  const code = exit[0];
  if (code !== 0)
    throw new Error(`udp-load ${argv.join(' ')}: exit ${String(code)}: ${stderr.trim()}`);
  return GeneratorReport.parse(JSON.parse(stdout));
}

function latencyOf(report: GeneratorReport): LatencyRun {
  return {
    rate: report.targetRate,
    lossFraction: report.lossFraction,
    p50Us: report.latencyUs.p50,
    p99Us: report.latencyUs.p99,
  };
}

function describeStep(report: GeneratorReport): string {
  const extra =
    report.unexpected + report.duplicates > 0
      ? `, ${report.unexpected} unexpected, ${report.duplicates} duplicate answers`
      : '';
  return (
    `loss ${(report.lossFraction * 100).toFixed(3)} % (${report.lost} of ${report.scheduled}${report.sendErrors > 0 ? `, ${report.sendErrors} not sent` : ''}${extra}), ` +
    `p50 ${(report.latencyUs.p50 / 1000).toFixed(2)} ms, p99 ${(report.latencyUs.p99 / 1000).toFixed(2)} ms, ` +
    `sent at ${formatNumber(report.sendRate)}/s, generator CPU ${Math.round(report.cpuShare * 100)} %`
  );
}

/** Measures one server on each of its mixes; the server is started here and always stopped. */
interface BenchContext {
  readonly children: Children;
  readonly plan: Plan;
  readonly binary: string;
  readonly dir: string;
  readonly mixFiles: ReadonlyMap<Mix, string>;
  /** `getconf CLK_TCK`: the unit of /proc/PID/stat's CPU times. */
  readonly ticksPerSecond: number;
}

async function measureServer(context: BenchContext, server: ServerPlan): Promise<ComboResult[]> {
  const { children, plan, binary, dir } = context;
  const name =
    server.kind === 'collector'
      ? `collector (${server.workers} worker${server.workers === 1 ? '' : 's'})`
      : server.kind;
  let argv: string[];
  switch (server.kind) {
    case 'echo':
      argv = [pathOf('dist/bench/baselines/echo-server.js')];
      break;
    case 'coap':
      argv = [pathOf('dist/bench/baselines/coap-server.js'), await serverDir(dir, 1)];
      break;
    case 'collector':
      argv = [
        pathOf('bin/tattler.js'),
        'collector',
        '--config',
        join(await serverDir(dir, server.workers), 'collector.yaml'),
      ];
      break;
  }
  progress(`starting ${name}`);
  const running = await startServer(children, argv, name);
  const results: ComboResult[] = [];
  try {
    for (const mix of server.mixes) {
      const file = context.mixFiles.get(mix);
      if (file === undefined) throw new Error(`no datagram file for mix ${mix}`);
      const label = `${name} · ${server.kind === 'echo' ? 'echo' : MIX_LABELS[mix]}`;
      await checkMix(server.kind, running.port, mix);
      const step = async (rate: number, seconds: number): Promise<GeneratorReport> => {
        if (children.abort.signal.aborted) throw new Error('interrupted');
        const report = await runGenerator(children, binary, {
          file,
          port: running.port,
          rate,
          seconds,
        });
        progress(`${label} · ${formatNumber(rate)}/s for ${seconds} s: ${describeStep(report)}`);
        await sleep(SETTLE_MS);
        return report;
      };
      // Warm-up (JIT, buffers), not counted; it also proves the mix gets answers under load.
      const warm = await step(plan.search.startRate / 2, plan.warmupSeconds);
      if (warm.received === 0)
        throw new Error(`${label}: no answers at all during the warm-up:\n${running.log()}`);
      const reports = new Map<number, GeneratorReport>();
      const search = await searchMaxRate(async (rate): Promise<StepOutcome> => {
        const report = await step(rate, plan.stepSeconds);
        reports.set(rate, report);
        return { rate, lossFraction: report.lossFraction, p99Us: report.latencyUs.p99 };
      }, plan.search);
      progress(
        `${label}: max ${formatNumber(search.maxRate)}/s at < 0.1 % loss and p99 ≤ 20 ms${search.failedRate === undefined ? '' : ` (${formatNumber(search.failedRate)}/s lost more)`}`,
      );
      let atHalf: LatencyRun | undefined;
      let atEighty: LatencyRun | undefined;
      let rssStartBytes: number | undefined;
      let rssEndBytes: number | undefined;
      let serverCpuUsPerAnswer: number | undefined;
      const eightySeconds = mix === server.driftMix ? plan.driftSeconds : plan.stepSeconds;
      if (search.maxRate > 0) {
        atHalf = latencyOf(await step(search.maxRate * 0.5, plan.stepSeconds));
        const pid = running.child.pid;
        rssStartBytes = pid === undefined ? undefined : await treeRssBytes(pid);
        const cpuBefore = pid === undefined ? 0 : await treeCpuSeconds(pid, context.ticksPerSecond);
        const eighty = await step(search.maxRate * 0.8, eightySeconds);
        const cpuSeconds =
          (pid === undefined ? 0 : await treeCpuSeconds(pid, context.ticksPerSecond)) - cpuBefore;
        rssEndBytes = pid === undefined ? undefined : await treeRssBytes(pid);
        atEighty = latencyOf(eighty);
        serverCpuUsPerAnswer =
          eighty.received > 0 ? (cpuSeconds * 1e6) / eighty.received : undefined;
      }
      const atMax = search.steps
        .filter(isPassing)
        .find((s) => Math.round(s.rate) === search.maxRate);
      results.push({
        server: server.kind,
        workers: server.workers,
        mix,
        maxRate: search.maxRate,
        failedRate: search.failedRate,
        generatorCpuShare: atMax === undefined ? 0 : (reports.get(atMax.rate)?.cpuShare ?? 0),
        atHalf,
        atEighty,
        rssStartBytes,
        rssEndBytes,
        eightySeconds,
        serverCpuUsPerAnswer,
      });
    }
  } finally {
    await stopServer(running);
    progress(`stopped ${name}`);
  }
  return results;
}

/**
 * The collector's files for `workers` workers under `dir/wN`: the fixture's, with a feed issued an
 * hour ago instead of at the fixture's fixed date (the CLI collector runs on the real clock, and
 * refuses an expired feed).
 */
async function serverDir(dir: string, workers: number): Promise<string> {
  const own = join(dir, `w${workers}`);
  await mkdir(own, { recursive: true });
  await writeCollectorDir(own, [`workers: ${workers}`]);
  const nowSeconds = Math.floor(Date.now() / 1000);
  await writeFile(
    join(own, 'bundle.cbor'),
    testBundleBytes({ issuedAt: nowSeconds - 3_600, expiresAt: nowSeconds + 7 * 86_400 }),
  );
  return own;
}

/** The bytes the collector signs for an all-FAIL answer (its verdict's Sig_structure), from the pure core. */
function verdictToBeSigned(): Uint8Array {
  const state = createCollectorState({
    operator: 'Example ISP',
    key: TRUST_KEYS.collector,
    certificate: certificateBytes(),
    feed: testBundle(),
  });
  const loopback = Uint8Array.of(127, 0, 0, 1);
  const bytes = mixDatagram('fail', 0, new Uint8Array(8));
  for (const effect of onDatagram(
    state,
    {
      bytes,
      source: { address: loopback, port: 40000 },
      destination: { address: loopback, port: 5683 },
    },
    NOW * 1000,
  )) {
    if (effect.kind !== 'reply') continue;
    const { response } = decodeResponse(effect.bytes);
    if (response.kind === 'verdict')
      return sign1ToBeSigned(response.verdict.sign1.protectedBytes, response.verdict.sign1.payload);
  }
  throw new Error('the pure core gave no signed verdict to the all-FAIL request');
}

function measureSigning(plan: Plan): Measurement {
  const message = verdictToBeSigned();
  const key = TRUST_KEYS.collector;
  const [measurement] = measureCases(
    [
      {
        id: SIGN_ID,
        name: `Ed25519 sign, cached key, one core (${message.byteLength} B: the FAIL verdict's Sig_structure)`,
        op: () => sign(key, message).byteLength,
      },
    ],
    {
      ...MEASURE_DEFAULTS,
      warmupNs: plan.signWarmupNs,
      runNs: plan.signRunNs,
      clock: () => process.hrtime.bigint(),
    },
  );
  if (measurement === undefined) throw new Error('measureCases returned nothing');
  return measurement;
}

async function run(children: Children): Promise<void> {
  const plan = planOf(process.argv.slice(2));
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const cores = cpus().length;
  if (loadAtStart > cores / 2)
    progress(
      `warning: load average ${loadAtStart.toFixed(2)} on ${cores} cores; figures will be skewed`,
    );
  const dir = await mkdtemp(join(tmpdir(), 'tattler-bench-collector-'));
  try {
    const binary = await buildGenerator(dir);
    const mixFiles = new Map<Mix, string>();
    for (const mix of new Set(SERVERS.flatMap((s) => s.mixes))) {
      const file = join(dir, `${mix}.bin`);
      await writeFile(file, buildMixDatagrams(mix));
      mixFiles.set(mix, file);
    }
    progress('Ed25519 signing rate on one core…');
    const signing = measureSigning(plan);
    progress(`Ed25519 sign: ${formatNumber(signing.opsPerSecond)}/s`);
    const results: ComboResult[] = [];
    const ticksPerSecond = Number((await execFileAsync('getconf', ['CLK_TCK'])).stdout.trim());
    if (!(ticksPerSecond > 0)) throw new Error('getconf CLK_TCK: not a positive number');
    for (const server of SERVERS)
      results.push(
        ...(await measureServer({ children, plan, binary, dir, mixFiles, ticksPerSecond }, server)),
      );
    const measurements = [...rateMeasurements(results), signing];
    await publishReport({
      name: SECTION,
      title: 'Collector: requests per second under open-loop UDP load (`src/bench/collector.ts`)',
      // The flags are part of the command: a --quick section must say so.
      environment: describeEnvironment(
        [COMMAND, ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
        loadAtStart,
      ),
      method:
        `tools/udp-load.c (gcc -O2), a separate process, sends 1,024 distinct 1232-byte requests per mix round-robin ` +
        `over ${GENERATOR_SOCKETS} sockets at a fixed rate scheduled by the clock (open loop), matching each answer by ` +
        `its CoAP token; latency counts from the scheduled send time. Rate search: doubling from ` +
        `${formatNumber(plan.search.startRate)}/s, then bisection to within ${Math.round(plan.search.resolution * 100)} %, ` +
        `${plan.stepSeconds} s per step after a ${plan.warmupSeconds} s warm-up; a step passes with < 0.1 % of requests ` +
        `unanswered ${DRAIN_MS} ms after the last send and a p99 latency ≤ ${MAX_P99_US / 1000} ms (a standing queue in the ` +
        `4 MiB socket buffers is an overload even when nothing is lost yet). Then ${plan.stepSeconds} s at 50 % and at 80 % of the maximum ` +
        `(${plan.driftSeconds} s for the PASS mix of the coap baseline and the collector, with the server's RSS, summed over its processes, read before and after). ` +
        `Generator and server share the machine's ${cores} cores; the generator's CPU share is its getrusage time ÷ wall time. ` +
        `Each server runs in its own process: node:dgram echo, the coap package with our core, \`tattler collector\`. ` +
        `A failing step is run ${plan.search.retries === 0 ? 'once' : `up to ${plan.search.retries + 1} times and passes if one run passes`}. ` +
        `Server CPU per answer: its processes' user + system time (/proc/PID/stat) over the 80 % run ÷ answers received.`,
      measurements,
      ratios: collectorRatios(results, true),
      notes: [
        ...goalNotes(results, signing.opsPerSecond),
        `Latency, generator CPU and memory per server and mix (ms; "(< N)": the lowest rate that lost ≥ 0.1 %):\n\n${renderDetailTable(results)}\n`,
      ],
    });
  } finally {
    children.killAll();
    await rm(dir, { recursive: true, force: true });
  }
}

const children = new Children();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the servers and the generator`);
    children.abort.abort();
    children.killAll();
    process.exitCode = 130;
  });
}
process.once('exit', () => {
  children.killAll();
});

try {
  await run(children);
} catch (err) {
  children.killAll();
  // After Ctrl-C the steps fail with "interrupted": their stack says nothing more.
  const text = children.abort.signal.aborted
    ? 'interrupted'
    : err instanceof Error
      ? (err.stack ?? err.message)
      : String(err);
  process.stderr.write(`bench:collector: ${text}\n`);
  if (err instanceof Error && err.cause instanceof Error)
    process.stderr.write(`  cause: ${err.cause.message}\n`);
  process.exitCode = process.exitCode ?? 1;
}
