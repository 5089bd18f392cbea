import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { FEED_SCHEMA_VERSION, FeedStore, FeedStoreError } from './store.ts';
import type { Advisory, AffectedProduct } from './types.ts';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function freshPath(): string {
  return join(dir, `feed-${++n}.db`);
}

function product(model: string, overrides: Partial<AffectedProduct> = {}): AffectedProduct {
  return {
    vendor: 'dlink',
    model,
    hwVersion: null,
    intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '1.05', upperInclusive: false }],
    fixed: ['1.05'],
    confidence: 'high',
    reason: `cpe:2.3:o:dlink:${model}_firmware`,
    ...overrides,
  };
}

function advisory(id: string, products: AffectedProduct[], overrides: Partial<Advisory> = {}): Advisory {
  return { source: 'nvd', id, aliases: [], cvss: 9.8, published: '2024-01-01', products, remediationUrls: [], ...overrides };
}

function ids(rows: { advisory: Advisory }[]): string[] {
  return rows.map((r) => r.advisory.id).sort();
}

test('FeedStore.lookup() is exact: dns320 never matches dns320l', () => {
  const store = FeedStore.open(freshPath());
  const run = store.beginImport(1_000);
  run.putRecord({ source: 'nvd', recordId: 'CVE-2024-0001', version: { catalogVersion: null, modified: null }, advisories: [advisory('CVE-2024-0001', [product('dns320'), product('dns325')])] });
  run.putRecord({ source: 'nvd', recordId: 'CVE-2024-0002', version: { catalogVersion: null, modified: null }, advisories: [advisory('CVE-2024-0002', [product('dns320l')])] });
  run.commit();
  const rows = store.lookup('dlink', 'dns320');
  assert.deepEqual(ids(rows), ['CVE-2024-0001']);
  const [first] = rows;
  assert.ok(first);
  assert.equal(first.product.model, 'dns320');
  assert.deepEqual(first.advisory.products.map((p) => p.model), ['dns320', 'dns325'], 'the advisory carries all its products');
  assert.deepEqual(first.product, product('dns320'));
  assert.deepEqual(ids(store.lookup('dlink', 'dns320l')), ['CVE-2024-0002']);
  assert.deepEqual(store.lookup('dlink', 'dns32'), []);
  assert.deepEqual(store.lookup('DLink', 'dns320'), [], 'lookup takes canonical names');
  assert.equal([...store.rows()].length, 3);
  store.close();
});

test('FeedStore marks a row kev via the advisory id or one of its aliases', () => {
  const store = FeedStore.open(freshPath());
  const run = store.beginImport(2_000);
  run.putRecord({
    source: 'osv',
    recordId: 'GHSA-aaaa-bbbb-cccc',
    version: { catalogVersion: '2024-03-01T00:00:00Z', modified: '2024-03-01T00:00:00Z' },
    advisories: [advisory('GHSA-aaaa-bbbb-cccc', [product('dir615')], { source: 'osv', aliases: ['CVE-2024-1111'] })],
  });
  run.putRecord({ source: 'nvd', recordId: 'CVE-2024-2222', version: { catalogVersion: null, modified: null }, advisories: [advisory('CVE-2024-2222', [product('dir615')])] });
  run.putRecord({ source: 'nvd', recordId: 'CVE-2024-3333', version: { catalogVersion: null, modified: null }, advisories: [advisory('CVE-2024-3333', [product('dir615')])] });
  run.putKevCatalog(
    [
      { cve: 'CVE-2024-1111', dateAdded: '2024-04-01' },
      { cve: 'CVE-2024-2222', dateAdded: '2024-04-02' },
    ],
    { catalogVersion: '2024.04.02', modified: '2024-04-02T12:00:00Z' },
  );
  run.commit();
  const kev = Object.fromEntries(store.lookup('dlink', 'dir615').map((r) => [r.advisory.id, r.kev]));
  assert.deepEqual(kev, { 'GHSA-aaaa-bbbb-cccc': true, 'CVE-2024-2222': true, 'CVE-2024-3333': false });
  const stats = store.stats();
  assert.equal(stats.kevEntries, 2);
  assert.equal(stats.kevCatalogVersion, '2024.04.02');
  assert.deepEqual(stats.records, { nvd: 2, kev: 2, osv: 1, csaf: 0 });
  assert.deepEqual(stats.topVendors, [{ vendor: 'dlink', models: 1, products: 3 }]);
  store.close();
});

