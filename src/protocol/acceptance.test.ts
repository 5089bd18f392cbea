import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptAnswer, REFUSAL_CODES, type RefusalCode } from './acceptance.ts';
import {
  DEVICE,
  EXCLUSIVE_PAIRS,
  IDENTIFIED_CONDITIONS,
  identifiedScenario,
  PRIVATE_CONDITIONS,
  privateScenario,
  roundTrip,
  scenarioBook,
  type IdentifiedCondition,
  type PrivateCondition,
} from '../testing/trust-fixture.ts';
import { encodeUnsignedVerdict } from './response.ts';

const order = (c: RefusalCode): number => REFUSAL_CODES.indexOf(c);
const exclusive = (a: RefusalCode, b: RefusalCode): boolean => EXCLUSIVE_PAIRS.some(([x, y]) => (x === a && y === b) || (x === b && y === a));

test('acceptAnswer() accepts the identified all-true row as a signed, scope-verified FAIL', () => {
  const { answer, ctx } = identifiedScenario();
  const result = acceptAnswer(answer, ctx);
  assert.equal(result.accept, true, JSON.stringify(result));
  assert.equal(result.status, 'fail');
  assert.equal(result.signed, true);
  assert.equal(result.scopeCheck, 'verified');
  assert.equal(result.lifetimeSeconds, 86_400);
  assert.equal(result.record?.model, 'dir859');
  assert.equal(ctx.budget.used, 3);
});

for (const condition of IDENTIFIED_CONDITIONS) {
  test(`acceptAnswer() refuses an identified FAIL with only ${condition} false, reporting ${condition}`, () => {
    const { answer, ctx } = identifiedScenario([condition]);
    const result = acceptAnswer(answer, ctx);
    assert.equal(result.accept, false);
    assert.equal(result.reason, condition, result.detail);
  });
}

test('acceptAnswer() reports the first failing check for every pair of identified failures', () => {
  for (const [i, a] of IDENTIFIED_CONDITIONS.entries()) {
    for (const b of IDENTIFIED_CONDITIONS.slice(i + 1)) {
      if (exclusive(a, b)) continue;
      const { answer, ctx } = identifiedScenario([a, b] as IdentifiedCondition[]);
      const result = acceptAnswer(answer, ctx);
      const first = order(a) < order(b) ? a : b;
      assert.equal(result.accept ? 'accepted' : result.reason, first, `${a} + ${b}`);
    }
  }
});

test('acceptAnswer() makes a private all-true row a FAIL the device derived itself', () => {
  const { answer, ctx } = privateScenario();
  const result = acceptAnswer(answer, ctx);
  assert.equal(result.accept, true, JSON.stringify(result));
  assert.equal(result.mode, 'private');
  assert.equal(result.status, 'fail');
  assert.equal(result.basis, undefined);
  assert.equal(result.entries?.length, 1);
  assert.equal(result.scopeCheck, 'verified');
  assert.equal(ctx.budget.used, 3);
});

const BASES: readonly PrivateCondition[] = ['MODEL_MISMATCH', 'HARDWARE_NOT_AFFECTED', 'VERSION_NOT_AFFECTED', 'NOT_ELIGIBLE', 'POLICY_DENIED'];
for (const condition of PRIVATE_CONDITIONS) {
  test(`acceptAnswer() gives no private FAIL with only ${condition} false, reporting ${condition}`, () => {
    const { answer, ctx } = privateScenario([condition]);
    const result = acceptAnswer(answer, ctx);
    if (BASES.includes(condition)) {
      // The answer is valid; the device's own evaluation says it is not to be quarantined.
      assert.equal(result.accept, true);
          assert.notEqual(result.status, 'fail');
      assert.equal(result.basis, condition);
    } else {
      assert.equal(result.accept, false);
      assert.equal(result.reason, condition, result.detail);
    }
  });
}

test('acceptAnswer() refuses answers that are not verdicts, and unsigned answers to a quarantined device', () => {
  const { ctx } = identifiedScenario();
  const notFound = acceptAnswer(roundTrip({ kind: 'not-found' }), ctx);
  assert.equal(notFound.accept ? 'accepted' : notFound.reason, 'UNEXPECTED_KIND');
  const pass = {
    nonce: new Uint8Array(16).fill(0x17),
    status: 'pass' as const,
    destination: ctx.book.requests[0]?.destination ?? new Uint8Array(16),
    source: new Uint8Array(16),
    lifetimeSeconds: 3600,
    feedVersion: 42,
  };
  const unsigned = roundTrip({ kind: 'unsigned-verdict', verdict: encodeUnsignedVerdict(pass) });
  const open = acceptAnswer(unsigned, ctx);
  assert.equal(open.accept && open.signed, false);
  assert.equal(open.accept, true);
  const quarantined = acceptAnswer(unsigned, { ...ctx, book: scenarioBook({ quarantined: true }) });
  assert.equal(quarantined.accept ? 'accepted' : quarantined.reason, 'UNSIGNED_WHILE_QUARANTINED');
  assert.equal(ctx.budget.used, 0);
});

test('acceptAnswer() records an unknown device address as an advisory scope check', () => {
  const { answer, ctx } = identifiedScenario(['OUT_OF_SCOPE']);
  const device = { vendor: DEVICE.vendor, model: DEVICE.model, swVersion: DEVICE.swVersion, hwVersion: DEVICE.hwVersion };
  const result = acceptAnswer(answer, { ...ctx, device });
  assert.equal(result.accept, true);
  assert.equal(result.scopeCheck, 'advisory');
});

test('REFUSAL_CODES lists every identified and private condition once', () => {
  assert.equal(new Set(REFUSAL_CODES).size, REFUSAL_CODES.length);
  for (const c of [...IDENTIFIED_CONDITIONS, ...PRIVATE_CONDITIONS]) assert.ok(REFUSAL_CODES.includes(c), c);
});
