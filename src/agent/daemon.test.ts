import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadCollectorConfig } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/udp.ts';
import { writeCollectorDir } from '../testing/collector-fixture.ts';
import {
  CapturedLog,
  FAST_SCHEDULE,
  RecordingRoutes,
  RecordingWindow,
  ScriptedNetwork,
  writeAgentConfig,
} from '../testing/agent-daemon-fixture.ts';
import { loadAgentConfig, loadAgentTrust } from './config.ts';
import { startAgentDaemon, type AgentDaemonDeps, type RunningAgent } from './daemon.ts';
import { decodeState } from './state.ts';
import type { AgentEffect } from './core.ts';

let dir = '';
let collector: RunningCollector;
let port = 0;
const running: RunningAgent[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-agent-daemon-'));
  const config = await writeCollectorDir(dir, [], { nowSeconds: Math.floor(Date.now() / 1000) });
  collector = await startCollector(await loadCollectorConfig(config), { log: () => undefined });
  port = collector.addresses()[0]?.port ?? 0;
});

after(async () => {
  for (const agent of running) await agent.close();
  await collector.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(
  options: {
    version?: string;
    stateDir: string;
    mode?: 'identified' | 'private';
    port?: number;
    extra?: string[];
    /** Keep the core's real schedule (2 s + up to 3 s after the network comes up). */
    realSchedule?: boolean;
  },
  deps: Omit<Partial<AgentDaemonDeps>, 'log'> & { log: CapturedLog },
): Promise<RunningAgent> {
  const file = await writeAgentConfig(dir, {
    port: options.port ?? port,
    stateDir: options.stateDir,
    ...(options.version === undefined ? {} : { version: options.version }),
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    ...(options.extra === undefined ? {} : { extra: options.extra }),
  });
  const settings = await loadAgentConfig(file);
  const agent = await startAgentDaemon(settings, await loadAgentTrust(settings), {
    ...(options.realSchedule === true ? {} : { schedule: FAST_SCHEDULE }),
    systemResolvers: () => Promise.resolve(['192.0.2.1']),
    startupWindow: null,
    ownerPagePort: 0,
    ...deps,
    log: deps.log.sink,
  });
  running.push(agent);
  return agent;
}

async function stop(agent: RunningAgent): Promise<void> {
  await agent.close();
  running.splice(running.indexOf(agent), 1);
}

async function readState(stateDir: string): Promise<ReturnType<typeof decodeState>> {
  return decodeState(await readFile(join(dir, stateDir, 'state.json'), 'utf8'));
}

test('startAgentDaemon() quarantines a vulnerable DIR-859 on a real collector, and re-applies the quarantine before the first send after a restart', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start({ stateDir: 'vulnerable' }, { log, routes, network: new ScriptedNetwork() });
  const quarantined = await log.next('quarantined');
  assert.equal(quarantined.fields.advisories, 'CVE-2019-17621');
  await agent.idle();
  const apply = routes.calls[0];
  assert.ok(apply?.kind === 'apply');
  assert.deepEqual(apply.allow.collectors, ['127.0.0.1']);
  assert.deepEqual(apply.allow.resolvers, ['192.0.2.1']);
  const accepted = await log.next('accepted');
  assert.deepEqual(
    { status: accepted.fields.status, signed: accepted.fields.signed, scopeCheck: accepted.fields.scopeCheck },
    { status: 'fail', signed: true, scopeCheck: 'advisory' },
  );
  assert.equal(agent.state().status, 'quarantined');
  const persisted = await readState('vulnerable');
  assert.deepEqual(persisted.fail?.advisories, ['CVE-2019-17621']);
  assert.equal(persisted.fail.swVersion, '1.05B03');
  const status = JSON.parse(await readFile(join(dir, 'vulnerable', 'status.json'), 'utf8')) as { status: string; sinceIso: string; reason: string };
  assert.equal(status.status, 'quarantined');
  assert.match(status.reason, /^accepted FAIL \(CVE-2019-17621\)$/);
  assert.match(await readFile(join(dir, 'vulnerable', 'agent.pid'), 'utf8'), new RegExp(`^${process.pid}\\n$`));
  await stop(agent);

  // Restart from that state: the quarantine goes back in before anything is sent.
  const timeline: string[] = [];
  const again = new RecordingRoutes(timeline);
  const log2 = new CapturedLog();
  const restarted = await start({ stateDir: 'vulnerable' }, { log: log2, routes: again, network: new ScriptedNetwork() });
  restarted.events.on('effect', (effect: AgentEffect) => {
    if (effect.kind === 'send') timeline.push('send');
  });
  await log2.next('accepted');
  await restarted.idle();
  assert.equal(timeline[0], 'routes:apply');
  assert.ok(timeline.includes('send'), timeline.join(' '));
  assert.ok(timeline.indexOf('routes:apply') < timeline.indexOf('send'));
  assert.ok(!timeline.includes('routes:lift'));
  assert.equal(restarted.state().status, 'quarantined');
  assert.deepEqual(log2.events().slice(0, 1), ['started']);
  // Quarantined since the FAIL was first accepted, not since the restart.
  const after = JSON.parse(await readFile(join(dir, 'vulnerable', 'status.json'), 'utf8')) as typeof status;
  assert.deepEqual([after.sinceIso, after.reason], [status.sinceIso, status.reason]);
  await stop(restarted);
});

test('startAgentDaemon() leaves a patched device (2.1) clear: PASS, no route calls', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start({ stateDir: 'patched', version: '2.1' }, { log, routes, network: new ScriptedNetwork() });
  const accepted = await log.next('accepted');
  assert.equal(accepted.fields.status, 'pass');
  await agent.idle();
  assert.deepEqual(routes.calls, []);
  assert.equal(agent.state().status, 'clear');
  const persisted = await readState('patched');
  assert.equal(persisted.fail, undefined);
  assert.equal(persisted.lastExchange?.outcome, 'accepted');
  await stop(agent);
});

