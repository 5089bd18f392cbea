import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COAP_CODE, decodeRequest, encodeResponse, formatIp } from '../protocol/index.ts';
import {
  AgentSim,
  COLLECTORS,
  DIR859_HOSTS,
  NETWORK_UP,
  agentConfig,
  agentFeedRows,
  collectorAnswer,
  effectsOf,
  persistedFail,
  scenarioRandom,
  scenarioVerdict,
  sendsOf,
  testCollector,
} from '../testing/agent-fixture.ts';
import { NOW, TOKEN } from '../testing/trust-fixture.ts';
import { createAgent, type AgentEffect } from './core.ts';

const HOSTS = { addresses: ['2001:db8:ffff::1', '198.51.100.1'], names: [...DIR859_HOSTS] };

/** Brings the network up and runs to the first announcement; returns its two sends. */
function firstAnnouncement(sim: AgentSim): Extract<AgentEffect, { kind: 'send' }>[] {
  sim.step(NETWORK_UP);
  const effects = sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY);
  const sends = sendsOf(effects);
  assert.equal(sends.length, 2);
  return sends;
}

test('createAgent() without state is clear, persists once and sends nothing before the network is up', () => {
  const sim = new AgentSim();
  assert.deepEqual(
    sim.first.map((e) => e.kind),
    ['status', 'persist'],
  );
  assert.deepEqual(sim.first[0], {
    kind: 'status',
    old: 'starting',
    new: 'clear',
    reason: 'start',
  });
  assert.deepEqual(sim.first[1], {
    kind: 'persist',
    state: { version: 1, timeFloorSeconds: NOW - 365 * 86_400, unanswered: 0 },
  });
  assert.deepEqual(sim.advanceBy(3_600_000), []);
  const up = sim.step(NETWORK_UP);
  const timer = effectsOf(up, 'setTimer');
  assert.equal(timer.length, 1);
  assert.equal(timer[0]?.id, 'announce');
  const delay = timer[0].atMonotonicMs - sim.nowMs;
  assert.ok(delay >= 2_000 && delay <= 5_000, `${delay} ms`);
});

test('onEvent() announces to every collector with its own nonce and token, identified, unflagged', () => {
  const sim = new AgentSim();
  const sends = firstAnnouncement(sim);
  assert.deepEqual(
    sends.map((s) => formatIp(s.to.address)),
    ['2001:db8:ffff::1', '198.51.100.1'],
  );
  const [a, b] = sends.map((s) => decodeRequest(s.bytes));
  assert.ok(a?.request.kind === 'identified' && b?.request.kind === 'identified');
  assert.equal(a.request.vendor, 'dlink');
  assert.equal(a.request.swVersion.version, '1.05B03');
  assert.equal(a.request.quarantined, false);
  assert.notDeepEqual(a.request.nonce, b.request.nonce);
  assert.notDeepEqual(a.frame.token, b.frame.token);
  assert.equal(sends[0]?.bytes.byteLength, 1232);
});

test('onEvent() quarantines on a real collector FAIL: hosts, advisories, lifetime, floor, renewal', () => {
  const sim = new AgentSim();
  const collector = testCollector();
  const [v6] = firstAnnouncement(sim);
  assert.ok(v6 !== undefined);
  const receivedAtMs = sim.nowMs;
  const effects = sim.step(collectorAnswer(collector, v6));
  assert.deepEqual(effects[0], {
    kind: 'quarantine',
    hosts: HOSTS,
    advisories: ['CVE-2019-17621'],
  });
  assert.deepEqual(effects[1], {
    kind: 'status',
    old: 'clear',
    new: 'quarantined',
    reason: 'accepted FAIL (CVE-2019-17621)',
  });
  const persist = effectsOf(effects, 'persist');
  assert.deepEqual(persist[0]?.state, {
    version: 1,
    timeFloorSeconds: NOW - 3_600, // the record's issued_at: the latest verified signed time
    unanswered: 0,
    fail: {
      mode: 'identified',
      advisories: ['CVE-2019-17621'],
      remediationHosts: [...DIR859_HOSTS],
      swVersion: '1.05B03',
      remainingSeconds: 7 * 86_400,
      // The owner's facts from the signed record, and when the FAIL was first accepted.
      cvss10: 98,
      kev: true,
      fixedVersions: ['2.0'],
      sinceSeconds: NOW,
    },
    lastExchange: { outcome: 'accepted', status: 'fail', scopeCheck: 'verified', refusals: {} },
  });
  assert.equal(sim.state.timers.lapse, receivedAtMs + 7 * 86_400_000);
  // Renewal: a third of 7 days, bounded by 1 day.
  assert.equal(sim.state.timers.announce, receivedAtMs + 86_400_000);
  assert.equal(sim.state.timers.retry, undefined);
});

