import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeStateFile, writeStatusFile } from '../../agent/state-file.ts';
import { loadCollectorConfig } from '../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../collector/udp.ts';
import { writeAgentConfig } from '../../testing/agent-daemon-fixture.ts';
import { runCli } from '../../testing/cli-run.ts';
import { writeCollectorDir } from '../../testing/collector-fixture.ts';

const EXAMPLE = fileURLToPath(new URL('../../../examples/agent.yaml', import.meta.url));
const TATTLER = fileURLToPath(new URL('../../../bin/tattler.js', import.meta.url));
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-agent-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('tattler agent --check-config accepts the example and prints the effective settings', async () => {
  const run = await runCli(['agent', '--check-config', EXAMPLE]);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^config ok\n/);
  assert.match(run.out, /collectors {3}192\.0\.2\.53:5683 \(IPv4\), \[2001:db8::53\]:5683 \(IPv6\)\n/);
  assert.match(run.out, /mode {9}private: sends only a 12-bit prefix/);
  assert.equal(run.err, '');
});

test('tattler agent --check-config lists every problem and exits 1', async () => {
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'device: {vendor: D-Link, model: DIR-859, software: {name: fw, version: 2.10}}\ncollectors: [{address: collector.isp.example}]\ntrust: {root: r}\nmdoe: off\n');
  const run = await runCli(['agent', '--check-config', file]);
  assert.equal(run.code, 1);
  assert.equal(run.out, '');
  assert.match(run.err, /bad\.yaml: device\.software\.version: 2\.1 is a number, not text — quote it/);
  assert.match(run.err, /bad\.yaml: collectors\[0\]\.address: "collector\.isp\.example" is not an IP address/);
  assert.match(run.err, /bad\.yaml: mdoe: unknown key — did you mean "mode"\?/);
  assert.match(run.err, /tattler agent: 3 problems in .*; see docs\/agent\.md\n$/);
});

test('tattler agent --config names missing trust files and exits 1', async () => {
  const run = await runCli(['agent', '--config', EXAMPLE]);
  assert.equal(run.code, 1);
  assert.match(run.err, /agent\.yaml: trust\.root: .*examples\/root\.cbor: no such file/);
  assert.match(run.err, /cannot start without its trust files/);
  assert.equal((await runCli(['agent'])).code, 1);
});