test('FeedStore replaces a record with a newer or equal version and keeps it against an older one', () => {
  const store = FeedStore.open(freshPath());
  const put = (modified: string, model: string, at: number): string => {
    const run = store.beginImport(at);
    const outcome = run.putRecord({ source: 'nvd', recordId: 'CVE-2024-0005', version: { catalogVersion: modified, modified }, advisories: [advisory('CVE-2024-0005', [product(model)])] });
    run.commit();
    return outcome;
  };
  assert.equal(put('2024-02-01T00:00:00.000', 'dir100', 1), 'written');
  assert.equal(put('2024-03-01T00:00:00.000', 'dir200', 2), 'written');
  assert.deepEqual(store.lookup('dlink', 'dir100'), [], 'the older products are gone');
  assert.equal(store.lookup('dlink', 'dir200')[0]?.provenance.catalogVersion, '2024-03-01T00:00:00.000');
  assert.equal(put('2024-01-15T00:00:00.000', 'dir300', 3), 'older');
  assert.deepEqual(store.lookup('dlink', 'dir300'), []);
  assert.equal(store.lookup('dlink', 'dir200').length, 1);
  assert.equal(put('2024-03-01T00:00:00.000', 'dir400', 4), 'written', 'the same version re-imported replaces');
  assert.deepEqual(ids(store.lookup('dlink', 'dir400')), ['CVE-2024-0005']);
  // An application-only newer version (no products) still removes the old device rows.
  const run = store.beginImport(5);
  run.putRecord({ source: 'nvd', recordId: 'CVE-2024-0005', version: { catalogVersion: null, modified: '2024-04-01T00:00:00' }, advisories: [] });
  run.commit();
  assert.deepEqual(store.lookup('dlink', 'dir400'), []);
  store.close();
});

test('FeedStore applies an older KEV catalog not at all and drops entries a newer catalog withdrew', () => {
  const store = FeedStore.open(freshPath());
  const kev = (version: string, cves: string[]): string => {
    const run = store.beginImport(1);
    const outcome = run.putKevCatalog(cves.map((cve) => ({ cve, dateAdded: '2024-01-01' })), { catalogVersion: version, modified: `${version}T00:00:00Z` });
    run.commit();
    return outcome;
  };
  assert.equal(kev('2024-02-01', ['CVE-2024-0001', 'CVE-2024-0002']), 'written');
  assert.equal(kev('2024-03-01', ['CVE-2024-0001', 'CVE-2024-0003']), 'written');
  assert.equal(kev('2024-01-01', ['CVE-2024-0002', 'CVE-2024-0009']), 'older');
  assert.equal(store.stats().kevEntries, 2);
  assert.equal(store.stats().kevCatalogVersion, '2024-03-01');
  store.close();
});

test('FeedStore keeps provenance on every row of every table', () => {
  const path = freshPath();
  const store = FeedStore.open(path);
  const run = store.beginImport(1_700_000_000_000);
  run.putRecord({
    source: 'csaf',
    recordId: 'ICSA-24-001-01',
    version: { catalogVersion: '2', modified: '2024-05-01T00:00:00Z' },
    advisories: [advisory('CVE-2024-7777', [product('x1'), product('x2')], { source: 'csaf' }), advisory('CVE-2024-7778', [product('x3')], { source: 'csaf' })],
  });
  run.putKevCatalog([{ cve: 'CVE-2024-7777', dateAdded: '2024-05-02' }], { catalogVersion: '2024.05.02', modified: '2024-05-02T00:00:00Z' });
  run.putVendorAliases([{ alias: 'dlinksystems', canonical: 'dlink' }], { recordId: 'tattler.toml', catalogVersion: null });
  run.commit();
  assert.equal(store.canonicalVendor('dlinksystems'), 'dlink');
  assert.equal(store.canonicalVendor('somevendor'), 'somevendor');
  store.close();
  const raw = new Database(path, { readonly: true });
  for (const table of ['records', 'advisories', 'products', 'kev', 'vendor_aliases']) {
    const rows = raw.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
    assert.ok(rows.length > 0, table);
    for (const row of rows) {
      if (table !== 'records') assert.equal(typeof row.source, 'string', `${table}.source`);
      assert.equal(typeof row.record_id, 'string', `${table}.record_id`);
      assert.equal(row.imported_at_ms, 1_700_000_000_000, `${table}.imported_at_ms`);
      assert.ok('catalog_version' in row, `${table}.catalog_version`);
    }
  }
  const products = raw.prepare('SELECT record_id, catalog_version FROM products').all();
  assert.deepEqual(products, [
    { record_id: 'ICSA-24-001-01', catalog_version: '2' },
    { record_id: 'ICSA-24-001-01', catalog_version: '2' },
    { record_id: 'ICSA-24-001-01', catalog_version: '2' },
  ]);
  raw.close();
});