test('startAgentDaemon() in private mode quarantines the DIR-859 from the bucket page', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start({ stateDir: 'private', mode: 'private' }, { log, routes, network: new ScriptedNetwork() });
  await log.next('quarantined');
  await agent.idle();
  assert.equal(routes.calls[0]?.kind, 'apply');
  assert.equal((await readState('private')).fail?.mode, 'private');
  await stop(agent);
});

test('startAgentDaemon() changes nothing when the collector is silent (fail-open)', async () => {
  // A quarantined state from the first test's shape, then no collector on the port.
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const silent = await start({ stateDir: 'silent-seed' }, { log, routes, network: new ScriptedNetwork() });
  await log.next('quarantined');
  await stop(silent);
  await writeFile(join(dir, 'silent-state.json'), await readFile(join(dir, 'silent-seed', 'state.json')));
  const closedPort = await unusedPort();
  const log2 = new CapturedLog();
  const routes2 = new RecordingRoutes();
  const agent = await start(
    { stateDir: 'silent-seed', port: closedPort },
    { log: log2, routes: routes2, network: new ScriptedNetwork(), answerWindowMs: 1_500 },
  );
  const unanswered = await log2.next('unanswered');
  assert.match(unanswered.message, /without an accepted answer/);
  await agent.idle();
  // Only the start-up re-apply: no lift, the FAIL and its advisories stay.
  assert.deepEqual(routes2.calls.map((c) => c.kind), ['apply']);
  assert.equal(agent.state().status, 'quarantined');
  const persisted = await readState('silent-seed');
  assert.deepEqual(persisted.fail?.advisories, ['CVE-2019-17621']);
  assert.equal(persisted.lastExchange?.outcome, 'unanswered');
  await stop(agent);
});

test('startAgentDaemon() retries a failing route layer and does not crash', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  routes.failures = 2;
  const agent = await start({ stateDir: 'route-errors' }, { log, routes, network: new ScriptedNetwork(), routeRetryMs: 20 });
  const error = await log.next('route_error');
  assert.match(error.message, /applying the quarantine failed \(RTNETLINK answers: Operation not permitted\); retrying in 0 s/);
  await new Promise<void>((resolve) => routes.events.once('call', () => { resolve(); }));
  assert.equal(routes.calls[0]?.kind, 'apply');
  assert.equal(log.lines.filter((l) => l.event === 'route_error').length, 2);
  assert.equal(agent.state().status, 'quarantined');
  await stop(agent);
});

test('startAgentDaemon() moves a corrupt state.json aside and starts fresh', async () => {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'corrupt'), { recursive: true });
  await writeFile(join(dir, 'corrupt', 'state.json'), '{"version": 1, "fail": ');
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start({ stateDir: 'corrupt', version: '2.1' }, { log, routes, network: new ScriptedNetwork() });
  const line = await log.next('state_corrupt');
  assert.equal(line.level, 'error');
  assert.match(line.message, /BAD_JSON/);
  await log.next('accepted');
  await agent.idle();
  assert.deepEqual(routes.calls, []);
  const { readdir } = await import('node:fs/promises');
  assert.ok((await readdir(join(dir, 'corrupt'))).some((f) => f.startsWith('state.json.corrupt-')));
  await stop(agent);
});

test('startAgentDaemon() announces on announceNow (the SIGUSR1 path)', async () => {
  const log = new CapturedLog();
  // A short answer window: an announcement asked for while one is open waits for it to close.
  const agent = await start(
    { stateDir: 'announce', version: '2.1' },
    { log, routes: new RecordingRoutes(), network: new ScriptedNetwork(), answerWindowMs: 300 },
  );
  await log.next('accepted');
  await until(agent, () => agent.state().exchange === undefined);
  const mark = log.lines.length;
  agent.announceNow();
  const line = await log.next('announce', (l) => /owner/.test(l.message), { after: mark });
  assert.equal(line.fields.mode, 'identified');
  // Nothing identifying beyond the mode in the announce event.
  assert.doesNotMatch(JSON.stringify(line), /dlink|dir859|1\.05B03|2\.1/);
  await log.next('accepted', () => true, { after: mark });
  await stop(agent);
});

