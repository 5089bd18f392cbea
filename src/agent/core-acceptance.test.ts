import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COAP_CODE,
  decodeRequest,
  encodeResponse,
  encodeUnsignedVerdict,
  type AcceptanceContext,
  type DecodedResponse,
} from '../protocol/index.ts';
import {
  AgentSim,
  NETWORK_UP,
  agentConfig,
  datagramOf,
  effectsOf,
  persistedFail,
  scenarioRandom,
  sendsOf,
} from '../testing/agent-fixture.ts';
import {
  COLLECTOR_ADDRESS,
  DEVICE_ADDRESS,
  IDENTIFIED_CONDITIONS,
  NONCE,
  PRIVATE_CONDITIONS,
  TOKEN,
  identifiedScenario,
  privateScenario,
} from '../testing/trust-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import type { AgentEffect, AgentEvent } from './core.ts';

const V6_ONLY = [{ address: COLLECTOR_ADDRESS, port: 5683 }];

/** An agent whose first request is the acceptance scenarios' request (NONCE, TOKEN, one collector). */
function scenarioAgent(
  ctx: AcceptanceContext,
  mode: 'identified' | 'private',
  persisted = false,
): AgentSim {
  const config = agentConfig({ mode, collectors: V6_ONLY, certificates: ctx.certificates });
  const sim = new AgentSim({
    config,
    random: scenarioRandom(),
    ...(persisted ? { persisted: persistedFail() } : {}),
  });
  sim.step(NETWORK_UP);
  assert.equal(
    sendsOf(sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY)).length,
    1,
  );
  return sim;
}

function answerEvent(answer: DecodedResponse, ctx: AcceptanceContext): AgentEvent {
  return { kind: 'answer', bytes: datagramOf(answer), from: { address: ctx.from, port: 5683 } };
}

function deliver(sim: AgentSim, event: AgentEvent, windowClosed: boolean): readonly AgentEffect[] {
  // The shell may deliver a late answer before it fires the window timer.
  if (windowClosed) sim.nowMs = sim.state.exchange?.book.closesAtMs ?? sim.nowMs;
  return sim.step(event);
}

function assertRefused(sim: AgentSim, effects: readonly AgentEffect[], code: string): void {
  // [P-8.7-3] a missing or expired certificate is asked for at once; nothing else happens.
  const fetches = code === 'NO_CERTIFICATE' || code === 'CERT_EXPIRED';
  assert.deepEqual(
    effects.map((e) => e.kind),
    fetches ? ['log', 'send', 'log'] : ['log'],
    code,
  );
  if (fetches) {
    const query = decodeRequest(sendsOf(effects)[0]?.bytes ?? new Uint8Array(0)).request;
    assert.ok(query.kind === 'certificate', code);
    assert.deepEqual(query.kid, TRUST_KEYS.collector.publicKey.kid, code);
  }
  assert.equal(effectsOf(effects, 'log')[0]?.code, code);
  assert.deepEqual(sim.state.exchange?.refusals, { [code]: 1 }, code);
  assert.equal(sim.state.status, sim.state.fail === undefined ? 'clear' : 'quarantined', code);
  assert.equal(effectsOf(sim.log, 'quarantine').length, sim.state.fail === undefined ? 0 : 1, code);
}

test('onEvent() quarantines on the identified scenario FAIL (the control of the refusal table)', () => {
  const { answer, ctx } = identifiedScenario();
  const sim = scenarioAgent(ctx, 'identified');
  const effects = sim.step(answerEvent(answer, ctx));
  assert.deepEqual(effects[0], {
    kind: 'quarantine',
    hosts: { addresses: ['2001:db8:ffff::1'], names: ['support.dlink.com'] },
    advisories: ['CVE-2019-17621'],
  });
});

test('onEvent() refuses every failing condition of an identified FAIL: no quarantine, refusal recorded', () => {
  const skipped = new Set(['ALREADY_SETTLED', 'SIGNATURE_BUDGET_EXHAUSTED']); // tested on their own below
  for (const condition of IDENTIFIED_CONDITIONS.filter((c) => !skipped.has(c))) {
    const { answer, ctx } = identifiedScenario([condition]);
    const sim = scenarioAgent(ctx, condition === 'MODE_MISMATCH' ? 'private' : 'identified');
    const effects = deliver(sim, answerEvent(answer, ctx), condition === 'WINDOW_CLOSED');
    assertRefused(sim, effects, condition);
  }
});

test('onEvent() quarantines on the private scenario FAIL with the configured remediation hosts', () => {
  const { answer, ctx } = privateScenario();
  const sim = scenarioAgent(ctx, 'private');
  const effects = sim.step(answerEvent(answer, ctx));
  assert.deepEqual(effects[0], {
    kind: 'quarantine',
    hosts: { addresses: ['2001:db8:ffff::1'], names: ['update.example.net'] },
    advisories: ['CVE-2019-17621'],
  });
  assert.deepEqual(effectsOf(effects, 'persist')[0]?.state.fail?.mode, 'private');
});