test('onEvent() takes no second action on a duplicate answer and records it', () => {
  const sim = new AgentSim();
  const collector = testCollector();
  const [v6] = firstAnnouncement(sim);
  assert.ok(v6 !== undefined);
  const answer = collectorAnswer(collector, v6);
  sim.step(answer);
  const again = sim.step(answer);
  assert.deepEqual(
    again.map((e) => e.kind),
    ['log'],
  );
  assert.equal(effectsOf(again, 'log')[0]?.code, 'ALREADY_SETTLED');
  const closed = sim.advanceBy(30_000);
  assert.equal(effectsOf(closed, 'quarantine').length, 0);
  assert.deepEqual(sim.state.lastExchange, {
    outcome: 'accepted',
    status: 'fail',
    scopeCheck: 'verified',
    refusals: { ALREADY_SETTLED: 1 },
  });
});

test('onEvent() lets a FAIL win over an earlier UNKNOWN in the same window and logs the conflict', () => {
  const sim = new AgentSim();
  const knowsNothing = testCollector(agentFeedRows().filter((r) => r.product.model !== 'dir859'));
  const [v6, v4] = firstAnnouncement(sim);
  assert.ok(v6 !== undefined && v4 !== undefined);
  const first = sim.step(collectorAnswer(knowsNothing, v4));
  assert.equal(effectsOf(first, 'quarantine').length, 0);
  assert.equal(sim.state.exchange?.accepted?.status, 'unknown');
  const second = sim.step(collectorAnswer(testCollector(), v6));
  assert.equal(effectsOf(second, 'quarantine').length, 1);
  assert.deepEqual(
    effectsOf(second, 'log').map((l) => l.code),
    ['CONFLICTING_ANSWERS', 'ACCEPTED'],
  );
  assert.equal(sim.state.status, 'quarantined');
});

test('onEvent() with enforcement off verifies and records the would-be quarantine, never quarantines', () => {
  const sim = new AgentSim({ config: agentConfig({ enforcement: false }) });
  const [v6] = firstAnnouncement(sim);
  assert.ok(v6 !== undefined);
  const effects = sim.step(collectorAnswer(testCollector(), v6));
  assert.equal(effectsOf(effects, 'quarantine').length, 0);
  assert.deepEqual(effectsOf(effects, 'status')[0], {
    kind: 'status',
    old: 'clear',
    new: 'would-quarantine',
    reason: 'accepted FAIL (CVE-2019-17621)',
  });
  assert.ok(effectsOf(effects, 'log').some((l) => l.code === 'WOULD_QUARANTINE'));
  assert.deepEqual(effectsOf(effects, 'persist')[0]?.state.fail?.advisories, ['CVE-2019-17621']);
  // Announcing goes on, flagged, every day while the would-be FAIL is in force.
  const renewal = sendsOf(sim.advanceBy(86_400_000));
  assert.equal(renewal.length, 2);
  const request = decodeRequest(renewal[0]?.bytes ?? new Uint8Array(0)).request;
  assert.ok(request.kind === 'identified' && request.quarantined);
});

