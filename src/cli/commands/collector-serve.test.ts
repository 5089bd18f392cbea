/**
 * `tattler collector --config` as an operator runs it: a real process on the real clock, real
 * signals (SIGHUP reloads, SIGTERM stops with exit 0) and real UDP on loopback.
 * @module
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeResponse } from '../../protocol/index.ts';
import { identifiedRequest, requestBytes, writeCollectorDir } from '../../testing/collector-fixture.ts';

const BIN = fileURLToPath(new URL('../../../bin/tattler.js', import.meta.url));
let dir = '';
let config = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-collector-serve-'));
  config = await writeCollectorDir(dir, [], { nowSeconds: Math.floor(Date.now() / 1000) });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A running `tattler collector` child with its stderr collected line by line. */
interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly stderr: string[];
  /** Resolves with the first stderr line matching `pattern` (already seen or still to come). */
  line(pattern: RegExp): Promise<string>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

function startChild(args: readonly string[]): Child {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      stderr.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    process: child,
    stderr,
    exited,
    line: (pattern) => {
      const seen = stderr.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ pattern, resolve });
        // A child that exits before printing the line fails the test instead of hanging it.
        void exited.then(() => {
          reject(new Error(`exited before printing ${String(pattern)}; stderr:\n${stderr.join('\n')}`));
        });
      });
    },
  };
}

async function askFail(port: number): Promise<string> {
  const socket = createSocket('udp4');
  try {
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const answered = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(requestBytes(identifiedRequest()), port, '127.0.0.1');
    const [reply] = await answered;
    const r = decodeResponse(new Uint8Array(reply)).response;
    return r.kind === 'verdict' ? r.verdict.value.status : r.kind;
  } finally {
    socket.close();
  }
}

test('tattler collector --config serves, reloads on SIGHUP and stops cleanly on SIGTERM', { timeout: 60_000 }, async (t) => {
  const child = startChild(['collector', '--config', config]);
  t.after(() => child.process.kill('SIGKILL'));
  const listening = await child.line(/listening on /);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(listening)?.[1]);
  assert.ok(port > 0, listening);
  assert.equal(await askFail(port), 'fail');

  child.process.kill('SIGHUP');
  assert.match(await child.line(/reloaded /), /reloaded .*collector\.yaml; feed version 42/);
  assert.equal(await askFail(port), 'fail', 'still serving after the reload');

  child.process.kill('SIGTERM');
  assert.equal(await child.exited, 0, child.stderr.join('\n'));
  assert.ok(child.stderr.includes('tattler collector: stopped'), child.stderr.join('\n'));
});

test('tattler collector --config exits 1 naming the address when the port is in use', { timeout: 60_000 }, async (t) => {
  const holder = createSocket('udp4');
  holder.bind(0, '127.0.0.1');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const busy = join(dir, 'busy.yaml');
  await writeFile(busy, (await readFile(config, 'utf8')).replace('port: 0', `port: ${holder.address().port}`));
  const child = startChild(['collector', '--config', busy]);
  t.after(() => child.process.kill('SIGKILL'));
  assert.equal(await child.exited, 1);
  assert.ok(
    child.stderr.some((l) => /listen 127\.0\.0\.1:\d+: EADDRINUSE: the port is in use/.test(l)),
    child.stderr.join('\n'),
  );
});

test('tattler collector --config exits 1 on an expired feed at start', { timeout: 60_000 }, async (t) => {
  const stale = await mkdtemp(join(tmpdir(), 'tattler-collector-stale-'));
  t.after(() => rm(stale, { recursive: true, force: true }));
  // Documents valid around a time 30 days ago: the feed has expired by now.
  const file = await writeCollectorDir(stale, [], { nowSeconds: Math.floor(Date.now() / 1000) - 30 * 86_400 });
  const child = startChild(['collector', '--config', file]);
  t.after(() => child.process.kill('SIGKILL'));
  assert.equal(await child.exited, 1);
  assert.ok(child.stderr.some((l) => /bundle\.cbor: feed bundle refused \(EXPIRED/.test(l)), child.stderr.join('\n'));
});
