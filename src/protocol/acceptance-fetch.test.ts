import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCbor, encodeCbor } from './cbor.ts';
import { COAP_CODE } from './coap.ts';
import { acceptAnswer, acceptCertificate, combinePrivatePages, VerificationMemo, type Accepted, type CertificateContext } from './acceptance.ts';
import { readKeyCertificate } from './key-certificate.ts';
import { addQuery, addRequest, bookEntries, findQuery, findRequest, MAX_BOOK_ENTRIES, openNonceBook } from './nonce-book.ts';
import { decodeResponse, encodeResponse } from './response.ts';
import { SignatureBudget } from './signature-budget.ts';
import { trustAnchorsOf } from './trust-root.ts';
import { COLLECTOR_ADDRESS, NOW, OTHER_ADDRESS, ROOT, T0_MS, collectorCertificate, identifiedScenario, privateScenario } from '../testing/trust-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';

const QUERY_TOKEN = new Uint8Array(8).fill(0x51);

function certificateContext(overrides: Partial<CertificateContext> = {}): CertificateContext {
  const book = addQuery(openNonceBook(T0_MS), { attempt: 0, destination: COLLECTOR_ADDRESS, token: QUERY_TOKEN, kid: TRUST_KEYS.collector.publicKey.kid });
  return { from: COLLECTOR_ADDRESS, nowMs: T0_MS + 100, time: { floorSeconds: NOW - 86_400, wallSeconds: NOW }, book, anchors: trustAnchorsOf(ROOT), budget: new SignatureBudget(), ...overrides };
}

function certificateAnswer(options: Parameters<typeof collectorCertificate>[0] = {}, token = QUERY_TOKEN): ReturnType<typeof decodeResponse> {
  return decodeResponse(encodeResponse({ messageId: 1, token }, { kind: 'certificate', certificate: encodeCbor(collectorCertificate(options)) }, COAP_CODE.GET));
}

test('acceptAnswer() names the kid it has no certificate for, and the kid of an expired one', () => {
  const missing = acceptAnswer(identifiedScenario(['NO_CERTIFICATE']).answer, identifiedScenario(['NO_CERTIFICATE']).ctx);
  assert.ok(!missing.accept && missing.reason === 'NO_CERTIFICATE');
  assert.deepEqual(missing.kid, TRUST_KEYS.collector.publicKey.kid);
  const { answer, ctx } = privateScenario(['CERT_EXPIRED']);
  const expired = acceptAnswer(answer, ctx);
  assert.ok(!expired.accept && expired.reason === 'CERT_EXPIRED');
  assert.deepEqual(expired.kid, TRUST_KEYS.collector.publicKey.kid);
  const bad = acceptAnswer(identifiedScenario(['BAD_SIGNATURE']).answer, identifiedScenario(['BAD_SIGNATURE']).ctx);
  assert.equal(bad.accept ? undefined : bad.kid, undefined);
});

test('acceptCertificate() keeps a current, registry-signed certificate for the kid asked, at one verification', () => {
  const ctx = certificateContext();
  const result = acceptCertificate(certificateAnswer(), ctx);
  assert.ok(result.accept, JSON.stringify(result));
  assert.deepEqual(result.kid, TRUST_KEYS.collector.publicKey.kid);
  assert.equal(result.signedTimeSeconds, NOW - 86_400);
  assert.equal(ctx.budget.used, 1);
});

test('acceptCertificate() refuses each failing condition with its code, cheapest first', () => {
  const cases: [string, ReturnType<typeof decodeResponse>, Partial<CertificateContext>, string][] = [
    ['unknown token', certificateAnswer({}, new Uint8Array(8).fill(0x52)), {}, 'UNKNOWN_TOKEN'],
    ['wrong source', certificateAnswer(), { from: OTHER_ADDRESS }, 'WRONG_SOURCE'],
    ['window closed', certificateAnswer(), { nowMs: T0_MS + 30_000 }, 'WINDOW_CLOSED'],
    ['another key', certificateAnswer({ subject: TRUST_KEYS.attacker }), {}, 'CERT_KID_MISMATCH'],
    ['attacker issuer', certificateAnswer({ issuer: TRUST_KEYS.attacker }), {}, 'CERT_ISSUER_UNKNOWN'],
    ['budget', certificateAnswer(), { budget: new SignatureBudget(0) }, 'SIGNATURE_BUDGET_EXHAUSTED'],
    ['tampered', certificateAnswer({ tamper: true }), {}, 'CERT_BAD_SIGNATURE'],
    ['expired', certificateAnswer({ notBefore: NOW - 8 * 86_400, notAfter: NOW - 86_400 }), {}, 'CERT_EXPIRED'],
    ['ahead', certificateAnswer({ notBefore: NOW + 86_400, notAfter: NOW + 2 * 86_400 }), {}, 'CERT_NOT_YET_VALID'],
  ];
  for (const [name, answer, overrides, code] of cases) {
    const result = acceptCertificate(answer, certificateContext(overrides));
    assert.equal(result.accept ? 'accepted' : result.reason, code, name);
  }
  const verdict = identifiedScenario().answer;
  const notCertificate = acceptCertificate(verdict, certificateContext());
  assert.equal(notCertificate.accept ? 'accepted' : notCertificate.reason, 'UNEXPECTED_KIND');
});

