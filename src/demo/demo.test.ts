/**
 * `tattler demo` end to end, as a script would run it: the real CLI process, real collector,
 * real agents (as root in real network namespaces with real routes, else on loopback), the JSON
 * summary on the last stdout line, and nothing left behind afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { z } from 'zod';
import { runTool } from '../testing/external-tool.ts';
import { acquireHostLock } from '../testing/host-lock.ts';
import { TATTLER_BIN } from '../testing/topology.ts';
import { demoDevices } from './catalog.ts';
import { netnsUnavailableReason } from './netns-fleet.ts';
import { DEMO_NETNS } from './types.ts';

const summarySchema = z.strictObject({
  mode: z.enum(['netns', 'loopback']),
  devices: z.number().int(),
  verdicts: z.strictObject({ pass: z.number(), fail: z.number(), warn: z.number(), unknown: z.number() }),
  quarantined: z.number().int(),
  wronglyQuarantined: z.number().int(),
  missed: z.number().int(),
  restored: z.number().int(),
  timeToQuarantineMs: z.strictObject({ p50: z.number().nullable(), p99: z.number().nullable() }),
  leftovers: z.number().int(),
});

interface DemoRun {
  readonly code: number | string;
  readonly stdout: string[];
  readonly stderr: string[];
}

/** Runs `tattler demo args` in `cwd`; `onErrLine` may signal the process. */
function runDemo(cwd: string, args: readonly string[], onErrLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<DemoRun> {
  // Its own process group, as a shell gives a foreground job: `kill` below reaches the whole group.
  const child = spawn(process.execPath, [TATTLER_BIN, 'demo', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    onErrLine?.(line, (signal) => {
      // Like Ctrl-C at a terminal: the signal goes to every process of the foreground group.
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    });
  });
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

async function namespacesLeft(): Promise<string[]> {
  const listed = await runTool('ip', ['netns', 'list'], { timeoutMs: 10_000 });
  return listed.stdout.split('\n').filter((line) => line.startsWith(DEMO_NETNS.namespacePrefix));
}

async function processesMentioning(text: string): Promise<string[]> {
  const ps = await runTool('ps', ['-eo', 'pid,args'], { timeoutMs: 10_000 });
  return ps.stdout.split('\n').filter((line) => line.includes(text) && !line.includes(' ps -eo'));
}

function check(run: DemoRun, devices: number, mode: 'netns' | 'loopback'): z.infer<typeof summarySchema> {
  const context = `stderr:\n${run.stderr.join('\n')}`;
  assert.equal(run.code, 0, context);
  const last = run.stdout.at(-1);
  assert.ok(last !== undefined, `no stdout; ${context}`);
  const summary = summarySchema.parse(JSON.parse(last));
  const expected = demoDevices(devices);
  const mustFail = expected.filter((d) => d.expected === 'fail').length;
  assert.equal(summary.mode, mode);
  assert.equal(summary.devices, devices);
  assert.ok(mustFail >= 2, 'the demo has vulnerable devices to quarantine');
  assert.equal(summary.quarantined, mustFail, `every vulnerable eligible device quarantined; ${context}`);
  assert.equal(summary.wronglyQuarantined, 0);
  assert.equal(summary.missed, 0);
  assert.equal(summary.leftovers, 0);
  const byStatus = { pass: 0, fail: 0, warn: 0, unknown: 0 };
  for (const d of expected) byStatus[d.expected] += 1;
  assert.deepEqual(summary.verdicts, byStatus, `each device's first verdict is what the feed says; ${context}`);
  const fixable = expected.filter((d) => d.expected === 'fail' && d.fixedFirmware !== undefined).length;
  assert.equal(summary.restored, Math.min(2, fixable), `the updated devices are restored; ${context}`);
  assert.ok(summary.timeToQuarantineMs.p50 !== null && summary.timeToQuarantineMs.p99 !== null);
  assert.ok(summary.timeToQuarantineMs.p50 <= summary.timeToQuarantineMs.p99);
  return summary;
}

test('tattler demo --devices 20 --duration 20s --json on loopback: every FAIL quarantined (simulated), none wrongly, nothing left', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'tattler-demo-test-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const run = await runDemo(cwd, ['--devices', '20', '--duration', '20s', '--json', '--http-port', '0', '--mode', 'loopback']);
  check(run, 20, 'loopback');
  assert.ok(run.stderr.some((line) => line.includes('LOOPBACK MODE') && line.includes('SIMULATED')), 'says so at the top');
  assert.ok(run.stderr.some((line) => /dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard/.test(line)));
  assert.ok(run.stderr.some((line) => /owner status page of .*: http:\/\/127\.0\.0\.1:\d+\/ — owner secret [A-Z0-9-]+/.test(line)));
  assert.equal(existsSync(join(cwd, 'demo-data')), false, 'the data directory is removed');
});

test('tattler demo --devices 20 --duration 20s --json as root: real namespaces and routes, nothing left', async (t) => {
  // One demo network per host: wait for any other test file using it (host-lock.ts).
  t.after(await acquireHostLock('demo-netns'));
  const why = await netnsUnavailableReason();
  if (why !== undefined) {
    t.skip(`needs network namespaces: ${why}`);
    return;
  }
  const cwd = await mkdtemp(join(tmpdir(), 'tattler-demo-test-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const run = await runDemo(cwd, ['--devices', '20', '--duration', '20s', '--json', '--http-port', '0']);
  check(run, 20, 'netns');
  assert.deepEqual(await namespacesLeft(), []);
  assert.deepEqual(await processesMentioning(join(cwd, 'demo-data')), []);
  const link = await runTool('ip', ['link', 'show', DEMO_NETNS.hostLink], { timeoutMs: 10_000 });
  assert.notEqual(link.exitCode, 0, 'the host link is gone');
  assert.equal(existsSync(join(cwd, 'demo-data')), false);
});

test('tattler demo stopped by SIGTERM while running: cleans up everything', async (t) => {
  t.after(await acquireHostLock('demo-netns'));
  const why = await netnsUnavailableReason();
  const cwd = await mkdtemp(join(tmpdir(), 'tattler-demo-test-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  let sent = false;
  const run = await runDemo(cwd, ['--devices', '4', '--http-port', '0', '--json', ...(why === undefined ? [] : ['--mode', 'loopback'])], (line, kill) => {
    if (!sent && line.includes('dashboard: http://')) {
      sent = true;
      kill('SIGTERM');
    }
  });
  assert.ok(sent, `the demo reached its running state; stderr:\n${run.stderr.join('\n')}`);
  assert.ok(run.stderr.some((line) => line.includes('stopping (signal)')));
  assert.ok(typeof run.code === 'number', 'it exits by itself, not killed by the signal');
  const summary = summarySchema.parse(JSON.parse(run.stdout.at(-1) ?? 'null'));
  assert.equal(summary.leftovers, 0);
  assert.equal(existsSync(join(cwd, 'demo-data')), false);
  if (why === undefined) assert.deepEqual(await namespacesLeft(), []);
  assert.deepEqual(await processesMentioning(join(cwd, 'demo-data')), []);
});

test('tattler demo --cleanup removes a data directory the demo made, and never one it did not', async (t) => {
  t.after(await acquireHostLock('demo-netns'));
  const cwd = await mkdtemp(join(tmpdir(), 'tattler-demo-test-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const ours = join(cwd, 'demo-data');
  await mkdir(join(ours, 'devices'), { recursive: true });
  await writeFile(join(ours, '.tattler-demo'), 'made by tattler demo\n');
  const cleaned = await runDemo(cwd, ['--cleanup']);
  assert.equal(cleaned.code, 0, cleaned.stderr.join('\n'));
  assert.equal(existsSync(ours), false, 'the crashed run\'s data directory is gone');
  assert.ok(cleaned.stderr.some((line) => line.includes(ours)), 'it says what it removed');
  const foreign = join(cwd, 'mine');
  await mkdir(foreign);
  await writeFile(join(foreign, 'notes.txt'), 'not the demo\'s\n');
  const refused = await runDemo(cwd, ['--cleanup', '--data', 'mine']);
  assert.equal(refused.code, 0, 'nothing of the demo to clean is not an error');
  assert.equal(existsSync(join(foreign, 'notes.txt')), true, 'a directory without the marker is never removed');
});

test('Ctrl-C (SIGINT to the process group) while the agents start: the start stops, everything is removed', async (t) => {
  t.after(await acquireHostLock('demo-netns'));
  const why = await netnsUnavailableReason();
  const cwd = await mkdtemp(join(tmpdir(), 'tattler-demo-test-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  let sent = false;
  const run = await runDemo(cwd, ['--devices', '20', '--http-port', '0', '--json', ...(why === undefined ? [] : ['--mode', 'loopback'])], (line, kill) => {
    if (!sent && line.includes('collector listening')) {
      sent = true;
      kill('SIGINT');
    }
  });
  const context = `stderr:\n${run.stderr.join('\n')}`;
  assert.ok(sent, context);
  assert.ok(typeof run.code === 'number', `it exits by itself; ${context}`);
  assert.ok(run.stderr.some((line) => line.includes('stopping (signal)')), context);
  const summary = summarySchema.parse(JSON.parse(run.stdout.at(-1) ?? 'null'));
  assert.equal(summary.leftovers, 0);
  assert.equal(summary.wronglyQuarantined, 0);
  assert.equal(existsSync(join(cwd, 'demo-data')), false);
  if (why === undefined) {
    assert.deepEqual(await namespacesLeft(), []);
    const link = await runTool('ip', ['link', 'show', DEMO_NETNS.hostLink], { timeoutMs: 10_000 });
    assert.notEqual(link.exitCode, 0, 'the host link is gone');
  }
  assert.deepEqual(await processesMentioning(join(cwd, 'demo-data')), []);
});

test('a collector that cannot start (its UDP port is taken): exit 1 naming the port, nothing left', async (t) => {
  t.after(await acquireHostLock('demo-netns'));
  const why = await netnsUnavailableReason();
  const cwd = await mkdtemp(join(tmpdir(), 'tattler-demo-test-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  // Taken on every address: the collector's bind to 127.0.0.1 or 198.18.0.1 on it fails.
  const blocker = createSocket('udp4');
  await new Promise<void>((resolve) => blocker.bind(0, '0.0.0.0', resolve));
  t.after(() => new Promise<void>((resolve) => {
    blocker.close(() => {
      resolve();
    });
  }));
  const port = blocker.address().port;
  const run = await runDemo(cwd, ['--devices', '3', '--duration', '5s', '--http-port', '0', '--collector-port', String(port), '--json', ...(why === undefined ? [] : ['--mode', 'loopback'])]);
  const context = `stderr:\n${run.stderr.join('\n')}`;
  assert.equal(run.code, 1, context);
  assert.ok(run.stderr.some((line) => line.includes(String(port)) && line.includes('EADDRINUSE')), `names the port; ${context}`);
  assert.equal(existsSync(join(cwd, 'demo-data')), false, 'the data directory is removed after the error');
  if (why === undefined) {
    assert.deepEqual(await namespacesLeft(), []);
    const link = await runTool('ip', ['link', 'show', DEMO_NETNS.hostLink], { timeoutMs: 10_000 });
    assert.notEqual(link.exitCode, 0, 'the host link is gone');
  }
});
