import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { VerifiedBundle } from '../feed/bundle.ts';
import {
  acceptAnswer,
  decodeCbor,
  decodeResponse,
  encodeCbor,
  parseIp,
  parsePrefix,
  readPolicy,
  signRoot,
  verifySign1,
  type DecodedResponse,
  type Status,
} from '../protocol/index.ts';
import {
  COLLECTOR_ADDRESS,
  DEVICE_ADDRESS,
  FEED_EXPIRES,
  NOW,
  NOW_MS,
  ROOT,
  certificateBytes,
  deviceContext,
  identifiedRequest,
  privateRequest,
  requestBytes,
  testBundle,
} from '../testing/collector-fixture.ts';
import { testKey } from '../testing/keys.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { negativeVectors } from '../testing/vector-cases.ts';
import { createCollectorState, onDatagram, withFeed, withKey, withPolicy, type CollectorOptions, type CollectorState, type Effect } from './core.ts';

let bundle: VerifiedBundle;
let rootBytes: Uint8Array;

before(() => {
  bundle = testBundle();
  rootBytes = encodeCbor(signRoot([TRUST_KEYS.root[0], TRUST_KEYS.root[1]].filter((k) => k !== undefined), ROOT));
});

function makeState(overrides: Partial<CollectorOptions> = {}): CollectorState {
  return createCollectorState({ operator: 'Example ISP', key: TRUST_KEYS.collector, certificate: certificateBytes(), feed: bundle, roots: [rootBytes], ...overrides });
}

function send(state: CollectorState, bytes: Uint8Array, options: { nowMs?: number; source?: Uint8Array } = {}): Effect[] {
  return onDatagram(state, { bytes, source: { address: options.source ?? DEVICE_ADDRESS, port: 40_000 }, destination: { address: COLLECTOR_ADDRESS, port: 5683 } }, options.nowMs ?? NOW_MS);
}

function onlyReply(effects: readonly Effect[], requestLength = 1232): { bytes: Uint8Array; answer: DecodedResponse } {
  const replies = effects.filter((e) => e.kind === 'reply');
  assert.equal(replies.length, 1, JSON.stringify(effects.filter((e) => e.kind !== 'reply')));
  assert.equal(effects.filter((e) => e.kind === 'drop').length, 0);
  const bytes = replies[0]?.kind === 'reply' ? replies[0].bytes : new Uint8Array(0);
  assert.ok(bytes.byteLength <= requestLength, 'BAF ≤ 1');
  return { bytes, answer: decodeResponse(bytes) };
}

function dropCode(effects: readonly Effect[]): string | undefined {
  assert.equal(effects.filter((e) => e.kind === 'reply').length, 0);
  const drops = effects.filter((e) => e.kind === 'drop');
  assert.equal(drops.length, 1);
  return drops[0]?.kind === 'drop' ? drops[0].code : undefined;
}

function verdictOf(answer: DecodedResponse): { status: Status; signed: boolean; record: boolean } {
  const r = answer.response;
  if (r.kind === 'verdict') return { status: r.verdict.value.status, signed: true, record: r.verdict.value.record !== undefined };
  if (r.kind === 'unsigned-verdict') return { status: r.verdict.status, signed: false, record: r.verdict.record !== undefined };
  throw new assert.AssertionError({ message: `expected a verdict, got ${r.kind}` });
}

test('onDatagram() drops every malformed request vector with its code and no answer', () => {
  const state = makeState();
  const vectors = negativeVectors().filter((v) => v.direction === 'request');
  assert.ok(vectors.length >= 15);
  for (const v of vectors) assert.equal(dropCode(send(state, v.bytes)), v.code, v.name);
  assert.equal(dropCode(send(state, new Uint8Array(0))), 'BAD_LENGTH');
});

test('onDatagram() answers an identified FAIL signed, with the exact record bytes, and the device accepts it', () => {
  const state = makeState();
  const { bytes, answer } = onlyReply(send(state, requestBytes(identifiedRequest())));
  assert.deepEqual(verdictOf(answer), { status: 'fail', signed: true, record: true });
  const recordBytes = bundle.recordsFor('dlink', 'dir859')[0]?.bytes;
  assert.ok(recordBytes !== undefined);
  assert.ok(Buffer.from(bytes).includes(Buffer.from(recordBytes)), 'the signed record is embedded byte for byte');
  const r = answer.response;
  assert.ok(r.kind === 'verdict');
  assert.deepEqual(r.verdict.value.destination, COLLECTOR_ADDRESS);
  assert.deepEqual(r.verdict.value.source, DEVICE_ADDRESS);
  assert.equal(r.verdict.value.feedVersion, 42);
  assert.equal(r.verdict.value.lifetimeSeconds, 7 * 86_400);
  assert.ok(verifySign1(r.verdict.sign1, TRUST_KEYS.collector.publicKey));
  const accepted = acceptAnswer(answer, deviceContext({ mode: 'identified' }));
  assert.ok(accepted.accept, accepted.accept ? '' : accepted.reason);
  assert.equal(accepted.status, 'fail');
  assert.equal(accepted.scopeCheck, 'verified');
});

