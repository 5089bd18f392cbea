import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { equalBytes } from '../crypto/index.ts';
import {
  BUCKET_COUNT,
  MAX_BUCKET_BYTES,
  MAX_BUCKET_ENTRY_BYTES,
  MAX_FEED_RECORD_BYTES,
  bucketEntryBytes,
  bucketIndex,
  bucketPrefix,
  bucketTag,
  decodeCbor,
  encodeCbor,
  encodeFeedRecordPayload,
  exactVersions,
  modelHash,
  rangeContains,
  readBucket,
  readFeedRecord,
  signFeedRecord,
  verifySign1,
  type FeedRecord,
  type Interval,
} from '../protocol/index.ts';
import { TEST_KEYS } from '../testing/keys.ts';
import { ListFeedReader, testRow } from '../testing/memory-feed-reader.ts';
import { chooseRemediationHosts, decideEligibility, normaliseIntervals, planFeed, signFeedPlan, signedSize, type PublishOptions } from './publish.ts';
import { EMPTY_PUBLISHER_POLICY, parsePublisherPolicy, type PublisherPolicy } from './publisher-policy.ts';
import { FeedError, type ProductMatchRow } from './types.ts';

const NOW = 1_700_000_000;
const BOUNDED: Interval[] = [{ kind: 'range', lower: '1.0', lowerInclusive: true, upper: '1.06b01', upperInclusive: false }];
const EVERY: Interval[] = [{ kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false }];

function options(policy: PublisherPolicy = EMPTY_PUBLISHER_POLICY): PublishOptions {
  return { policy, feedVersion: 7, issuedAt: NOW, expiresAt: NOW + 7 * 86_400, vendorAliasesOf: () => [] };
}

function policy(json: unknown): PublisherPolicy {
  return parsePublisherPolicy({ version: 1, ...(json as object) }, 'policy.json');
}

function plan(rows: readonly ProductMatchRow[], p: PublisherPolicy = EMPTY_PUBLISHER_POLICY): ReturnType<typeof planFeed> {
  return planFeed(new ListFeedReader(rows), options(p));
}

function eligible(input: { kev: boolean; intervals?: Interval[]; confidence?: 'high' | 'low'; ids?: string[] }, p: PublisherPolicy = EMPTY_PUBLISHER_POLICY): string {
  const d = decideEligibility({ vendor: 'dlink', model: 'dir859', ids: input.ids ?? ['CVE-2019-17621'], kev: input.kev, confidence: input.confidence ?? 'high', intervals: input.intervals ?? BOUNDED }, p);
  return `${d.eligible}/${d.reason}`;
}

test('decideEligibility() truth table: KEV+bounded, every version, non-KEV, reviewed, deny wins', () => {
  const reviewed = policy({ reviewed: { advisories: ['CVE-2019-17621'] } });
  const reviewedTriple = policy({ reviewed: { products: [{ vendor: 'D-Link', model: 'DIR-859', advisory: 'CVE-2019-17621' }] } });
  const denied = policy({ reviewed: { advisories: ['CVE-2019-17621'] }, deny: { advisories: ['CVE-2019-17621'] } });
  const deniedByAlias = policy({ deny: { products: [{ vendor: 'dlink', model: 'dir859', advisory: 'GHSA-xxxx' }] } });
  const exact: Interval[] = [{ kind: 'exact', version: '1.05B03' }];
  const openAbove: Interval[] = [{ kind: 'range', lower: '1.0', lowerInclusive: true, upper: null, upperInclusive: false }];
  const table: [string, string][] = [
    [eligible({ kev: true }), 'true/kev-bounded'],
    [eligible({ kev: true, intervals: exact }), 'true/kev-bounded'],
    [eligible({ kev: true, intervals: EVERY }), 'false/unbounded'],
    [eligible({ kev: true, intervals: openAbove }), 'false/unbounded'],
    [eligible({ kev: true, intervals: [] }), 'false/unbounded'],
    [eligible({ kev: true, confidence: 'low' }), 'false/low-confidence'],
    [eligible({ kev: false }), 'false/not-kev'],
    [eligible({ kev: false }, reviewed), 'true/reviewed'],
    [eligible({ kev: false }, reviewedTriple), 'true/reviewed'],
    [eligible({ kev: false, intervals: EVERY }, reviewed), 'true/reviewed'],
    [eligible({ kev: true }, denied), 'false/denied'],
    [eligible({ kev: true, ids: ['CVE-2019-17621', 'GHSA-xxxx'] }, deniedByAlias), 'false/denied'],
  ];
  for (const [i, [got, want]] of table.entries()) assert.equal(got, want, `row ${i}`);
});

