import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeRequest, parseIp } from '../protocol/index.ts';
import {
  AgentSim,
  COLLECTORS,
  DEVICE_WAN_V4,
  NETWORK_UP,
  agentConfig,
  effectsOf,
  persistedFail,
  scenarioRandom,
  scenarioVerdict,
  seededRandom,
  sendsOf,
} from '../testing/agent-fixture.ts';
import { DEVICE_ADDRESS } from '../testing/trust-fixture.ts';
import type { AgentEffect, AgentEvent } from './core.ts';
import { SCHEDULE } from './schedule.ts';

const V6_ONLY = { collectors: COLLECTORS.slice(0, 1) };

function announcements(effects: readonly AgentEffect[], reason?: string): number {
  return effectsOf(effects, 'log').filter(
    (l) => l.code === 'ANNOUNCE' && (reason === undefined || l.message.includes(`(${reason})`)),
  ).length;
}

function flap(i: number): AgentEvent {
  const other = parseIp(`2001:db8:1::${(i % 7) + 10}`) ?? DEVICE_ADDRESS;
  return {
    kind: 'network',
    hasDefaultRoute: i % 3 !== 0,
    addresses: [i % 2 === 0 ? DEVICE_ADDRESS : other],
    wanIpv4: DEVICE_WAN_V4,
  };
}

test('onEvent() coalesces a burst of network changes into one announcement', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 1_000_000 }),
      (changes, seed) => {
        const sim = new AgentSim({ random: seededRandom(seed) });
        sim.step(NETWORK_UP);
        for (let i = 1; i <= changes; i++) {
          sim.nowMs += Math.floor(1_000 / changes);
          sim.step(flap(i));
        }
        sim.step(NETWORK_UP);
        const effects = sim.advanceBy(10_000);
        return announcements(effects) === 1 && sendsOf(effects).length >= 2;
      },
    ),
    { numRuns: 50 },
  );
});

test('onEvent() starts at most one network-triggered exchange per 5 min however the network flaps', () => {
  const sim = new AgentSim();
  sim.step(NETWORK_UP);
  const hourMs = 3_600_000;
  const start = sim.nowMs;
  for (let i = 1; sim.nowMs < start + hourMs; i++) {
    sim.advanceBy(1_000);
    sim.step(flap(i));
  }
  sim.step(NETWORK_UP);
  const networkTriggered = announcements(sim.log, 'network') + announcements(sim.log, 'start');
  assert.ok(networkTriggered >= 2, `${networkTriggered}`);
  assert.ok(networkTriggered <= 1 + hourMs / SCHEDULE.networkMinIntervalMs, `${networkTriggered}`);
  // No answers: the unanswered backoff adds its own announcements, also bounded.
  assert.ok(
    announcements(sim.log) <= 2 * (1 + hourMs / SCHEDULE.networkMinIntervalMs),
    `${announcements(sim.log)}`,
  );
  assert.equal(effectsOf(sim.log, 'quarantine').length, 0);
});

test('onEvent() retries 3 times in the window with full-jitter backoff, then backs off between windows (fail-open)', () => {
  const sim = new AgentSim();
  sim.step(NETWORK_UP);
  const firstAt = sim.state.timers.announce ?? 0;
  const window = sim.advanceTo(firstAt + 30_000);
  const sends = sendsOf(window);
  assert.equal(sends.length, 8, '4 attempts × 2 collectors');
  const nonces = new Set(
    sends.map((s) => {
      const request = decodeRequest(s.bytes).request;
      return request.kind === 'identified' ? Buffer.from(request.nonce).toString('hex') : '';
    }),
  );
  assert.equal(nonces.size, 8, 'a nonce per (attempt, destination)');
  assert.deepEqual(sim.state.lastExchange, { outcome: 'unanswered', refusals: {} });
  assert.equal(sim.state.unanswered, 1);
  assert.equal(sim.state.status, 'clear');
  assert.equal(sim.state.announceReason, 'retry-later');
  const next = (sim.state.timers.announce ?? 0) - sim.nowMs;
  assert.ok(next >= 0 && next <= 60_000, `${next}`);
  // The n-th unanswered window waits at most 1 min · 2^(n−1), capped at 6 h.
  for (let n = 2; n <= 12; n++) {
    sim.advanceTo(sim.state.timers.announce ?? 0);
    sim.advanceBy(30_000);
    assert.equal(sim.state.unanswered, n);
    const wait = (sim.state.timers.announce ?? 0) - sim.nowMs;
    assert.ok(wait >= 0 && wait <= Math.min(6 * 3_600_000, 60_000 * 2 ** (n - 1)), `${n}: ${wait}`);
  }
  assert.equal(effectsOf(sim.log, 'quarantine').length, 0);
  assert.equal(effectsOf(sim.log, 'persist').at(-1)?.state.unanswered, 12);
});

