import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { BundleRecord } from '../feed/bundle.ts';
import { parsePrefix, type FeedRecord, type Status } from '../protocol/index.ts';
import { advisoryId, feedRecordArbitrary, ipPrefixArbitrary } from '../testing/message-arbitrary.ts';
import type { FeedMatch } from './feed-index.ts';
import { COLLECTOR_POLICY_DEFAULTS, applyPolicy, assertCollectorPolicy, needsResign, policyDocument, type CollectorPolicy } from './policy.ts';

const SOURCE = new Uint8Array([192, 0, 2, 7]);

function record(overrides: Partial<FeedRecord> = {}): BundleRecord {
  return {
    bytes: new Uint8Array(0),
    record: {
      vendor: 'dlink',
      model: 'dir859',
      hwVersions: [],
      ranges: { scheme: 0, intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '2.0', upperInclusive: false }] },
      advisories: ['CVE-2019-17621'],
      cvss10: 98,
      kev: true,
      fixed: ['2.0'],
      remediationHosts: [],
      eligible: true,
      feedVersion: 1,
      issuedAt: 1,
      expiresAt: 2,
      ...overrides,
    },
  };
}

function policy(overrides: Partial<CollectorPolicy> = {}): CollectorPolicy {
  return { ...COLLECTOR_POLICY_DEFAULTS, ...overrides };
}

const FAIL: FeedMatch = { status: 'fail', matches: [record()] };

test('applyPolicy() keeps a FAIL for an eligible record the policy allows', () => {
  const decision = applyPolicy(FAIL, { policy: policy(), source: SOURCE });
  assert.equal(decision.status, 'fail');
  assert.equal(decision.record, FAIL.matches[0]);
});

test('applyPolicy() narrows FAIL to WARN for each rule of the policy', () => {
  const cases: [string, Partial<CollectorPolicy>][] = [
    ['warn only', { warnOnly: true }],
    ['KEV only', { kevOnly: true }],
    ['CVSS threshold', { minCvss10: 99 }],
    ['deny list', { deny: ['CVE-2019-17621'] }],
    ['allow list without it', { allow: ['CVE-2020-10882'] }],
    ['exempt source', { exemptPrefixes: [parsePrefix('192.0.2.0/24')] }],
  ];
  for (const [name, overrides] of cases) {
    // KEV only narrows a record that is not in KEV (an eligible, reviewed one).
    const m: FeedMatch = name === 'KEV only' ? { status: 'fail', matches: [record({ kev: false })] } : FAIL;
    const decision = applyPolicy(m, { policy: policy(overrides), source: SOURCE });
    assert.equal(decision.status, 'warn', name);
    assert.equal(decision.record, m.matches[0], `${name}: the WARN carries the record`);
  }
  assert.equal(applyPolicy(FAIL, { policy: policy({ allow: ['CVE-2019-17621'] }), source: SOURCE }).status, 'fail');
  assert.equal(applyPolicy(FAIL, { policy: policy({ exemptPrefixes: [parsePrefix('192.0.3.0/24')] }), source: SOURCE }).status, 'fail');
});

test('applyPolicy() picks the eligible record the policy allows among several', () => {
  const denied = record({ advisories: ['CVE-2019-17621'] });
  const allowed = record({ advisories: ['CVE-2022-1234'] });
  const decision = applyPolicy({ status: 'fail', matches: [denied, allowed] }, { policy: policy({ deny: ['CVE-2019-17621'] }), source: SOURCE });
  assert.equal(decision.status, 'fail');
  assert.equal(decision.record, allowed);
});

test('applyPolicy() passes PASS, UNKNOWN and WARN through unchanged', () => {
  const strict = policy({ warnOnly: true });
  assert.deepEqual(applyPolicy({ status: 'pass', matches: [] }, { policy: strict, source: SOURCE }), { status: 'pass' });
  assert.deepEqual(applyPolicy({ status: 'unknown', matches: [] }, { policy: strict, source: SOURCE }), { status: 'unknown' });
  const warn = record({ eligible: false });
  assert.deepEqual(applyPolicy({ status: 'warn', matches: [warn] }, { policy: strict, source: SOURCE }), { status: 'warn', record: warn });
});

const SEVERITY: Record<Status, number> = { pass: 0, unknown: 0, warn: 1, fail: 2 };