test('VerificationMemo charges a signed document once per key and window', () => {
  const memo = new VerificationMemo();
  const { answer, ctx } = privateScenario();
  const first = acceptAnswer(answer, { ...ctx, memo });
  assert.equal(first.accept, true);
  assert.equal(ctx.budget.used, 3);
  const budget = new SignatureBudget(0);
  // The same page again: nothing left to verify, so even an empty budget accepts it.
  const again = acceptAnswer(answer, { ...ctx, budget, memo });
  assert.equal(again.accept, true);
  assert.equal(memo.entries.length, 3);
  const fresh = new VerificationMemo(memo.entries);
  const certificate = readKeyCertificate(decodeCbor(encodeCbor(collectorCertificate())));
  assert.equal(fresh.has(certificate.sign1, TRUST_KEYS.registry.publicKey.raw), true);
  assert.equal(fresh.has(certificate.sign1, TRUST_KEYS.attacker.publicKey.raw), false);
});

function page(page: number, status: Accepted['status'], options: Partial<Accepted> = {}): Accepted {
  return { accept: true, mode: 'private', status, signed: true, token: new Uint8Array(8).fill(page), scopeCheck: 'verified', lifetimeSeconds: 1000 - page, page, pages: 3, feedVersion: 42, entries: [], ...(status === 'pass' ? { basis: 'MODEL_MISMATCH' } : {}), ...options };
}

test('combinePrivatePages() decides only on a complete set of one feed version', () => {
  assert.equal(combinePrivatePages([]), undefined);
  assert.equal(combinePrivatePages([page(0, 'pass'), page(1, 'pass')]), undefined);
  assert.equal(combinePrivatePages([page(0, 'pass'), page(1, 'pass'), page(1, 'pass')]), undefined);
  assert.equal(combinePrivatePages([page(0, 'pass'), page(1, 'pass'), page(2, 'pass', { feedVersion: 43 })]), undefined);
  const pass = combinePrivatePages([page(0, 'pass'), page(2, 'pass', { basis: 'VERSION_NOT_AFFECTED', scopeCheck: 'advisory' }), page(1, 'pass')]);
  assert.equal(pass?.status, 'pass');
  assert.equal(pass.basis, 'VERSION_NOT_AFFECTED');
  assert.equal(pass.scopeCheck, 'advisory');
  assert.equal(pass.lifetimeSeconds, 998);
  const warn = combinePrivatePages([page(0, 'pass'), page(1, 'warn', { basis: 'NOT_ELIGIBLE' }), page(2, 'warn', { basis: 'POLICY_DENIED' })]);
  assert.equal(warn?.status, 'warn');
  assert.equal(warn.basis, 'POLICY_DENIED');
  // A FAIL page is conclusive by itself: every set holding it is a FAIL.
  const fail = combinePrivatePages([page(0, 'pass'), page(1, 'fail', { feedVersion: 43 })]);
  assert.equal(fail?.status, 'fail');
  assert.throws(() => combinePrivatePages([{ ...page(0, 'pass'), mode: 'identified' }]), RangeError);
});

test('addQuery() keeps one query per kid, shares the book bound and is found by token', () => {
  const kid = TRUST_KEYS.collector.publicKey.kid;
  const book = addQuery(openNonceBook(0), { attempt: 0, destination: COLLECTOR_ADDRESS, token: QUERY_TOKEN, kid });
  assert.throws(() => addQuery(book, { attempt: 1, destination: COLLECTOR_ADDRESS, token: new Uint8Array(8).fill(1), kid }), /already queried/);
  assert.throws(() => addQuery(book, { attempt: 1, destination: COLLECTOR_ADDRESS, token: QUERY_TOKEN, kid: TRUST_KEYS.attacker.publicKey.kid }), /token reused/);
  assert.deepEqual(findQuery(book, QUERY_TOKEN)?.kid, kid);
  assert.equal(findRequest(book, QUERY_TOKEN), undefined);
  let full = book;
  for (let i = 1; i < MAX_BOOK_ENTRIES; i++) {
    full = addRequest(full, { attempt: 0, destination: COLLECTOR_ADDRESS, token: new Uint8Array(8).fill(i), nonce: new Uint8Array(16).fill(i), mode: 'private', quarantined: false, page: i % 16 });
  }
  assert.equal(bookEntries(full), MAX_BOOK_ENTRIES);
  assert.throws(() => addQuery(full, { attempt: 0, destination: COLLECTOR_ADDRESS, token: new Uint8Array(8).fill(200), kid: TRUST_KEYS.attacker.publicKey.kid }), /at most 32/);
});