test('planFeed() marks records eligible only for KEV + bounded and keeps eligible and warn-only advisories apart', () => {
  const rows = [
    testRow({ vendor: 'dlink', model: 'dir859', intervals: BOUNDED }, { id: 'CVE-2019-17621' }, { kev: true }),
    testRow({ vendor: 'dlink', model: 'dir859', intervals: BOUNDED }, { id: 'CVE-2020-0001' }),
    testRow({ vendor: 'dlink', model: 'dir859', intervals: EVERY, confidence: 'low' }, { id: 'CVE-2021-0002' }, { kev: true }),
  ];
  const { records, report } = plan(rows);
  const byAdvisory = (id: string): FeedRecord | undefined => records.find((r) => r.advisories.includes(id));
  assert.equal(byAdvisory('CVE-2019-17621')?.eligible, true);
  assert.deepEqual(byAdvisory('CVE-2019-17621')?.advisories, ['CVE-2019-17621']);
  assert.equal(byAdvisory('CVE-2020-0001')?.eligible, false);
  assert.equal(byAdvisory('CVE-2021-0002')?.eligible, false);
  assert.equal(report.eligibleRecords, 1);
  assert.deepEqual(report.eligibility, { denied: 0, reviewed: 0, 'kev-bounded': 1, 'not-kev': 1, unbounded: 0, 'low-confidence': 1 });
});

test('planFeed() groups advisories with the same affected versions into one record: CVSS max, KEV any', () => {
  const rows = [
    testRow({ vendor: 'hikvision', model: 'ds2cd2032i', fixed: ['5.4.5'] }, { id: 'CVE-2017-7921', cvss: 10 }),
    testRow({ vendor: 'hikvision', model: 'ds2cd2032i', fixed: ['5.4.6'] }, { id: 'CVE-2021-36260', cvss: 9.8 }),
  ];
  const { records } = plan(rows);
  const [only, ...rest] = records;
  assert.ok(only !== undefined && rest.length === 0);
  assert.deepEqual(only.advisories, ['CVE-2017-7921', 'CVE-2021-36260']);
  assert.equal(only.cvss10, 100);
  assert.deepEqual(only.fixed, ['5.4.5', '5.4.6']);
});

test('planFeed() leaves withdrawn advisories (by id or alias) out of records and buckets', () => {
  const rows = [
    testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'GHSA-wrong-1', aliases: ['CVE-2022-1111'] }, { kev: true }),
    testRow({ vendor: 'dlink', model: 'dir850l' }, { id: 'CVE-2022-2222' }),
  ];
  const p = policy({ withdrawn: ['CVE-2022-1111'] });
  const { records, buckets, report } = plan(rows, p);
  assert.deepEqual(records.map((r) => r.model), ['dir850l']);
  assert.equal(report.withdrawnRows, 1);
  const withdrawnTag = bucketTag(modelHash('dlink', 'dir859'));
  const all = buckets.flatMap((pages) => pages.flatMap((page) => page.entries));
  assert.equal(all.some((e) => equalBytes(e.tag, withdrawnTag)), false);
  assert.equal(all.length, 1);
});

test('planFeed() publishes under every vendor and model alias, in the bucket of each name', () => {
  const rows = [testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'CVE-2019-17621' }, { kev: true })];
  const p = policy({ vendorAliases: { dlink: ['D-Link Systems'] }, modelAliases: [{ vendor: 'dlink', model: 'dir859', aliases: ['DIR-859 A1'] }] });
  const { records, buckets, report } = plan(rows, p);
  assert.deepEqual(records.map((r) => `${r.vendor}/${r.model}`).sort(), ['dlink/dir859', 'dlink/dir859a1', 'dlinksystems/dir859', 'dlinksystems/dir859a1']);
  assert.equal(report.aliasRecords, 3);
  for (const r of records) {
    const hash = modelHash(r.vendor, r.model);
    const index = bucketIndex(bucketPrefix(hash));
    const found = buckets[index]?.flatMap((page) => page.entries).filter((e) => equalBytes(e.tag, bucketTag(hash)));
    assert.equal(found?.length, 1, `${r.vendor}/${r.model}`);
  }
  // The built-in alias table is the default source of vendor aliases.
  const table = planFeed(new ListFeedReader(rows), { policy: EMPTY_PUBLISHER_POLICY, feedVersion: 1, issuedAt: NOW, expiresAt: NOW + 1 });
  assert.ok(table.records.length > 1);
});

