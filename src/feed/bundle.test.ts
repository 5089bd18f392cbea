import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { PrivateKey } from '../crypto/index.ts';
import { decodeCbor, readBucket, readFeedRecord, type Root } from '../protocol/index.ts';
import { TEST_KEYS, testKey } from '../testing/keys.ts';
import { ListFeedReader, testRow } from '../testing/memory-feed-reader.ts';
import { BundleError, encodeBundle, readBundleManifest, verifyBundle, type BundleContent, type BundleRefusalCode } from './bundle.ts';
import { planFeed, signFeedPlan } from './publish.ts';
import { EMPTY_PUBLISHER_POLICY } from './publisher-policy.ts';

const NOW = 1_700_000_000;
const EXPIRES = NOW + 7 * 86_400;
const ROOT: Root = {
  version: 1,
  threshold: 1,
  rootKeys: [TEST_KEYS.root1.publicKey.raw],
  feedKeys: [TEST_KEYS.feed.publicKey.raw],
  registryKeys: [TEST_KEYS.registry.publicKey.raw],
  issuedAt: NOW - 86_400,
};
const STRANGER = testKey(0x77);

let content: BundleContent;
let bytes: Uint8Array;

function contentSignedBy(key: PrivateKey): BundleContent {
  const rows = [
    testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'CVE-2019-17621' }, { kev: true }),
    testRow({ vendor: 'hikvision', model: 'ds2cd2032i' }, { id: 'CVE-2021-36260' }),
  ];
  const plan = planFeed(new ListFeedReader(rows), { policy: EMPTY_PUBLISHER_POLICY, feedVersion: 7, issuedAt: NOW, expiresAt: EXPIRES, vendorAliasesOf: () => [] });
  return { feedVersion: 7, issuedAt: NOW, expiresAt: EXPIRES, ...signFeedPlan(key, plan) };
}

before(() => {
  content = contentSignedBy(TEST_KEYS.feed);
  bytes = encodeBundle(TEST_KEYS.feed, content);
});

function refusal(file: Uint8Array, now = NOW): BundleRefusalCode | 'ok' {
  const v = verifyBundle(file, ROOT, { nowSeconds: now });
  return v.ok ? 'ok' : v.reason;
}

/** A copy of `file` with one byte flipped inside the first occurrence of `inside`, `offset` bytes from its end. */
function flip(file: Uint8Array, inside: Uint8Array, offsetFromEnd: number): Uint8Array {
  const at = Buffer.from(file).indexOf(Buffer.from(inside));
  assert.ok(at >= 0);
  const copy = file.slice();
  const i = at + inside.byteLength - offsetFromEnd;
  copy[i] = (copy[i] ?? 0) ^ 0x01;
  return copy;
}

test('verifyBundle() accepts a bundle it built and indexes its records and pages', () => {
  const v = verifyBundle(bytes, ROOT, { nowSeconds: NOW });
  assert.ok(v.ok, v.ok ? '' : `${v.reason}: ${v.message}`);
  assert.equal(v.bundle.manifest.feedVersion, 7);
  assert.equal(v.bundle.records.length, 2);
  assert.equal(v.bundle.pages.length, 4096);
  const dir859 = v.bundle.recordsFor('dlink', 'dir859');
  assert.equal(dir859.length, 1);
  const first = dir859[0];
  assert.ok(first !== undefined);
  assert.equal(first.record.eligible, true);
  assert.deepEqual(readFeedRecord(decodeCbor(first.bytes)).value, first.record);
  assert.equal(v.bundle.recordsFor('dlink', 'dir85').length, 0);
  for (const pages of v.bundle.pages) for (const page of pages) assert.equal(readBucket(decodeCbor(page)).value.feedVersion, 7);
  assert.equal(readBundleManifest(bytes).recordCount, 2);
});