test('onEvent() schedules the next announcement 30 days ± 3 days after an accepted clear answer', () => {
  const sim = new AgentSim({ config: agentConfig(V6_ONLY), random: scenarioRandom() });
  sim.step(NETWORK_UP);
  sim.advanceTo(sim.state.timers.announce ?? 0);
  sim.step(scenarioVerdict({ status: 'pass' }));
  assert.equal(sim.state.announceReason, 'periodic');
  const delay = (sim.state.timers.announce ?? 0) - sim.nowMs;
  assert.ok(delay >= 27 * 86_400_000 && delay <= 33 * 86_400_000, `${delay}`);
});

test('onEvent() lifts a FAIL that lapses without renewal exactly at the end of its lifetime', () => {
  const sim = new AgentSim({ config: agentConfig(V6_ONLY), random: scenarioRandom() });
  sim.step(NETWORK_UP);
  sim.advanceTo(sim.state.timers.announce ?? 0);
  const acceptedAt = sim.nowMs;
  assert.equal(
    effectsOf(
      sim.step(scenarioVerdict({ status: 'fail', record: {}, lifetimeSeconds: 3_600 })),
      'quarantine',
    ).length,
    1,
  );
  // Renewals go out every third of what is left (≥ 5 min) and get no answer.
  const before = sim.advanceTo(acceptedAt + 3_600_000 - 1);
  assert.equal(effectsOf(before, 'lift').length, 0);
  assert.ok(announcements(before, 'renew') >= 2, `${announcements(before, 'renew')}`);
  assert.equal(sim.state.status, 'quarantined');
  const at = sim.advanceTo(acceptedAt + 3_600_000);
  assert.deepEqual(at[0], { kind: 'lift', reason: 'lapsed' });
  assert.deepEqual(at[1], {
    kind: 'status',
    old: 'quarantined',
    new: 'clear',
    reason: 'the FAIL lapsed without renewal',
  });
  assert.equal(effectsOf(at, 'persist')[0]?.state.fail, undefined);
});

test('onEvent() checkpoints the lifetime every 15 min and a reboot resumes it, never shorter', () => {
  const sim = new AgentSim({ persisted: persistedFail({}, 3_600), nowMs: 0 });
  const checkpoint = sim.advanceTo(15 * 60_000);
  assert.equal(effectsOf(checkpoint, 'persist')[0]?.state.fail?.remainingSeconds, 2_700);
  sim.advanceTo(20 * 60_000);
  const persisted = effectsOf(sim.log, 'persist').at(-1)?.state;
  assert.ok(persisted !== undefined);
  // Power cut at 20 min; the next boot resumes from the 15-min checkpoint: 45 min, not 40.
  const reboot = new AgentSim({ persisted, nowMs: 7 });
  assert.equal(reboot.first[0]?.kind, 'quarantine');
  assert.equal(reboot.state.timers.lapse, 7 + 2_700_000);
});