test('planFeed() publishes under the reader\'s configured vendor aliases as well as the maintained table', () => {
  const rows = [testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'CVE-2019-17621' }, { kev: true })];
  const reader = new ListFeedReader(rows, new Map([['acmecams', 'dlink'], ['dlinksystems', 'othervendor']]));
  const { records } = planFeed(reader, { policy: EMPTY_PUBLISHER_POLICY, feedVersion: 1, issuedAt: NOW, expiresAt: NOW + 1 });
  const vendors = records.map((r) => r.vendor);
  assert.ok(vendors.includes('acmecams'), 'the configured alias');
  assert.ok(vendors.includes('dlinkcorporation'), 'a maintained-table alias');
  assert.ok(!vendors.includes('dlinksystems'), 'a table alias configured to point at another vendor is not published under dlink');
  // An explicit vendorAliasesOf still wins over the reader.
  assert.deepEqual(planFeed(reader, options()).records.map((r) => r.vendor), ['dlink']);
});

test('chooseRemediationHosts() takes the configured hosts first, then the most cited, at most 4', () => {
  const urls = ['https://b.example/x', 'https://c.example/1', 'https://c.example/2', 'http://a.example/', 'ftp://ignored.example/', 'not a url', 'https://d.example/'];
  assert.deepEqual(chooseRemediationHosts(['update.vendor.example', 'b.example'], urls), ['update.vendor.example', 'b.example', 'c.example', 'a.example']);
  const rows = [testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'CVE-2019-17621', remediationUrls: urls })];
  const { records } = plan(rows, policy({ updateHosts: { 'D-Link': ['Support.DLink.com'] } }));
  assert.deepEqual(records[0]?.remediationHosts, ['support.dlink.com', 'c.example', 'a.example', 'b.example']);
});

function exactRows(model: string, versions: readonly string[]): ProductMatchRow[] {
  const intervals: Interval[] = versions.map((version) => ({ kind: 'exact', version }));
  return ['CVE-2021-28799', 'CVE-2020-2509', 'CVE-2021-28797', 'CVE-2020-36195'].map((id) =>
    testRow({ vendor: 'qnap', model, intervals, fixed: ['4.5.2.1566', '4.3.6.1620', '4.3.3.1624'] }, { id, remediationUrls: ['https://www.qnap.com/en/security-advisory/qsa-21-13', 'https://download.qnap.com/x'] }, { kev: true }),
  );
}

test('planFeed() splits 80 and 300 exact versions over records of at most 1050 bytes that each verify and cover every version', () => {
  const eighty = Array.from({ length: 80 }, (_, i) => `4.3.${3 + (i % 4)}.${1000 + i * 7} build 2020${String(1 + (i % 12)).padStart(2, '0')}${String(10 + (i % 18))}`);
  const threeHundred = Array.from({ length: 300 }, (_, i) => `V5.${i % 7}.${i} build ${170000 + i * 13}`);
  const p = planFeed(new ListFeedReader([...exactRows('ts431p', eighty), ...exactRows('ts251', threeHundred)]), options());
  const signed = signFeedPlan(TEST_KEYS.feed, p);
  for (const [model, versions] of [['ts431p', eighty], ['ts251', threeHundred]] as const) {
    const records = p.records.filter((r) => r.model === model);
    assert.ok(records.length > 1, `${model}: split`);
    const covered = new Set(records.flatMap((r) => r.ranges.intervals.flatMap(exactVersions)));
    assert.deepEqual([...covered].sort(), [...versions].sort());
    for (const v of versions) assert.ok(records.some((r) => rangeContains(r.ranges, v)));
  }
  assert.ok(p.report.splitGroups >= 2);
  for (const bytes of signed.records) {
    assert.ok(bytes.byteLength <= MAX_FEED_RECORD_BYTES, `${bytes.byteLength}`);
    const doc = readFeedRecord(decodeCbor(bytes));
    assert.ok(verifySign1(doc.sign1, TEST_KEYS.feed.publicKey));
    assert.equal(doc.value.eligible, true);
    assert.equal(doc.value.advisories.length, 4);
  }
  const entries = p.buckets.flatMap((pages) => pages.flatMap((page) => page.entries));
  for (const e of entries) assert.ok(bucketEntryBytes(e) <= MAX_BUCKET_ENTRY_BYTES);
  const tag = bucketTag(modelHash('qnap', 'ts431p'));
  const mine = entries.filter((e) => equalBytes(e.tag, tag));
  assert.equal(new Set(mine.flatMap((e) => e.advisories)).size, 4, 'every advisory is listed in some entry');
  for (const v of eighty) assert.ok(mine.some((e) => rangeContains(e.ranges, v)), `${v} in an entry`);
  // 300 builds of ~21 bytes need ~200 entries, more than 16 pages hold: the rest is trimmed and reported.
  assert.ok(p.report.overflowEntries > 0);
  assert.equal(p.report.overflowModels, 0);
  assert.equal(p.buckets[bucketIndex(bucketPrefix(modelHash('qnap', 'ts251')))]?.length, 16);
});

