/**
 * The collector with two worker processes, as an operator runs it (`workers: 2`): both workers
 * serve the one socket, /metrics sums them, a killed worker is replaced, SIGHUP reaches every
 * worker, SIGTERM stops them all.
 * @module
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeResponse } from '../protocol/index.ts';
import { identifiedRequest, requestBytes, writeCollectorDir } from '../testing/collector-fixture.ts';
import { parseExposition, sampleSum } from '../testing/prometheus.ts';

const BIN = fileURLToPath(new URL('../../bin/tattler.js', import.meta.url));
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-cluster-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pids of `pid`'s children (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const children: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    children.push(...text.split(' ').filter((t) => t !== '').map(Number));
  }
  return children;
}

/**
 * Sends `count` FAIL announcements from `sockets` client sockets, each request with its own
 * message id, at most `window` in flight (a burst larger than the socket buffers would be lost:
 * UDP has no retransmission here), and resolves when every one is answered.
 */
async function announce(port: number, count: number, sockets = 8, window = 32): Promise<number> {
  const clients: Socket[] = [];
  try {
    for (let i = 0; i < sockets; i++) {
      const socket = createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      clients.push(socket);
    }
    const pending = new Set<number>(Array.from({ length: count }, (_, i) => i));
    let fails = 0;
    let next = 0;
    const sendNext = (): void => {
      const i = next++;
      if (i < count) clients[i % sockets]?.send(requestBytes(identifiedRequest(), i), port, '127.0.0.1');
    };
    const done = new Promise<void>((resolve) => {
      for (const socket of clients) {
        socket.on('message', (reply: Buffer) => {
          const answer = decodeResponse(new Uint8Array(reply));
          if (!pending.delete(answer.frame.messageId)) return;
          if (answer.response.kind === 'verdict' && answer.response.verdict.value.status === 'fail') fails++;
          if (pending.size === 0) resolve();
          else sendNext();
        });
      }
    });
    for (let i = 0; i < window; i++) sendNext();
    await done;
    return fails;
  } finally {
    for (const socket of clients) socket.close();
  }
}

test('workers: 2 serves on one socket from two processes, sums /metrics, replaces a dead worker, reloads and stops them all', { timeout: 120_000 }, async (t) => {
  const config = await writeCollectorDir(dir, ['workers: 2', 'metrics: {address: 127.0.0.1, port: 0}'], { nowSeconds: Math.floor(Date.now() / 1000) });
  const child = spawn(process.execPath, [BIN, 'collector', '--config', config, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  const waiters: { test: (l: string) => boolean; resolve: () => void }[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const split = (partial + chunk).split('\n');
    partial = split.pop() ?? '';
    for (const line of split) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.test(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  /** Resolves once `n` stderr lines match `pattern` in all (counting those already seen). */
  const seen = (pattern: RegExp, n = 1): Promise<void> => {
    const have = (): number => lines.filter((l) => pattern.test(l)).length;
    if (have() >= n) return Promise.resolve();
    return new Promise<void>((resolve) => {
      waiters.push({ test: () => have() >= n, resolve });
    });
  };
  await seen(/listening on /);
  const banner = lines.find((l) => l.includes('listening on ')) ?? '';
  assert.match(banner, /with 2 workers; metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
  const metricsUrl = /(http:\/\/\S+\/metrics)/.exec(banner)?.[1] ?? '';
  const workers = await childrenOf(child.pid ?? 0);
  assert.equal(workers.length, 2, 'two worker processes');

  assert.equal(await announce(port, 400), 400, 'every announcement answered FAIL');
  let samples = parseExposition(await (await fetch(metricsUrl)).text());
  assert.equal(sampleSum(samples, 'tattler_workers'), 2);
  assert.equal(sampleSum(samples, 'tattler_datagrams_received_total'), 400);
  assert.equal(sampleSum(samples, 'tattler_verdicts_total', { status: 'fail' }), 400);
  assert.equal(sampleSum(samples, 'tattler_signatures_total'), 400);
  const perWorker = samples.filter((s) => s.name === 'tattler_worker_datagrams_received_total');
  assert.equal(perWorker.length, 2, 'one series per worker');
  assert.equal(perWorker.reduce((sum, s) => sum + s.value, 0), 400);
  assert.equal(sampleSum(samples, 'tattler_feed_version'), 42, 'the feed version is the minimum, not a sum');
  const health = await fetch(metricsUrl.replace('/metrics', '/healthz'));
  assert.equal(health.status, 200);

  // A worker killed outright is replaced, and the service keeps answering meanwhile.
  process.kill(workers[0] ?? 0, 'SIGKILL');
  await seen(/"event":"worker_died"/);
  await seen(/"event":"worker_started"/);
  assert.equal((await childrenOf(child.pid ?? 0)).length, 2);
  assert.equal(await announce(port, 100), 100);

  // SIGHUP: every worker reloads (one line each).
  child.kill('SIGHUP');
  await seen(/"event":"reloaded"/, 2);
  samples = parseExposition(await (await fetch(metricsUrl)).text());
  assert.equal(sampleSum(samples, 'tattler_workers'), 2);

  const before = await childrenOf(child.pid ?? 0);
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, lines.join('\n'));
  assert.ok(lines.includes('tattler collector: stopped'));
  for (const pid of before) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
});

test('workers: 2 exits 1 naming the problem when the workers cannot start (expired feed)', { timeout: 60_000 }, async (t) => {
  const stale = await mkdtemp(join(tmpdir(), 'tattler-cluster-stale-'));
  t.after(() => rm(stale, { recursive: true, force: true }));
  const config = await writeCollectorDir(stale, ['workers: 2'], { nowSeconds: Math.floor(Date.now() / 1000) - 30 * 86_400 });
  const child = spawn(process.execPath, [BIN, 'collector', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1, stderr);
  assert.match(stderr, /bundle\.cbor: feed bundle refused \(EXPIRED/);
});
