import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { VerifiedBundle } from '../feed/bundle.ts';
import { bucketIndex, bucketPrefix, decodeCbor, modelHash, readBucket } from '../protocol/index.ts';
import { identifiedRequest, testBundle } from '../testing/collector-fixture.ts';
import { testRow } from '../testing/memory-feed-reader.ts';
import { bucketPage, buildFeedIndex, isListedModel, lookupVerdict, type FeedIndex } from './feed-index.ts';

let bundle: VerifiedBundle;
let index: FeedIndex;

before(() => {
  bundle = testBundle();
  index = buildFeedIndex(bundle);
});

test('buildFeedIndex() indexes records by model with their exact signed bytes', () => {
  assert.equal(index.feedVersion, 42);
  assert.equal(index.expiresAt, bundle.manifest.expiresAt);
  assert.ok(isListedModel(index, 'dlink', 'dir859'));
  assert.ok(!isListedModel(index, 'dlink', 'dir860l'));
  const dir859 = index.records.get('dlink\0dir859');
  assert.ok(dir859 !== undefined && dir859.length === 1);
  assert.equal(dir859[0]?.bytes, bundle.recordsFor('dlink', 'dir859')[0]?.bytes);
});

test('bucketPage() returns the signed page of a bucket, undefined past its last page', () => {
  const bucket = bucketIndex(bucketPrefix(modelHash('dlink', 'dir859')));
  const page = bucketPage(index, bucket, 0);
  assert.ok(page !== undefined);
  assert.equal(readBucket(decodeCbor(page)).value.page, 0);
  assert.equal(bucketPage(index, bucket, 15), undefined);
  assert.equal(bucketPage(index, 4096, 0), undefined);
});

test('lookupVerdict() gives FAIL, WARN, PASS and UNKNOWN before policy ([P-6.1-2])', () => {
  const fail = lookupVerdict(index, identifiedRequest());
  assert.equal(fail.status, 'fail');
  assert.equal(fail.matches[0]?.record.eligible, true);
  assert.equal(lookupVerdict(index, identifiedRequest({ vendor: 'hikvision', model: 'ds2cd2032i' })).status, 'warn');
  assert.equal(lookupVerdict(index, identifiedRequest({ swVersion: { version: '2.0' } })).status, 'pass');
  assert.equal(lookupVerdict(index, identifiedRequest({ swVersion: { version: '2.1' } })).status, 'pass');
  assert.deepEqual(lookupVerdict(index, identifiedRequest({ model: 'dir860l' })), { status: 'unknown', matches: [] });
});

test('lookupVerdict() honours a record\'s hardware versions', () => {
  const hwIndex = buildFeedIndex(testBundleWithHardware());
  assert.equal(lookupVerdict(hwIndex, identifiedRequest({ hwVersion: { version: 'A1' } })).status, 'fail');
  assert.equal(lookupVerdict(hwIndex, identifiedRequest({ hwVersion: { version: 'B1' } })).status, 'pass');
  const { hwVersion, ...withoutHw } = identifiedRequest();
  assert.ok(hwVersion !== undefined);
  assert.equal(lookupVerdict(hwIndex, withoutHw).status, 'pass', 'a device that names no hardware version is not listed');
});

function testBundleWithHardware(): VerifiedBundle {
  return testBundle({ rows: [testRow({ vendor: 'dlink', model: 'dir859', hwVersion: 'A1' }, { id: 'CVE-2019-17621' }, { kev: true })] });
}