test('startAgentDaemon() start-up window: opened at start, closed on the first verdict; boot-to-online cost measured with the default schedule', async (t) => {
  const log = new CapturedLog();
  const window = new RecordingWindow();
  const startedMs = performance.now();
  const agent = await start(
    {
      stateDir: 'window',
      version: '2.1',
      extra: ['startupWindow: {enabled: true, timeout: 5s}'],
      realSchedule: true,
    },
    { log, routes: new RecordingRoutes(), network: new ScriptedNetwork(), startupWindow: window },
  );
  const closed = await log.next('startup_window_closed');
  const totalMs = performance.now() - startedMs;
  assert.equal(closed.fields.reason, 'verdict');
  assert.ok(window.closed);
  assert.deepEqual(window.opened?.collectors, [{ address: '127.0.0.1', family: 4, port }]);
  const announce = log.lines.find((l) => l.event === 'announce');
  assert.ok(announce !== undefined);
  // The default schedule waits 2 s + up to 3 s after the network comes up before announcing.
  assert.ok(totalMs >= 2_000 && totalMs < 6_000, `${totalMs} ms`);
  t.diagnostic(`start → window removed on PASS: ${Math.round(totalMs)} ms (window open ${String(closed.fields.elapsedMs)} ms), of which the 2-5 s network settle delay is the core's`);
  await stop(agent);
});

test('startAgentDaemon() with enforcement off records the FAIL and never touches routes', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start(
    { stateDir: 'trial', extra: ['enforcement: false'] },
    { log, routes, network: new ScriptedNetwork() },
  );
  await log.next('would_quarantine');
  await agent.idle();
  assert.deepEqual(routes.calls, []);
  assert.equal(agent.state().status, 'would-quarantine');
  assert.deepEqual((await readState('trial')).fail?.advisories, ['CVE-2019-17621']);
  await stop(agent);
});

test('reload() (SIGHUP) restarts the core with the new config and keeps the state; a bad config changes nothing', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start({ stateDir: 'reload' }, { log, routes, network: new ScriptedNetwork() });
  await log.next('quarantined');
  await agent.idle();
  // The config file is shared by the tests: rewrite it, reload, and check.
  await writeAgentConfig(dir, { port, stateDir: 'reload', extra: ['broken: [' ] });
  await agent.reload();
  assert.match((await log.next('reload_failed')).message, /config not reloaded, running as before/);
  assert.equal(agent.state().status, 'quarantined');
  await writeAgentConfig(dir, { port, stateDir: 'reload', mode: 'off' });
  await agent.reload();
  await log.next('reloaded');
  await agent.idle();
  // Mode off lifts the quarantine the FAIL in the kept state had put in place.
  assert.equal(agent.state().status, 'off');
  assert.deepEqual(routes.calls.map((c) => c.kind), ['apply', 'lift']);
  assert.deepEqual((await readState('reload')).fail?.advisories, ['CVE-2019-17621']);
  await stop(agent);
});

/** Resolves once `predicate` holds after the agent's queue drained (checked at each drain). */
function until(agent: RunningAgent, predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!predicate()) return;
      agent.events.off('idle', check);
      resolve();
    };
    agent.events.on('idle', check);
    check();
  });
}

async function unusedPort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const free = socket.address().port;
  socket.close();
  return free;
}

test('startAgentDaemon() removes a quarantine no saved state accounts for, once at start, and only then', async () => {
  /** A route layer with leftovers from a crash before the state was saved. */
  class LeftoverRoutes extends RecordingRoutes {
    cleared = 0;
    clearLeftovers(): Promise<boolean> {
      this.cleared += 1;
      return Promise.resolve(true);
    }
  }
  const log = new CapturedLog();
  const routes = new LeftoverRoutes();
  const agent = await start({ stateDir: 'leftover', version: '2.1' }, { log, routes, network: new ScriptedNetwork() });
  const line = await log.next('leftover_lifted');
  assert.equal(line.level, 'warn');
  await log.next('accepted');
  await agent.idle();
  assert.equal(routes.cleared, 1);
  await stop(agent);
  // A saved quarantine is re-applied instead; nothing is cleared.
  const seedLog = new CapturedLog();
  const seeded = await start({ stateDir: 'leftover-fail' }, { log: seedLog, routes: new RecordingRoutes(), network: new ScriptedNetwork() });
  await seedLog.next('quarantined');
  await stop(seeded);
  const again = new LeftoverRoutes();
  const restarted = await start({ stateDir: 'leftover-fail' }, { log: new CapturedLog(), routes: again, network: new ScriptedNetwork() });
  await restarted.idle();
  assert.equal(again.cleared, 0);
  assert.equal(again.calls[0]?.kind, 'apply');
  await stop(restarted);
});