test('createAgent() in mode off lifts a persisted quarantine and never announces or quarantines', () => {
  const sim = new AgentSim({ config: agentConfig({ mode: 'off' }), persisted: persistedFail() });
  assert.deepEqual(sim.first[0], { kind: 'lift', reason: 'disabled' });
  assert.deepEqual(sim.first[1], { kind: 'status', old: 'starting', new: 'off', reason: 'start' });
  assert.equal(sendsOf(sim.step(NETWORK_UP)).length, 0);
  assert.deepEqual(sim.step({ kind: 'announceNow' }), []);
  assert.equal(sendsOf(sim.advanceBy(40 * 86_400_000)).length, 0);
  assert.equal(effectsOf(sim.log, 'quarantine').length, 0);
  assert.deepEqual(sim.step(scenarioVerdict({ status: 'fail', record: {} })), []);
});

test('createAgent() re-applies a persisted quarantine first, resuming its lifetime from the checkpoint', () => {
  const sim = new AgentSim({ persisted: persistedFail({}, 3_600), nowMs: 50 });
  assert.deepEqual(sim.first[0], {
    kind: 'quarantine',
    hosts: HOSTS,
    advisories: ['CVE-2019-17621'],
  });
  assert.deepEqual(sim.first[1], {
    kind: 'status',
    old: 'starting',
    new: 'quarantined',
    reason: 'start',
  });
  assert.deepEqual(effectsOf(sim.first, 'setTimer'), [
    { kind: 'setTimer', id: 'lapse', atMonotonicMs: 50 + 3_600_000 },
    { kind: 'setTimer', id: 'checkpoint', atMonotonicMs: 50 + 15 * 60_000 },
  ]);
  assert.equal(effectsOf(sim.first, 'persist').length, 0, 'nothing changed');
  // The first announcement after boot carries the quarantined flag.
  const sends = firstAnnouncement(sim);
  const request = decodeRequest(sends[0]?.bytes ?? new Uint8Array(0)).request;
  assert.ok(request.kind === 'identified' && request.quarantined);
});

test('createAgent() treats a FAIL with nothing left as lapsed and lifts whatever an earlier boot applied', () => {
  const { effects, state } = createAgent(agentConfig(), persistedFail({}, 0), {
    monotonicMs: 0,
    random: scenarioRandom(),
  });
  assert.deepEqual(effects[0], { kind: 'lift', reason: 'lapsed' });
  assert.equal(state.fail, undefined);
  assert.equal(state.status, 'clear');
});

test('onEvent() lifts on a signed PASS for a new software version (real collector)', () => {
  const config = agentConfig({ device: { ...agentConfig().device, swVersion: '2.01' } });
  const sim = new AgentSim({ config, persisted: persistedFail() });
  assert.equal(sim.first[0]?.kind, 'quarantine');
  const [v6] = firstAnnouncement(sim);
  assert.ok(v6 !== undefined);
  const effects = sim.step(collectorAnswer(testCollector(), v6));
  assert.deepEqual(effects[0], { kind: 'lift', reason: 'fixed' });
  assert.deepEqual(effects[1], {
    kind: 'status',
    old: 'quarantined',
    new: 'clear',
    reason: 'signed PASS for software 2.01',
  });
  assert.equal(effectsOf(effects, 'persist')[0]?.state.fail, undefined);
  assert.equal(sim.state.timers.lapse, undefined);
});

test('onEvent() keeps the quarantine on a signed PASS for the quarantined version itself', () => {
  const sim = new AgentSim({
    config: agentConfig({
      collectors: [COLLECTORS[0] ?? { address: new Uint8Array(16), port: 1 }],
    }),
    persisted: persistedFail(),
    random: scenarioRandom(),
  });
  sim.step(NETWORK_UP);
  assert.equal(
    sendsOf(sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY)).length,
    1,
  );
  const effects = sim.step(scenarioVerdict({ status: 'pass' }));
  assert.equal(effectsOf(effects, 'lift').length, 0);
  assert.ok(effectsOf(effects, 'log').some((l) => l.code === 'PASS_SAME_VERSION'));
  assert.equal(sim.state.status, 'quarantined');
});

