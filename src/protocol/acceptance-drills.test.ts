import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PrivateKey } from '../crypto/index.ts';
import { acceptAnswer, type Acceptance, type AcceptanceContext } from './acceptance.ts';
import { decodeCbor, encodeCbor } from './cbor.ts';
import { verifySign1 } from './cose.ts';
import { readFeedRecord, signFeedRecord, type FeedRecord } from './feed-record.ts';
import { parseIp } from './ip.ts';
import { readKeyCertificate } from './key-certificate.ts';
import { addRequest, settleNonceBook, type NonceBook } from './nonce-book.ts';
import type { DecodedResponse } from './response.ts';
import { MAX_SIGNATURE_CHECKS_PER_WINDOW, SignatureBudget } from './signature-budget.ts';
import { bootTimeFloor, isLifetimeOver, raiseTimeFloor, remainingSeconds, resumeLifetime, startLifetime } from './time-floor.ts';
import { signVerdict, type Status } from './verdict.ts';
import {
  collectorCertificate,
  COLLECTOR_ADDRESS,
  deviceRecord,
  DEVICE_ADDRESS,
  identifiedScenario,
  NONCE,
  NOW,
  roundTrip,
  tamperSignature,
  TOKEN,
  T0_MS,
} from '../testing/trust-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';

/** A verdict answer signed by `signer`, carrying `record` signed by `recordKey`. */
function verdictAnswer(options: { signer?: PrivateKey; status?: Status; record?: FeedRecord; recordKey?: PrivateKey; nonce?: Uint8Array; token?: Uint8Array; destination?: Uint8Array } = {}): DecodedResponse {
  const status = options.status ?? 'fail';
  const record = status === 'pass' ? undefined : readFeedRecord(signFeedRecord(options.recordKey ?? TRUST_KEYS.feed, options.record ?? deviceRecord()));
  const tag = signVerdict(options.signer ?? TRUST_KEYS.collector, {
    nonce: options.nonce ?? NONCE,
    status,
    destination: options.destination ?? COLLECTOR_ADDRESS,
    source: DEVICE_ADDRESS,
    lifetimeSeconds: 86_400,
    feedVersion: 42,
    ...(record === undefined ? {} : { record }),
  });
  return roundTrip({ kind: 'verdict', signed: encodeCbor(tag) }, options.token ?? TOKEN);
}

function reason(result: Acceptance): string {
  return result.accept ? `accepted ${result.status}` : result.reason;
}

function freshContext(overrides: Partial<AcceptanceContext> = {}): AcceptanceContext {
  return { ...identifiedScenario().ctx, budget: new SignatureBudget(), ...overrides };
}

test('drill: a stolen collector key with a valid certificate quarantines no device that is not really listed', () => {
  const attempts: [string, DecodedResponse, AcceptanceContext][] = [
    ['device listed by no record (a real record of another model)', verdictAnswer({ record: deviceRecord({ model: 'dir860l' }) }), freshContext()],
    ['record forged with the collector key', verdictAnswer({ recordKey: TRUST_KEYS.collector }), freshContext()],
    ['record not eligible', verdictAnswer({ record: deviceRecord({ eligible: false }) }), freshContext()],
    ['device on another (fixed) version', verdictAnswer(), freshContext({ device: { ...freshContext().device, swVersion: '1.06B01' } })],
    ['device outside the certificate scope', verdictAnswer(), freshContext({ device: { ...freshContext().device, scopeAddress: parseIp('2001:db8:9::7') ?? new Uint8Array(16) } })],
  ];
  const results = attempts.map(([name, answer, ctx]) => [name, reason(acceptAnswer(answer, ctx))]);
  assert.deepEqual(results, [
    ['device listed by no record (a real record of another model)', 'MODEL_MISMATCH'],
    ['record forged with the collector key', 'RECORD_KEY_NOT_AUTHORISED'],
    ['record not eligible', 'NOT_ELIGIBLE'],
    ['device on another (fixed) version', 'VERSION_NOT_AFFECTED'],
    ['device outside the certificate scope', 'OUT_OF_SCOPE'],
  ]);
});