test('onEvent() override lifts the quarantine for the advisories in force; resume re-applies it', () => {
  const sim = new AgentSim({
    config: agentConfig(V6_ONLY),
    persisted: persistedFail(),
    random: scenarioRandom(),
  });
  const overridden = sim.step({ kind: 'override', reason: 'need the camera tonight' });
  assert.deepEqual(overridden[0], { kind: 'lift', reason: 'override' });
  assert.deepEqual(overridden[1], {
    kind: 'status',
    old: 'quarantined',
    new: 'overridden',
    reason: 'owner override: need the camera tonight',
  });
  assert.deepEqual(effectsOf(overridden, 'persist')[0]?.state.override, {
    reason: 'need the camera tonight',
    advisories: ['CVE-2019-17621'],
    swVersion: '1.05B03',
  });
  // A renewal of the same FAIL stays overridden.
  sim.step(NETWORK_UP);
  sim.advanceTo(sim.state.timers.announce ?? 0);
  const renewal = sim.step(scenarioVerdict({ status: 'fail', record: {} }));
  assert.equal(effectsOf(renewal, 'quarantine').length, 0);
  assert.equal(sim.state.status, 'overridden');
  const resumed = sim.step({ kind: 'resume' });
  assert.deepEqual(resumed[0], {
    kind: 'quarantine',
    hosts: { addresses: ['2001:db8:ffff::1'], names: ['support.dlink.com'] },
    advisories: ['CVE-2019-17621'],
  });
  assert.equal(effectsOf(resumed, 'persist')[0]?.state.override, undefined);
});

test('onEvent() override does not cover a new, different FAIL', () => {
  const sim = new AgentSim({
    config: agentConfig(V6_ONLY),
    persisted: persistedFail(),
    random: scenarioRandom(),
  });
  sim.step({ kind: 'override', reason: 'known issue' });
  sim.step(NETWORK_UP);
  sim.advanceTo(sim.state.timers.announce ?? 0);
  const effects = sim.step(
    scenarioVerdict({
      status: 'fail',
      record: { advisories: ['CVE-2019-17621', 'CVE-2023-99999'] },
    }),
  );
  assert.deepEqual(effects[0], {
    kind: 'quarantine',
    hosts: { addresses: ['2001:db8:ffff::1'], names: ['support.dlink.com'] },
    advisories: ['CVE-2019-17621', 'CVE-2023-99999'],
  });
  assert.equal(sim.state.status, 'quarantined');
});

test('onEvent() ends a timed override on time and re-applies the quarantine still in force', () => {
  const sim = new AgentSim({ persisted: persistedFail(), nowMs: 0 });
  sim.step({ kind: 'override', reason: 'one hour please', forSeconds: 3_600 });
  assert.equal(sim.state.timers.override, 3_600_000);
  assert.equal(effectsOf(sim.advanceTo(3_599_999), 'quarantine').length, 0);
  const ended = sim.advanceTo(3_600_000);
  assert.equal(ended[0]?.kind, 'quarantine');
  assert.deepEqual(ended[1], {
    kind: 'status',
    old: 'overridden',
    new: 'quarantined',
    reason: "the owner's override ended",
  });
});

test('onEvent() announceNow starts an exchange at once, and only one while a window is open', () => {
  const sim = new AgentSim();
  sim.step(NETWORK_UP);
  sim.advanceTo(sim.state.timers.announce ?? 0);
  assert.equal(announcements(sim.log), 1);
  const during = sim.step({ kind: 'announceNow' });
  assert.equal(sendsOf(during).length, 0);
  assert.equal(effectsOf(during, 'log')[0]?.code, 'EXCHANGE_OPEN');
  sim.advanceBy(30_000);
  assert.equal(announcements(sim.log), 2, 'the deferred request runs when the window closes');
  sim.advanceBy(30_000);
  const now = sim.step({ kind: 'announceNow' });
  assert.equal(sendsOf(now).length, 2);
});

test('onEvent() ignores a stale timer and a network report that changes nothing', () => {
  const sim = new AgentSim();
  assert.deepEqual(sim.step({ kind: 'timer', id: 'retry' }), []);
  sim.step(NETWORK_UP);
  assert.deepEqual(sim.step(NETWORK_UP), []);
  assert.deepEqual(sim.step({ kind: 'timer', id: 'announce' }), [], 'fired early: ignored');
});