test('planFeed() signs a page for every bucket; every page and entry is within its limit; a tag is in exactly its bucket', () => {
  const rows = Array.from({ length: 400 }, (_, i) => testRow({ vendor: `vendor${i % 9}`, model: `model${i}` }, { id: `CVE-2023-${String(10_000 + i)}` }, { kev: i % 3 === 0 }));
  const p = plan(rows);
  assert.equal(p.buckets.length, BUCKET_COUNT);
  const signed = signFeedPlan(TEST_KEYS.feed, p);
  assert.equal(signed.pages.length, p.report.pages);
  let page = 0;
  for (const [index, pages] of p.buckets.entries()) {
    assert.ok(pages.length >= 1);
    for (const doc of pages) {
      const bytes = signed.pages[page++] ?? new Uint8Array();
      assert.ok(bytes.byteLength <= MAX_BUCKET_BYTES);
      const read = readBucket(decodeCbor(bytes));
      assert.equal(bucketIndex(read.value.prefix), index);
      assert.equal(read.value.pages, pages.length);
      assert.equal(doc.entries.length, read.value.entries.length);
    }
  }
  for (let i = 0; i < 400; i++) {
    const hash = modelHash(`vendor${i % 9}`, `model${i}`);
    const holders = p.buckets.flatMap((pages, index) => (pages.some((pg) => pg.entries.some((e) => equalBytes(e.tag, bucketTag(hash)))) ? [index] : []));
    assert.deepEqual(holders, [bucketIndex(bucketPrefix(hash))]);
  }
  const { modelsPerBucket, pagesHistogram } = p.report;
  assert.equal(modelsPerBucket.min, 0);
  assert.ok(modelsPerBucket.max >= modelsPerBucket.p99 && modelsPerBucket.p99 >= modelsPerBucket.median);
  assert.equal(Object.values(pagesHistogram).reduce((a, b) => a + b, 0), BUCKET_COUNT);
});

test('planFeed() packs a crowded bucket into several pages and never more than 16', () => {
  // 30 models that all land in bucket 5 (found by searching model names), two entries each.
  const models: string[] = [];
  for (let i = 0; models.length < 30; i++) if (bucketIndex(bucketPrefix(modelHash('acme', `cam${i}`))) === 5) models.push(`cam${i}`);
  const later: Interval[] = [{ kind: 'range', lower: '3.0', lowerInclusive: true, upper: '3.2.1', upperInclusive: false }];
  const rows = models.flatMap((model, i) => [
    testRow({ vendor: 'acme', model }, { id: `CVE-2024-${String(20_000 + i)}` }),
    testRow({ vendor: 'acme', model, intervals: later }, { id: `CVE-2024-${String(30_000 + i)}` }),
  ]);
  const p = plan(rows);
  const pages = p.buckets[5] ?? [];
  assert.ok(pages.length > 1 && pages.length <= 16, `${pages.length} pages`);
  assert.equal(pages.flatMap((pg) => pg.entries).length, 60);
  for (const bytes of signFeedPlan(TEST_KEYS.feed, { ...p, records: [], buckets: [pages] }).pages) assert.ok(bytes.byteLength <= MAX_BUCKET_BYTES);
});