test('drill: a stolen feed key without a collector certificate quarantines nobody', () => {
  const forgedCert = readKeyCertificate(decodeCbor(encodeCbor(collectorCertificate({ issuer: TRUST_KEYS.feed, subject: TRUST_KEYS.attacker }))));
  const attempts: [DecodedResponse, AcceptanceContext][] = [
    [verdictAnswer({ signer: TRUST_KEYS.feed }), freshContext()],
    [verdictAnswer({ signer: TRUST_KEYS.attacker }), freshContext()],
    [verdictAnswer({ signer: TRUST_KEYS.attacker }), freshContext({ certificates: [forgedCert] })],
  ];
  assert.deepEqual(attempts.map(([a, c]) => reason(acceptAnswer(a, c))), ['NO_CERTIFICATE', 'NO_CERTIFICATE', 'CERT_ISSUER_UNKNOWN']);
});

test('replay: the same verdict twice causes one action', () => {
  const answer = verdictAnswer();
  let ctx = freshContext();
  const actions: string[] = [];
  for (let i = 0; i < 2; i++) {
    const result = acceptAnswer(answer, ctx);
    if (!result.accept) {
      actions.push(`refused ${result.reason}`);
      continue;
    }
    const outcome = settleNonceBook(ctx.book, { status: result.status, token: result.token });
    actions.push(outcome.action);
    ctx = { ...ctx, book: outcome.book };
  }
  assert.deepEqual(actions, ['act', 'refused ALREADY_SETTLED']);
});

test('replay: a verdict for another nonce is refused', () => {
  const captured = verdictAnswer({ nonce: new Uint8Array(16).fill(0x55) });
  assert.equal(reason(acceptAnswer(captured, freshContext())), 'NONCE_MISMATCH');
  const otherToken = verdictAnswer({ token: new Uint8Array(8).fill(0x01) });
  assert.equal(reason(acceptAnswer(otherToken, freshContext())), 'UNKNOWN_TOKEN');
});

test('replay: an old verdict is refused once the time floor has passed its certificate', () => {
  const answer = verdictAnswer();
  assert.equal(reason(acceptAnswer(answer, freshContext())), 'accepted fail');
  // A root document issued 8 days later raised the floor; the clock is then set back to NOW.
  const floor = raiseTimeFloor(bootTimeFloor(NOW - 86_400, 0), { signedSeconds: NOW + 8 * 86_400, monotonicMs: 0 });
  const later = freshContext({ time: { floorSeconds: floor.floorSeconds, wallSeconds: NOW } });
  assert.equal(reason(acceptAnswer(answer, later)), 'CERT_EXPIRED');
});

test('conflict: a valid FAIL after an accepted PASS wins and is reported; nothing after it acts', () => {
  const v4 = parseIp('192.0.2.53') ?? new Uint8Array(4);
  let book: NonceBook = addRequest(freshContext().book, { attempt: 0, destination: v4, token: new Uint8Array(8).fill(0x44), nonce: new Uint8Array(16).fill(0x18), mode: 'identified', quarantined: false });
  const pass = verdictAnswer({ status: 'pass', token: new Uint8Array(8).fill(0x44), nonce: new Uint8Array(16).fill(0x18), destination: v4 });
  const fail = verdictAnswer();
  const log: string[] = [];
  for (const [answer, from] of [[pass, v4], [fail, COLLECTOR_ADDRESS], [pass, v4]] as const) {
    const result = acceptAnswer(answer, freshContext({ book, from }));
    if (!result.accept) {
      log.push(`refused ${result.reason}`);
      continue;
    }
    const outcome = settleNonceBook(book, { status: result.status, token: result.token });
    book = outcome.book;
    log.push(`${outcome.action} ${result.status}${outcome.overrode === undefined ? '' : ` overriding ${outcome.overrode.status}`}`);
  }
  assert.deepEqual(log, ['act pass', 'act fail overriding pass', 'refused ALREADY_SETTLED']);
});