test('FeedStore.open() refuses a newer schema, a foreign SQLite file and a non-database', async () => {
  const newer = freshPath();
  FeedStore.open(newer).close();
  const raw = new Database(newer);
  raw.pragma(`user_version = ${FEED_SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(
    () => FeedStore.open(newer),
    (err: unknown) => err instanceof FeedStoreError && err.code === 'SCHEMA_TOO_NEW' && /schema version 2, this tattler reads up to 1; upgrade tattler/.test(err.message),
  );
  const foreign = freshPath();
  const other = new Database(foreign);
  other.exec('CREATE TABLE t (x)');
  other.close();
  assert.throws(() => FeedStore.open(foreign), (err: unknown) => err instanceof FeedStoreError && err.code === 'NOT_A_FEED_DB');
  const text = join(dir, 'notes.db');
  await writeFile(text, 'this is not a database at all, just some text that is long enough to have a header');
  assert.throws(() => FeedStore.open(text), (err: unknown) => err instanceof FeedStoreError && err.code === 'NOT_A_FEED_DB' && err.message.includes(text));
  assert.throws(() => FeedStore.open(join(dir, 'missing.db'), { readonly: true }), /cannot open the feed database/);
});

test('FeedImport.rollback() leaves the database as it was', () => {
  const store = FeedStore.open(freshPath());
  const first = store.beginImport(1);
  first.putRecord({ source: 'nvd', recordId: 'CVE-2024-0001', version: { catalogVersion: null, modified: null }, advisories: [advisory('CVE-2024-0001', [product('dir1')])] });
  first.commit();
  const second = store.beginImport(2);
  second.putRecord({ source: 'nvd', recordId: 'CVE-2024-0001', version: { catalogVersion: null, modified: null }, advisories: [advisory('CVE-2024-0001', [product('dir2')])] });
  second.rollback();
  second.rollback();
  assert.deepEqual(ids(store.lookup('dlink', 'dir1')), ['CVE-2024-0001']);
  assert.deepEqual(store.lookup('dlink', 'dir2'), []);
  assert.throws(() => second.putRecord({ source: 'nvd', recordId: 'x', version: { catalogVersion: null, modified: null }, advisories: [] }), TypeError);
  store.close();
});

test('FeedStore configured vendor aliases: listed with provenance, by vendorAliases(), and found by lookup()', () => {
  const store = FeedStore.open(freshPath());
  const run = store.beginImport(1_000);
  // A CSAF vendor name the table does not know, stored under its own canonical name.
  run.putRecord({ source: 'csaf', recordId: 'ICSA-1', version: { catalogVersion: '1', modified: null }, advisories: [advisory('CVE-2024-0003', [product('cam1', { vendor: 'acmecamscorp' })], { source: 'csaf' })] });
  run.commit();
  assert.deepEqual(store.lookup('acme', 'cam1'), []);
  const config = store.beginImport(2_000);
  config.putVendorAliases([{ alias: 'acmecamscorp', canonical: 'acme' }, { alias: 'acmecams', canonical: 'acme' }], { recordId: 'tattler feed aliases add', catalogVersion: null });
  config.commit();
  assert.equal(store.canonicalVendor('ACME Cams Corp'), 'acme');
  assert.deepEqual(store.vendorAliases('acme'), ['acmecams', 'acmecamscorp']);
  assert.ok(store.vendorAliases('dlink').includes('dlinksystems'), 'the maintained table too');
  assert.deepEqual(ids(store.lookup('acme', 'cam1')), ['CVE-2024-0003'], 'rows stored under a configured alias are found under its vendor');
  assert.deepEqual(store.vendorAliasEntries(), [
    { alias: 'acmecams', canonical: 'acme', origin: 'config', recordId: 'tattler feed aliases add', importedAtMs: 2_000, catalogVersion: null },
    { alias: 'acmecamscorp', canonical: 'acme', origin: 'config', recordId: 'tattler feed aliases add', importedAtMs: 2_000, catalogVersion: null },
  ]);
  store.close();
});