test('onDatagram() signs FAIL and WARN always, PASS and UNKNOWN only for a quarantined device ([P-5.1-4])', () => {
  const state = makeState();
  const cases: [string, Parameters<typeof identifiedRequest>[0], Status, boolean][] = [
    ['warn', { vendor: 'hikvision', model: 'ds2cd2032i' }, 'warn', true],
    ['pass', { swVersion: { version: '2.1' } }, 'pass', false],
    ['unknown', { model: 'dir860l' }, 'unknown', false],
  ];
  for (const [name, overrides, status, record] of cases) {
    for (const quarantined of [false, true]) {
      const { answer } = onlyReply(send(state, requestBytes(identifiedRequest({ ...overrides, quarantined }))));
      const signed = status === 'warn' || quarantined;
      assert.deepEqual(verdictOf(answer), { status, signed, record }, `${name}, quarantined ${quarantined}`);
      const accepted = acceptAnswer(answer, deviceContext({ mode: 'identified', quarantined }));
      assert.ok(accepted.accept, `${name}: ${accepted.accept ? '' : accepted.reason}`);
      assert.equal(accepted.status, status);
      assert.equal(accepted.signed, signed);
    }
  }
});

test('onDatagram() never answers FAIL from an expired feed: UNKNOWN without a record', () => {
  const state = makeState();
  for (const nowMs of [FEED_EXPIRES * 1000, FEED_EXPIRES * 1000 + 86_400_000]) {
    const { answer } = onlyReply(send(state, requestBytes(identifiedRequest()), { nowMs }));
    assert.deepEqual(verdictOf(answer), { status: 'unknown', signed: false, record: false });
  }
  // One second before expiry it still FAILs, with the lifetime capped at the feed's remaining second.
  const { answer } = onlyReply(send(state, requestBytes(identifiedRequest()), { nowMs: (FEED_EXPIRES - 1) * 1000 }));
  assert.ok(answer.response.kind === 'verdict');
  assert.equal(answer.response.verdict.value.status, 'fail');
  assert.equal(answer.response.verdict.value.lifetimeSeconds, 1);
});

test('onDatagram() applies policy: warn-only, a denied advisory and an exempt source get WARN with the record', () => {
  const policies = [{ warnOnly: true }, { deny: ['CVE-2019-17621'] }, { minCvss10: 99 }, { exemptPrefixes: [parsePrefix('2001:db8:1::/48')] }];
  for (const policy of policies) {
    const { answer } = onlyReply(send(makeState({ policy }), requestBytes(identifiedRequest())));
    assert.deepEqual(verdictOf(answer), { status: 'warn', signed: true, record: true }, JSON.stringify(policy));
  }
  // withPolicy() reloads the same way.
  const reloaded = withPolicy(makeState(), { ...makeState().policy, warnOnly: true });
  assert.equal(verdictOf(onlyReply(send(reloaded, requestBytes(identifiedRequest()))).answer).status, 'warn');
});

test('onDatagram() answers an IPv4-mapped source with its 4-byte address', () => {
  const mapped = parseIp('::ffff:192.0.2.7');
  assert.ok(mapped !== undefined);
  const { answer } = onlyReply(send(makeState(), requestBytes(identifiedRequest()), { source: mapped }));
  assert.ok(answer.response.kind === 'verdict');
  assert.deepEqual(answer.response.verdict.value.source, Uint8Array.from([192, 0, 2, 7]));
});

test('onDatagram() answers a private request with the cached page and policy, and the device decides FAIL', () => {
  const state = makeState();
  const first = onlyReply(send(state, requestBytes(privateRequest())));
  const r = first.answer.response;
  assert.ok(r.kind === 'private');
  assert.ok(Buffer.from(first.bytes).includes(Buffer.from(encodeCbor(r.bucket.tag))));
  assert.equal(r.policy.value.operator, 'Example ISP');
  assert.equal(r.policy.value.issuedAt, NOW);
  assert.ok(verifySign1(r.policy.sign1, TRUST_KEYS.collector.publicKey));
  const accepted = acceptAnswer(first.answer, deviceContext({ mode: 'private' }));
  assert.ok(accepted.accept, accepted.accept ? '' : accepted.reason);
  assert.equal(accepted.status, 'fail');
  // The policy is signed once, not per request: a later answer carries the same bytes.
  const later = onlyReply(send(state, requestBytes(privateRequest()), { nowMs: NOW_MS + 3_600_000 })).answer.response;
  assert.ok(later.kind === 'private');
  assert.deepEqual(encodeCbor(later.policy.tag), encodeCbor(r.policy.tag));
  // Near its expiry (default: a day, renewed with an hour left) it is re-signed.
  const renewed = onlyReply(send(state, requestBytes(privateRequest()), { nowMs: NOW_MS + 23 * 3_600_000 })).answer.response;
  assert.ok(renewed.kind === 'private');
  assert.equal(renewed.policy.value.issuedAt, NOW + 23 * 3_600);
});