test('onEvent() quarantines on a real collector private answer with the configured remediation hosts', () => {
  const sim = new AgentSim({ config: agentConfig({ mode: 'private' }) });
  const [v6, v4] = firstAnnouncement(sim);
  assert.ok(v6 !== undefined && v4 !== undefined);
  assert.equal(decodeRequest(v6.bytes).request.kind, 'private');
  const effects = sim.step(collectorAnswer(testCollector(), v4));
  assert.deepEqual(effects[0], {
    kind: 'quarantine',
    hosts: { addresses: HOSTS.addresses, names: ['update.example.net'] },
    advisories: ['CVE-2019-17621'],
  });
  assert.deepEqual(sim.state.lastExchange, {
    outcome: 'accepted',
    status: 'fail',
    scopeCheck: 'verified',
    refusals: {},
  });
});

test('onEvent() postpones the next retry after a 5.03 for an outstanding request, and ignores one for none', () => {
  const sim = new AgentSim({
    config: agentConfig({ collectors: COLLECTORS.slice(0, 1) }),
    random: scenarioRandom(),
  });
  sim.step(NETWORK_UP);
  sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY);
  const busy = (token: Uint8Array): Uint8Array =>
    encodeResponse(
      { messageId: 7, token },
      { kind: 'busy', retryAfterSeconds: 10 },
      COAP_CODE.POST,
    );
  const from = { address: COLLECTORS[0]?.address ?? new Uint8Array(16), port: 5683 };
  const stranger = sim.step({ kind: 'answer', bytes: busy(new Uint8Array(8).fill(1)), from });
  assert.equal(effectsOf(stranger, 'log')[0]?.code, 'UNKNOWN_TOKEN');
  const effects = sim.step({ kind: 'answer', bytes: busy(TOKEN), from });
  assert.equal(effectsOf(effects, 'log')[0]?.code, 'BUSY');
  assert.deepEqual(effectsOf(effects, 'setTimer'), [
    { kind: 'setTimer', id: 'retry', atMonotonicMs: sim.nowMs + 10_000 },
  ]);
});

test('createAgent() keeps a persisted override: the quarantine stays lifted after a reboot', () => {
  const override = { reason: 'known issue', advisories: ['CVE-2019-17621'], swVersion: '1.05B03' };
  const sim = new AgentSim({ persisted: persistedFail({ override }) });
  assert.deepEqual(sim.first[0], { kind: 'lift', reason: 'override' });
  assert.deepEqual(sim.first[1], {
    kind: 'status',
    old: 'starting',
    new: 'overridden',
    reason: 'start',
  });
  assert.equal(effectsOf(sim.first, 'quarantine').length, 0);
});

test('createAgent() refuses a configuration it cannot run', () => {
  const clock = { monotonicMs: 0, random: scenarioRandom() };
  assert.throws(
    () => createAgent(agentConfig({ collectors: [] }), undefined, clock),
    /at least one collector/,
  );
  assert.throws(
    () =>
      createAgent(
        agentConfig({ device: { ...agentConfig().device, vendor: 'D-Link' } }),
        undefined,
        clock,
      ),
    /canonical/,
  );
  assert.throws(
    () =>
      createAgent(
        agentConfig({ collectors: [...COLLECTORS, ...COLLECTORS, ...COLLECTORS] }),
        undefined,
        clock,
      ),
    /exceed/,
  );
  assert.throws(
    () =>
      createAgent(
        agentConfig({ collectors: [{ address: new Uint8Array(5), port: 5683 }] }),
        undefined,
        clock,
      ),
    /4- or 16-byte/,
  );
});