test('tattler agent status prints the state for a person and as one JSON object', async () => {
  const stateDir = join(dir, 'state');
  await mkdir(stateDir);
  const missing = await runCli(['agent', 'status', '--state-dir', stateDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no state in .* yet/);

  await writeStateFile(stateDir, {
    version: 1,
    timeFloorSeconds: 1_790_000_000,
    unanswered: 0,
    fail: { mode: 'private', advisories: ['CVE-2019-17621'], remediationHosts: ['update.example.com'], swVersion: '1.05B03', remainingSeconds: 86_400 },
    lastExchange: { outcome: 'accepted', status: 'fail', scopeCheck: 'advisory', refusals: { NONCE_MISMATCH: 2 } },
  });
  await writeStatusFile(stateDir, { version: 1, mode: 'private', enforcement: true, status: 'quarantined', sinceIso: '2026-11-26T06:00:00.000Z', reason: 'accepted FAIL (CVE-2019-17621)', lastAcceptedIso: '2026-11-26T06:00:00.000Z' });

  const json = await runCli(['agent', 'status', '--state-dir', stateDir, '--json']);
  assert.equal(json.code, 0, json.err);
  assert.deepEqual(JSON.parse(json.out), {
    stateDir,
    running: null,
    mode: 'private',
    enforcement: true,
    status: 'quarantined',
    since: '2026-11-26T06:00:00.000Z',
    reason: 'accepted FAIL (CVE-2019-17621)',
    fail: { mode: 'private', advisories: ['CVE-2019-17621'], remediationHosts: ['update.example.com'], swVersion: '1.05B03', remainingSeconds: 86_400 },
    override: null,
    lastExchange: { outcome: 'accepted', status: 'fail', scopeCheck: 'advisory', refusals: { NONCE_MISMATCH: 2 } },
    lastAccepted: '2026-11-26T06:00:00.000Z',
    unanswered: 0,
    timeFloorSeconds: 1_790_000_000,
  });
  assert.equal(json.out.split('\n').length, 2);

  const text = await runCli(['agent', 'status', '--state-dir', stateDir]);
  assert.equal(text.code, 0);
  assert.equal(
    text.out,
    [
      'mode           private',
      'status         quarantined since 2026-11-26T06:00:00.000Z (accepted FAIL (CVE-2019-17621))',
      'advisories     CVE-2019-17621 (private FAIL for software 1.05B03; 1d left at the last checkpoint)',
      'reachable      the LAN, DNS, the collectors and update.example.com',
      'override       none',
      'last exchange  accepted FAIL, certificate scope advisory at 2026-11-26T06:00:00.000Z',
      'refusals       NONCE_MISMATCH 2',
      'agent          not running',
      '',
    ].join('\n'),
  );

  // With the config's enforcement off, the same state reads as would-quarantine.
  const config = join(dir, 'enforcement-off.yaml');
  await writeFile(config, `device: {vendor: D-Link, model: DIR-859, software: {name: fw, version: 1.05B03}}\ncollectors: [{address: 192.0.2.53}]\ntrust: {root: r}\nstateDir: ${stateDir}\nenforcement: false\n`);
  const off = await runCli(['agent', 'status', '--config', config, '--json']);
  assert.equal((JSON.parse(off.out) as { status: string }).status, 'would-quarantine');
  assert.equal((await runCli(['agent', 'status'])).code, 1);
});

test('tattler agent announce-now signals the running agent (SIGUSR1), and says so when none runs', async () => {
  const none = await runCli(['agent', 'announce-now', '--state-dir', join(dir, 'nothing')]);
  assert.equal(none.code, 1);
  assert.match(none.err, /no agent\.pid in .*: the agent is not running/);

  // A real `tattler agent` process, patched firmware (no quarantine: no routes are touched).
  const home = await mkdtemp(join(dir, 'live-'));
  const collectorConfig = await writeCollectorDir(home, [], { nowSeconds: Math.floor(Date.now() / 1000) });
  const collector: RunningCollector = await startCollector(await loadCollectorConfig(collectorConfig), { log: () => undefined });
  const port = collector.addresses()[0]?.port ?? 0;
  const config = await writeAgentConfig(home, { port, version: '2.1', extra: ['owner: {page: {enabled: false}}'] });
  const child = spawn(process.execPath, [TATTLER, 'agent', '--config', config, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr });
  const events: { event?: string; msg?: string }[] = [];
  const waitFor = (test: (e: { event?: string; msg?: string }) => boolean): Promise<void> =>
    new Promise((resolve) => {
      if (events.some(test)) {
        resolve();
        return;
      }
      lines.on('line', function onLine(line) {
        const parsed = JSON.parse(line) as { event?: string; msg?: string };
        if (!test(parsed)) return;
        lines.off('line', onLine);
        resolve();
      });
    });
  lines.on('line', (line) => events.push(JSON.parse(line) as { event?: string; msg?: string }));
  try {
    await waitFor((e) => e.event === 'started');
    // The agent announces by itself 2-5 s after start. The owner's announcement, asked for while
    // that answer window is open, waits for it to close (30 s): this test takes about 35 s.
    await waitFor((e) => e.event === 'accepted');
    const run = await runCli(['agent', 'announce-now', '--state-dir', join(home, 'state')]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, new RegExp(`^asked the agent \\(pid ${child.pid ?? 0}\\) to announce now\\n$`));
    const status = await runCli(['agent', 'status', '--config', config, '--json']);
    assert.equal((JSON.parse(status.out) as { running: number }).running, child.pid);
    await waitFor((e) => e.event === 'announce' && /owner/.test(e.msg ?? ''));
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await collector.close();
  }
  assert.ok(events.some((e) => e.event === 'stopped'));
});

test('tattler agent override/resume reach the running agent (owner-request.json + SIGUSR2) and exit 1 when there is nothing to do or no agent', async () => {
  const none = await runCli(['agent', 'override', '--reason', 'x', '--state-dir', join(dir, 'nothing')]);
  assert.equal(none.code, 1);
  assert.match(none.err, /no agent\.pid in .*: the agent is not running/);
  const badUntil = await runCli(['agent', 'override', '--reason', 'x', '--until', 'soon', '--state-dir', join(dir, 'nothing')]);
  assert.equal(badUntil.code, 1);
  assert.match(badUntil.err, /--until: duration "soon"/);
  assert.equal((await runCli(['agent', 'override', '--state-dir', join(dir, 'nothing')])).code, 1);

  // A real `tattler agent` process, patched firmware: clear, so both requests are refused by it.
  const home = await mkdtemp(join(dir, 'owner-'));
  const collectorConfig = await writeCollectorDir(home, [], { nowSeconds: Math.floor(Date.now() / 1000) });
  const collector: RunningCollector = await startCollector(await loadCollectorConfig(collectorConfig), { log: () => undefined });
  const port = collector.addresses()[0]?.port ?? 0;
  const config = await writeAgentConfig(home, { port, version: '2.1', extra: ['owner: {page: {enabled: false}}'] });
  const child = spawn(process.execPath, [TATTLER, 'agent', '--config', config, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr });
  const accepted = new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      if (line.startsWith('{') && (JSON.parse(line) as { event?: string }).event === 'accepted') resolve();
    });
  });
  try {
    await accepted;
    const override = await runCli(['agent', 'override', '--reason', 'camera needed', '--until', '2h', '--config', config]);
    assert.equal(override.code, 1, override.out);
    assert.match(override.err, /^tattler agent override: nothing to override: the device is clear, not quarantined\n$/);
    const resume = await runCli(['agent', 'resume', '--state-dir', join(home, 'state')]);
    assert.equal(resume.code, 1, resume.out);
    assert.match(resume.err, /nothing to resume: the device is clear/);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await collector.close();
  }
});