test('onDatagram() drops a private request for a missing page, without a feed, or with an expired one', () => {
  assert.equal(dropCode(send(makeState(), requestBytes(privateRequest(5)))), 'NOT_FOUND');
  const noFeed = createCollectorState({ operator: 'Example ISP', key: TRUST_KEYS.collector, certificate: certificateBytes() });
  assert.equal(dropCode(send(noFeed, requestBytes(privateRequest()))), 'NO_FEED');
  assert.equal(dropCode(send(makeState(), requestBytes(privateRequest()), { nowMs: FEED_EXPIRES * 1000 })), 'FEED_EXPIRED');
});

test('onDatagram() answers UNKNOWN with feed version 0 before any feed is loaded', () => {
  const state = createCollectorState({ operator: 'Example ISP', key: TRUST_KEYS.collector, certificate: certificateBytes() });
  const { answer } = onlyReply(send(state, requestBytes(identifiedRequest())));
  assert.ok(answer.response.kind === 'unsigned-verdict');
  assert.equal(answer.response.verdict.status, 'unknown');
  assert.equal(answer.response.verdict.feedVersion, 0);
});

test('onDatagram() serves the certificate for its own kid and root documents by version, else 4.04', () => {
  const state = makeState();
  const certificate = onlyReply(send(state, requestBytes({ kind: 'certificate', kid: TRUST_KEYS.collector.publicKey.kid }))).answer.response;
  assert.ok(certificate.kind === 'certificate');
  assert.deepEqual(encodeCbor(certificate.certificate.tag), certificateBytes());
  assert.equal(onlyReply(send(state, requestBytes({ kind: 'certificate', kid: TRUST_KEYS.attacker.publicKey.kid }))).answer.response.kind, 'not-found');
  const root = onlyReply(send(state, requestBytes({ kind: 'root', version: 1 }))).answer.response;
  assert.ok(root.kind === 'root');
  assert.equal(root.root.value.version, 1);
  assert.equal(onlyReply(send(state, requestBytes({ kind: 'root', version: 2 }))).answer.response.kind, 'not-found');
});

test('onDatagram() rate-limits per source prefix and slips a 5.03 with Max-Age', () => {
  const state = makeState({ rateLimit: { ratePerSecond: 1, burst: 1, slip: 2, retryAfterSeconds: 30 } });
  const request = requestBytes({ kind: 'root', version: 1 });
  assert.equal(onlyReply(send(state, request)).answer.response.kind, 'root');
  assert.equal(dropCode(send(state, request)), 'RATE_LIMITED');
  const slip = send(state, request);
  const { bytes, answer } = onlyReply(slip);
  assert.deepEqual(answer.response, { kind: 'busy', retryAfterSeconds: 30 });
  assert.ok(bytes.byteLength <= 16);
  assert.ok(slip.some((e) => e.kind === 'count' && e.counter === 'rate_limited'));
  // Another /56 is not affected; the same one recovers after a second of the fake clock.
  const other = parseIp('2001:db8:1:100::1');
  assert.ok(other !== undefined);
  assert.equal(onlyReply(send(state, request, { source: other })).answer.response.kind, 'root');
  assert.equal(onlyReply(send(state, request, { nowMs: NOW_MS + 1_000 })).answer.response.kind, 'root');
  // Malformed datagrams are refused before the rate limit and never charge it.
  const fresh = makeState({ rateLimit: { ratePerSecond: 1, burst: 1 } });
  for (let i = 0; i < 10; i++) send(fresh, new Uint8Array(10));
  assert.equal(fresh.limiter.size, 0);
});

test('onDatagram() drops an answer larger than its request and counts OVERSIZE_ANSWER', () => {
  const state = makeState();
  const feed = state.feed;
  assert.ok(feed !== undefined);
  // A page the bundle could never hold (1300 bytes), planted to reach the send-path check.
  const huge = encodeCbor(new Uint8Array(1_297));
  const pages = feed.pages.map(() => [huge]);
  const planted: CollectorState = { ...state, feed: { ...feed, pages } };
  assert.equal(dropCode(send(planted, requestBytes(privateRequest()))), 'OVERSIZE_ANSWER');
});