test('encodeBundle() refuses a feed version that does not increase', () => {
  const previous = readBundleManifest(bytes);
  assert.throws(() => encodeBundle(TEST_KEYS.feed, content, { previous }), (err) => err instanceof BundleError && err.code === 'VERSION_NOT_INCREASING');
  assert.throws(() => encodeBundle(TEST_KEYS.feed, { ...content, feedVersion: 6 }, { previous }), /not above the previous bundle's 7/);
  assert.equal(readBundleManifest(encodeBundle(TEST_KEYS.feed, { ...content, feedVersion: 8 }, { previous })).feedVersion, 8);
});

test('verifyBundle() refuses an expired or not yet valid bundle', () => {
  assert.equal(refusal(bytes, EXPIRES), 'EXPIRED');
  assert.equal(refusal(bytes, EXPIRES - 1), 'ok');
  assert.equal(refusal(bytes, NOW - 3600), 'NOT_YET_VALID');
});

test('verifyBundle() names the tampered part: manifest, records section, pages section', () => {
  const manifest = readBundleManifest(bytes);
  // The manifest payload holds the pages digest; its last byte is the end of the pages digest.
  assert.equal(refusal(flip(bytes, manifest.pagesDigest, 1)), 'BAD_SIGNATURE');
  assert.equal(refusal(flip(bytes, content.records[0] ?? new Uint8Array(), 1)), 'RECORDS_DIGEST_MISMATCH');
  assert.equal(refusal(flip(bytes, content.pages[100] ?? new Uint8Array(), 1)), 'PAGES_DIGEST_MISMATCH');
  assert.equal(refusal(bytes.subarray(0, bytes.byteLength - 1)), 'MALFORMED');
  assert.equal(refusal(new Uint8Array([0x80])), 'MALFORMED');
});

test('verifyBundle() checks every record and page signature, not only the manifest digests', () => {
  const record = content.records[0] ?? new Uint8Array();
  const page = content.pages[4095] ?? new Uint8Array();
  const badRecord = record.slice();
  badRecord[badRecord.length - 1] = (badRecord.at(-1) ?? 0) ^ 1;
  const badPage = page.slice();
  badPage[badPage.length - 1] = (badPage.at(-1) ?? 0) ^ 1;
  const rebundle = (c: Partial<BundleContent>): Uint8Array => encodeBundle(TEST_KEYS.feed, { ...content, ...c });
  assert.equal(refusal(rebundle({ records: [badRecord, ...content.records.slice(1)] })), 'RECORD_BAD_SIGNATURE');
  assert.equal(refusal(rebundle({ pages: [...content.pages.slice(0, -1), badPage] })), 'PAGE_BAD_SIGNATURE');
  assert.equal(refusal(rebundle({ pages: content.pages.slice(0, -1) })), 'BUCKETS_INCOMPLETE');
  assert.equal(refusal(rebundle({ pages: [...content.pages.slice(1), content.pages[0] ?? page] })), 'BUCKETS_INCOMPLETE');
  const strangers = contentSignedBy(STRANGER);
  assert.equal(refusal(rebundle({ records: strangers.records })), 'RECORD_KEY_NOT_AUTHORISED');
  assert.equal(refusal(rebundle({ pages: strangers.pages })), 'PAGE_KEY_NOT_AUTHORISED');
  const other = { ...contentSignedBy(TEST_KEYS.feed) };
  const older = planFeed(new ListFeedReader([]), { policy: EMPTY_PUBLISHER_POLICY, feedVersion: 6, issuedAt: NOW, expiresAt: EXPIRES });
  assert.equal(refusal(rebundle({ pages: signFeedPlan(TEST_KEYS.feed, older).pages })), 'PAGE_MISMATCH');
  assert.equal(refusal(rebundle({ records: [...other.records, new Uint8Array([1, 2])] })), 'RECORD_MALFORMED');
});

test('verifyBundle() refuses a bundle whose manifest is signed by a key the root does not authorise', () => {
  const v = verifyBundle(encodeBundle(STRANGER, contentSignedBy(STRANGER)), ROOT, { nowSeconds: NOW });
  if (v.ok) assert.fail('accepted');
  assert.equal(v.reason, 'KEY_NOT_AUTHORISED');
  assert.match(v.message, /not a feed key of root v1/);
});