test('onEvent() never quarantines on a private answer that fails a condition: refused, or accepted as PASS / WARN', () => {
  const bases = new Map([
    ['MODEL_MISMATCH', 'pass'],
    ['HARDWARE_NOT_AFFECTED', 'pass'],
    ['VERSION_NOT_AFFECTED', 'pass'],
    ['NOT_ELIGIBLE', 'warn'],
    ['POLICY_DENIED', 'warn'],
  ]);
  for (const condition of PRIVATE_CONDITIONS.filter(
    (c) => c !== 'ALREADY_SETTLED' && c !== 'SIGNATURE_BUDGET_EXHAUSTED',
  )) {
    const { answer, ctx } = privateScenario([condition]);
    const sim = scenarioAgent(ctx, condition === 'MODE_MISMATCH' ? 'identified' : 'private');
    const effects = deliver(sim, answerEvent(answer, ctx), condition === 'WINDOW_CLOSED');
    const status = bases.get(condition);
    if (status === undefined) {
      assertRefused(sim, effects, condition);
    } else {
      assert.equal(effectsOf(effects, 'quarantine').length, 0, condition);
      assert.equal(sim.state.exchange?.accepted?.status, status, condition);
      assert.equal(sim.state.fail, undefined, condition);
    }
  }
});

test('onEvent() refuses answers beyond the signature budget, even a valid FAIL after a flood (fail-open)', () => {
  const { answer: forged, ctx } = identifiedScenario(['RECORD_BAD_SIGNATURE']);
  const sim = scenarioAgent(ctx, 'identified');
  const codes: string[] = [];
  for (let i = 0; i < 15; i++)
    codes.push(...effectsOf(sim.step(answerEvent(forged, ctx)), 'log').map((l) => l.code));
  // The first costs 3; the replays 1 each: their verdict and certificate verified once ([P-8.6-2]).
  assert.deepEqual(codes, [
    ...Array<string>(14).fill('RECORD_BAD_SIGNATURE'),
    'SIGNATURE_BUDGET_EXHAUSTED',
  ]);
  assert.equal(sim.state.exchange?.signatureChecksUsed, 16);
  const valid = identifiedScenario();
  const effects = sim.step(answerEvent(valid.answer, valid.ctx));
  assert.equal(effectsOf(effects, 'log')[0]?.code, 'SIGNATURE_BUDGET_EXHAUSTED');
  assert.equal(effectsOf(sim.log, 'quarantine').length, 0);
  sim.advanceBy(30_000);
  assert.deepEqual(sim.state.lastExchange, {
    outcome: 'unanswered',
    refusals: { RECORD_BAD_SIGNATURE: 14, SIGNATURE_BUDGET_EXHAUSTED: 2 },
  });
  assert.equal(sim.state.unanswered, 1);
});

test('onEvent() refuses an unsigned answer to a quarantined device and a malformed datagram', () => {
  const { ctx } = identifiedScenario();
  const sim = scenarioAgent(ctx, 'identified', true);
  assert.equal(effectsOf(sim.log, 'quarantine').length, 1);
  const unsigned = encodeResponse(
    { messageId: 7, token: TOKEN },
    {
      kind: 'unsigned-verdict',
      verdict: encodeUnsignedVerdict({
        nonce: NONCE,
        status: 'pass',
        destination: COLLECTOR_ADDRESS,
        source: DEVICE_ADDRESS,
        lifetimeSeconds: 60,
        feedVersion: 42,
      }),
    },
    COAP_CODE.POST,
  );
  const from = { address: COLLECTOR_ADDRESS, port: 5683 };
  assertRefused(
    sim,
    sim.step({ kind: 'answer', bytes: unsigned, from }),
    'UNSIGNED_WHILE_QUARANTINED',
  );
  const junk = sim.step({ kind: 'answer', bytes: Uint8Array.of(0x40, 0x01, 0x02), from });
  assert.equal(effectsOf(junk, 'log')[0]?.code, 'MALFORMED');
  assert.equal(sim.state.status, 'quarantined');
  sim.advanceBy(30_000);
  assert.deepEqual(sim.state.lastExchange, {
    outcome: 'unanswered',
    refusals: { UNSIGNED_WHILE_QUARANTINED: 1, MALFORMED: 1 },
  });
});

test('onEvent() accepts an IPv4 answer with an advisory scope check when the WAN address is unknown', () => {
  const { answer, ctx } = identifiedScenario();
  const sim = new AgentSim({
    config: agentConfig({ collectors: V6_ONLY }),
    random: scenarioRandom(),
  });
  sim.step({ kind: 'network', hasDefaultRoute: true, addresses: [] });
  sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY);
  const effects = sim.step(answerEvent(answer, ctx));
  assert.ok(effectsOf(effects, 'log').some((l) => l.code === 'SCOPE_ADVISORY'));
  assert.equal(sim.state.lastExchange?.scopeCheck, 'advisory');
  assert.equal(effectsOf(effects, 'quarantine').length, 1);
});