const policyArbitrary: fc.Arbitrary<CollectorPolicy> = fc.record({
  kevOnly: fc.boolean(),
  minCvss10: fc.integer({ min: 0, max: 100 }),
  deny: fc.array(advisoryId, { maxLength: 3 }),
  allow: fc.array(advisoryId, { maxLength: 3 }),
  warnOnly: fc.boolean(),
  exemptPrefixes: fc.array(ipPrefixArbitrary, { maxLength: 3 }),
}).map((rules) => ({ ...COLLECTOR_POLICY_DEFAULTS, ...rules }));

test('applyPolicy() never makes a status more severe than the feed alone (property)', () => {
  const matchArbitrary = fc
    .tuple(fc.constantFrom<FeedMatch['status']>('pass', 'fail', 'warn', 'unknown'), fc.array(feedRecordArbitrary, { maxLength: 3 }))
    .map(([status, records]): FeedMatch => {
      const matches = records.map((r) => ({ record: r, bytes: new Uint8Array(0) }));
      // A FAIL from the feed always has an eligible record, as lookupVerdict guarantees.
      if (status === 'fail') return { status, matches: [{ record: { ...(records[0] ?? record().record), eligible: true }, bytes: new Uint8Array(0) }, ...matches] };
      return { status, matches: status === 'warn' ? matches : [] };
    });
  const sourceArbitrary = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }));
  fc.assert(
    fc.property(matchArbitrary, policyArbitrary, sourceArbitrary, (match, p, source) => {
      const withPolicy = applyPolicy(match, { policy: p, source });
      const without = applyPolicy(match, { policy: COLLECTOR_POLICY_DEFAULTS, source });
      assert.equal(without.status, match.status);
      assert.ok(SEVERITY[withPolicy.status] <= SEVERITY[without.status], `${withPolicy.status} after ${without.status}`);
      if (match.status !== 'fail') assert.equal(withPolicy.status, match.status);
      if (withPolicy.status === 'fail') assert.equal(withPolicy.record?.record.eligible, true);
    }),
    { numRuns: 2_000 },
  );
});

test('policyDocument() carries the rules and the validity', () => {
  const doc = policyDocument(policy({ kevOnly: true, minCvss10: 90, deny: ['CVE-2019-17621'], policyLifetimeSeconds: 600, policyRenewBeforeSeconds: 60 }), { operator: 'Example ISP', nowSeconds: 1_000 });
  assert.deepEqual(doc, { operator: 'Example ISP', issuedAt: 1_000, expiresAt: 1_600, kevOnly: true, minCvss10: 90, warnOnly: false, deny: ['CVE-2019-17621'], allow: [] });
});

test('needsResign() only when missing, changed or near expiry', () => {
  const p = policy({ policyLifetimeSeconds: 600, policyRenewBeforeSeconds: 60 });
  const context = { operator: 'Example ISP', nowSeconds: 1_000 };
  const cached = policyDocument(p, context);
  assert.equal(needsResign(undefined, p, context), true);
  assert.equal(needsResign(cached, p, context), false);
  assert.equal(needsResign(cached, p, { ...context, nowSeconds: 1_539 }), false);
  assert.equal(needsResign(cached, p, { ...context, nowSeconds: 1_540 }), true);
  assert.equal(needsResign(cached, p, { ...context, nowSeconds: 999 }), true, 'clock went back before issue');
  assert.equal(needsResign(cached, p, { ...context, operator: 'Other ISP' }), true);
  assert.equal(needsResign(cached, { ...p, warnOnly: true }, context), true);
  assert.equal(needsResign(cached, { ...p, deny: ['CVE-2019-17621'] }, context), true);
  assert.equal(needsResign(cached, { ...p, exemptPrefixes: [parsePrefix('192.0.2.0/24')] }, context), false, 'exemptions are not in the document');
  assert.equal(needsResign(cached, { ...p, verdictLifetimes: { ...p.verdictLifetimes, pass: 1 } }, context), false);
});

test('assertCollectorPolicy() refuses unusable policies', () => {
  assert.doesNotThrow(() => { assertCollectorPolicy(COLLECTOR_POLICY_DEFAULTS); });
  assert.throws(() => { assertCollectorPolicy(policy({ minCvss10: 101 })); }, RangeError);
  assert.throws(() => { assertCollectorPolicy(policy({ deny: Array.from({ length: 17 }, (_, i) => `X-${i}`) })); }, RangeError);
  assert.throws(() => { assertCollectorPolicy(policy({ verdictLifetimes: { ...COLLECTOR_POLICY_DEFAULTS.verdictLifetimes, fail: 46 * 86_400 } })); }, RangeError);
  assert.throws(() => { assertCollectorPolicy(policy({ policyLifetimeSeconds: 60, policyRenewBeforeSeconds: 60 })); }, RangeError);
});