test('onDatagram() counts aggregates only, and emits notify effects only when enabled', () => {
  const quiet = send(makeState(), requestBytes(identifiedRequest()));
  assert.deepEqual(quiet.filter((e) => e.kind === 'count'), [{ kind: 'count', counter: 'identified', labels: { vendor: 'dlink', model: 'dir859', status: 'fail' } }]);
  assert.equal(quiet.filter((e) => e.kind === 'notify').length, 0);
  const unlisted = send(makeState(), requestBytes(identifiedRequest({ vendor: 'acme', model: 'x' })));
  assert.deepEqual(unlisted.filter((e) => e.kind === 'count').map((e) => e.labels), [{ vendor: '(unlisted)', model: '(unlisted)', status: 'unknown' }]);
  const privateCounts = send(makeState(), requestBytes(privateRequest())).filter((e) => e.kind === 'count');
  assert.equal(privateCounts.length, 1);
  assert.ok(privateCounts[0]?.kind === 'count' && /^[0-9a-f]{3}$/.test(privateCounts[0].labels.bucket ?? ''));
  for (const e of [...quiet, ...unlisted, ...privateCounts]) if (e.kind === 'count') assert.ok(!JSON.stringify(e.labels).includes('2001'), 'no address in labels');
  const notifying = makeState({ notify: true });
  const loud = send(notifying, requestBytes(identifiedRequest()), { nowMs: NOW_MS + 5 });
  assert.deepEqual(loud.filter((e) => e.kind === 'notify'), [{ kind: 'notify', address: DEVICE_ADDRESS, status: 'fail', advisories: ['CVE-2019-17621'], atMs: NOW_MS + 5 }]);
  assert.equal(send(notifying, requestBytes(identifiedRequest({ swVersion: { version: '2.1' } }))).filter((e) => e.kind === 'notify').length, 0);
});

test('withFeed() swaps the feed without touching the old state, and never goes back', () => {
  const state = makeState();
  const next = withFeed(state, testBundle({ feedVersion: 43, rows: [] }));
  const after = onlyReply(send(next, requestBytes(identifiedRequest()))).answer.response;
  assert.ok(after.kind === 'unsigned-verdict');
  assert.equal(after.verdict.status, 'unknown');
  assert.equal(after.verdict.feedVersion, 43);
  assert.equal(verdictOf(onlyReply(send(state, requestBytes(identifiedRequest()))).answer).status, 'fail');
  assert.equal(next.limiter, state.limiter, 'rate limits carry over');
  assert.throws(() => withFeed(next, bundle), RangeError);
});

test('withKey() reloads the key and certificate: verdicts, policy and certificate answers follow', () => {
  const newKey = testKey(0x32);
  const newCertificate = certificateBytes({ subject: newKey });
  const state = makeState();
  onlyReply(send(state, requestBytes(privateRequest())));
  const next = withKey(state, newKey, newCertificate);
  const verdict = onlyReply(send(next, requestBytes(identifiedRequest()))).answer.response;
  assert.ok(verdict.kind === 'verdict');
  assert.ok(verifySign1(verdict.verdict.sign1, newKey.publicKey));
  const answer = onlyReply(send(next, requestBytes(privateRequest()))).answer;
  assert.ok(answer.response.kind === 'private');
  assert.ok(verifySign1(readPolicy(decodeCbor(encodeCbor(answer.response.policy.tag))).sign1, newKey.publicKey), 'policy re-signed with the new key');
  const accepted = acceptAnswer(answer, deviceContext({ mode: 'private', certificate: newCertificate }));
  assert.ok(accepted.accept, accepted.accept ? '' : accepted.reason);
  assert.equal(onlyReply(send(next, requestBytes({ kind: 'certificate', kid: newKey.publicKey.kid }))).answer.response.kind, 'certificate');
  assert.equal(onlyReply(send(next, requestBytes({ kind: 'certificate', kid: TRUST_KEYS.collector.publicKey.kid }))).answer.response.kind, 'not-found');
  assert.throws(() => withKey(state, newKey, certificateBytes()), RangeError, 'a certificate for another key');
});

test('createCollectorState() refuses a policy whose signed document would exceed 200 bytes', () => {
  const deny = Array.from({ length: 16 }, (_, i) => `VENDOR-ADVISORY-${String(i).padStart(20, '0')}`);
  assert.throws(() => makeState({ policy: { deny } }), (err: unknown) => err instanceof Error && /policy: \d+ bytes signed/.test(err.message));
});