test('planFeed() + signFeedPlan() output bytes and report are unchanged by the packing optimisation', () => {
  // A plan that exercises record splits, entry splits, bucket overflow trimming, crowded buckets,
  // hardware versions and long member lists; the digest was taken before sizes were computed
  // incrementally (publish.ts packMembers/packPages) and must not move.
  const eighty = Array.from({ length: 80 }, (_, i) => `4.3.${3 + (i % 4)}.${1000 + i * 7} build 2020${String(1 + (i % 12)).padStart(2, '0')}${String(10 + (i % 18))}`);
  const threeHundred = Array.from({ length: 300 }, (_, i) => `V5.${i % 7}.${i} build ${170000 + i * 13}`);
  const ranges: Interval[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'range', lower: `${i}.0`, lowerInclusive: true, upper: `${i}.9.${i}`, upperInclusive: i % 2 === 0 }));
  const rows = [
    ...exactRows('ts431p', eighty),
    ...exactRows('ts251', threeHundred),
    ...Array.from({ length: 600 }, (_, i) => testRow({ vendor: `vendor${i % 9}`, model: `model${i % 250}`, hwVersion: i % 5 === 0 ? `a${i % 3}` : null, intervals: ranges.slice(0, 1 + (i % 40)) }, { id: `CVE-2023-${String(10_000 + i)}`, cvss: (i % 100) / 10 }, { kev: i % 3 === 0 })),
  ];
  const p = plan(rows, policy({ modelAliases: [{ vendor: 'vendor1', model: 'model1', aliases: ['model1x', 'model1-eu', 'model1-with-a-name-longer-than-23-bytes'] }], vendorAliases: { vendor2: ['vendortwo'] } }));
  const signed = signFeedPlan(TEST_KEYS.feed, p);
  const hash = createHash('sha256');
  for (const bytes of [...signed.records, ...signed.pages]) hash.update(bytes);
  hash.update(JSON.stringify(p.report));
  assert.equal(`${signed.records.length}/${signed.pages.length}/${hash.digest('hex')}`, '681/4234/f06eab75e2d4a25ddede6b93e7032981a5298f0cb79722aabccfd5492b907735');
});

test('signedSize() equals the size of a real signed record', () => {
  const record: FeedRecord = { vendor: 'dlink', model: 'dir859', hwVersions: [], ranges: { scheme: 0, intervals: BOUNDED }, advisories: ['CVE-2019-17621'], cvss10: 98, kev: true, fixed: [], remediationHosts: [], eligible: true, feedVersion: 1, issuedAt: NOW, expiresAt: NOW + 1 };
  assert.equal(signedSize(encodeFeedRecordPayload(record).byteLength), encodeCbor(signFeedRecord(TEST_KEYS.feed, record)).byteLength);
});

test('normaliseIntervals() groups exact versions by shared prefix and never widens them', () => {
  const out = normaliseIntervals([
    { kind: 'exact', version: '4.3.6.1446' },
    { kind: 'exact', version: '4.3.6.1620' },
    { kind: 'exact', version: '4.3.6.1446' },
    { kind: 'exact', version: '2.0' },
    ...BOUNDED,
    ...BOUNDED,
  ]);
  assert.deepEqual(out, [BOUNDED[0], { kind: 'exact', version: '2.0' }, { kind: 'exact-list', prefix: '4.3.6.1', suffixes: ['446', '620'] }]);
});

test('parsePublisherPolicy() names the file and the key of a problem', () => {
  const bad = (json: unknown): string => {
    try {
      parsePublisherPolicy(json, 'policy.json');
    } catch (err) {
      assert.ok(err instanceof FeedError);
      return err.message;
    }
    return 'accepted';
  };
  assert.match(bad({ version: 2 }), /^policy\.json: \$\.version: expected 1/);
  assert.match(bad({ version: 1, withdrawn: [42] }), /^policy\.json: \$\.withdrawn\[0\]: expected an advisory id/);
  assert.match(bad({ version: 1, reviewd: {} }), /^policy\.json: \$\.reviewd: unknown key/);
  assert.match(bad({ version: 1, updateHosts: { dlink: ['https://x/'] } }), /\$\.updateHosts\.dlink\[0\]: expected a host name/);
  assert.match(bad({ version: 1, modelAliases: [{ vendor: 'dlink', model: '---', aliases: [] }] }), /\$\.modelAliases\[0\]\.model: name/);
  const ok = parsePublisherPolicy({ version: 1, vendorAliases: { 'D-Link': ['D-Link Systems, Inc.'] } }, 'p.json');
  assert.deepEqual(ok.vendorAliases.get('dlink'), ['dlinksystemsinc']);
});