test('time: a clock set back cannot revive an expired certificate; set forward it only refuses (fail-open)', () => {
  const expired = readKeyCertificate(decodeCbor(encodeCbor(collectorCertificate({ notBefore: NOW - 8 * 86_400, notAfter: NOW - 86_400 }))));
  const back = freshContext({ certificates: [expired], time: { floorSeconds: NOW, wallSeconds: NOW - 10 * 86_400 } });
  assert.equal(reason(acceptAnswer(verdictAnswer(), back)), 'CERT_EXPIRED');
  const forward = freshContext({ time: { floorSeconds: NOW - 86_400, wallSeconds: NOW + 365 * 86_400 } });
  assert.equal(reason(acceptAnswer(verdictAnswer(), forward)), 'CERT_EXPIRED');
});

test('time: a verdict lifetime runs on the monotonic clock; wall-clock jumps and reboots do not shorten it', () => {
  const result = acceptAnswer(verdictAnswer(), freshContext());
  assert.equal(result.accept, true);
  const lifetime = startLifetime(result.lifetimeSeconds, T0_MS);
  // The wall clock is set a year forward: nothing here reads it.
  assert.equal(isLifetimeOver(lifetime, T0_MS + 3_600_000), false);
  // Reboot after 10 h with a checkpoint taken at 9 h: resumes with 15 h left, never less.
  const persisted = remainingSeconds(lifetime, T0_MS + 9 * 3_600_000);
  const resumed = resumeLifetime(persisted, 0);
  assert.equal(isLifetimeOver(resumed, 14 * 3_600_000), false);
  assert.equal(isLifetimeOver(resumed, 15 * 3_600_000), true);
  assert.equal(isLifetimeOver(lifetime, T0_MS + 86_400_000), true);
});

test('time: without an RTC the device judges expiry by its floor and raises it from what it verified', () => {
  // Booted with the persisted floor 2 days old and no trusted wall clock.
  let floor = bootTimeFloor(NOW - 2 * 86_400, 0);
  const ctx = freshContext({ time: { floorSeconds: floor.floorSeconds } });
  const result = acceptAnswer(verdictAnswer(), ctx);
  assert.equal(reason(result), 'accepted fail');
  if (result.accept && result.signedTimeSeconds !== undefined) floor = raiseTimeFloor(floor, { signedSeconds: result.signedTimeSeconds, monotonicMs: 1000 });
  assert.equal(floor.floorSeconds, NOW - 3_600);
  // A certificate that expired before the persisted floor is refused even with no clock at all.
  const stale = readKeyCertificate(decodeCbor(encodeCbor(collectorCertificate({ notBefore: NOW - 10 * 86_400, notAfter: NOW - 4 * 86_400 }))));
  assert.equal(reason(acceptAnswer(verdictAnswer(), freshContext({ certificates: [stale], time: { floorSeconds: NOW - 2 * 86_400 } }))), 'CERT_EXPIRED');
});

test(`cost: 10,000 well-formed wrong verdicts in one window cost at most ${MAX_SIGNATURE_CHECKS_PER_WINDOW} signature checks`, () => {
  let verifications = 0;
  const verifier = (...args: Parameters<typeof verifySign1>): boolean => {
    verifications++;
    return verifySign1(...args);
  };
  const ctx = freshContext({ verifier });
  const forged = [
    roundTrip({ kind: 'verdict', signed: encodeCbor(tamperSignature(signVerdict(TRUST_KEYS.collector, { nonce: NONCE, status: 'pass', destination: COLLECTOR_ADDRESS, source: DEVICE_ADDRESS, lifetimeSeconds: 60, feedVersion: 1 }))) }),
    verdictAnswer({ record: deviceRecord({ eligible: false }) }),
    verdictAnswer({ signer: TRUST_KEYS.attacker }),
    verdictAnswer({ nonce: new Uint8Array(16).fill(0x66) }),
    verdictAnswer({ token: new Uint8Array(8).fill(0x67) }),
  ];
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) {
    const answer = forged[i % forged.length];
    if (answer !== undefined && acceptAnswer(answer, ctx).accept) accepted++;
  }
  assert.equal(accepted, 0);
  assert.ok(verifications <= MAX_SIGNATURE_CHECKS_PER_WINDOW, `${verifications} verifications`);
  assert.equal(verifications, ctx.budget.used);
  // A genuine answer after the flood is refused for budget, not for anything else: fail-open.
  assert.equal(reason(acceptAnswer(verdictAnswer(), ctx)), 'SIGNATURE_BUDGET_EXHAUSTED');
});
