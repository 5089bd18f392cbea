import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { importFiles, type ImportLocation, type ImportParsers, type ImportProgress } from './import.ts';
import { FeedStore } from './store.ts';
import { FeedError, type Advisory, type FeedErrorCode } from './types.ts';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-import-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A fake advisory from `{id, models: [...], bad?: code}`: bad throws that FeedError; no models → NOT_A_DEVICE. */
function fakeAdvisory(source: Advisory['source'], value: unknown, where: ImportLocation): Advisory {
  if (!isRecord(value) || typeof value.id !== 'string') throw new FeedError('BAD_RECORD', where, 'no id');
  if (typeof value.bad === 'string') throw new FeedError(value.bad as FeedErrorCode, where, `fake problem ${value.bad}`);
  const models = Array.isArray(value.models) ? value.models.filter((m): m is string => typeof m === 'string') : [];
  if (models.length === 0) throw new FeedError('NOT_A_DEVICE', where, 'application only');
  return {
    source,
    id: value.id,
    aliases: Array.isArray(value.aliases) ? value.aliases.filter((a): a is string => typeof a === 'string') : [],
    cvss: null,
    published: null,
    remediationUrls: [],
    products: models.map((model) => ({
      vendor: 'acme',
      model,
      hwVersion: null,
      intervals: [{ kind: 'exact', version: '1.0' }],
      fixed: [],
      confidence: 'high',
      reason: 'fake',
    })),
  };
}

const FAKE_PARSERS: ImportParsers = {
  parseNvdCve: (value, where) => fakeAdvisory('nvd', value, where),
  parseOsvRecord: (value, where) => fakeAdvisory('osv', value, where),
  parseCsafDocument: (value, where) => {
    const vulns = isRecord(value) && Array.isArray(value.vulnerabilities) ? value.vulnerabilities : [];
    return vulns.map((v) => fakeAdvisory('csaf', v, where));
  },
  parseKevHeader: (value, where) => {
    if (!isRecord(value) || typeof value.catalogVersion !== 'string' || typeof value.dateReleased !== 'string') {
      throw new FeedError('BAD_RECORD', where, 'no header');
    }
    return { catalogVersion: value.catalogVersion, dateReleased: value.dateReleased };
  },
  parseKevEntry: (value, where) => {
    if (!isRecord(value) || typeof value.cveID !== 'string' || typeof value.dateAdded !== 'string') throw new FeedError('BAD_RECORD', where, 'bad entry');
    return { cve: value.cveID, dateAdded: value.dateAdded };
  },
};

function cve(i: number, models: string[] = [`m${i}`], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: `CVE-2024-${String(i).padStart(5, '0')}`, lastModified: '2024-06-01T00:00:00.000', models, ...extra };
}

function page(cves: Record<string, unknown>[]): string {
  return JSON.stringify({ resultsPerPage: cves.length, startIndex: 0, totalResults: cves.length, format: 'NVD_CVE', version: '2.0', vulnerabilities: cves.map((c) => ({ cve: c })) });
}

async function subdir(): Promise<string> {
  const path = join(dir, `case-${++n}`);
  await mkdir(path, { recursive: true });
  return path;
}

/** Every row of every table, for before/after comparisons. */
function dump(path: string): string {
  const db = new Database(path, { readonly: true });
  const tables = ['records', 'advisories', 'products', 'kev', 'vendor_aliases'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all());
  db.close();
  return JSON.stringify(tables);
}

test('importFiles() walks directories for *.json, pages and single records, and streams a page chunk by chunk', async () => {
  const root = await subdir();
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  const big = Array.from({ length: 3000 }, (_, i) => cve(i));
  await writeFile(join(root, 'a', 'page-0.json'), page(big));
  await writeFile(join(root, 'a', 'b', 'CVE-2024-90001.json'), JSON.stringify(cve(90001, ['single'])));
  await writeFile(join(root, 'a', 'b', 'wrapped.json'), JSON.stringify({ cve: cve(90002, ['wrapped']) }));
  await writeFile(join(root, 'a', 'b', 'notes.txt'), 'not json, not looked at');
  const store = FeedStore.open(join(root, 'feed.db'));
  const progress: ImportProgress[] = [];
  const report = await importFiles({
    db: store,
    parsers: FAKE_PARSERS,
    nvd: [root],
    importedAtMs: 42,
    limits: { chunkBytes: 4096 },
    onProgress: (p) => progress.push(p),
  });
  assert.equal(report.files, 3);
  assert.equal(report.recordsRead, 3002);
  assert.equal(report.advisories, 3002);
  assert.equal(report.products, 3002);
  assert.equal(report.intervals, 3002);
  assert.equal(report.skipped.NOT_A_DEVICE, 0);
  assert.equal(store.lookup('acme', 'm2999')[0]?.advisory.id, 'CVE-2024-02999');
  assert.equal(store.lookup('acme', 'single')[0]?.provenance.importedAtMs, 42);
  assert.equal(store.lookup('acme', 'wrapped')[0]?.provenance.catalogVersion, '2024-06-01T00:00:00.000');
  // Streaming: records were counted while the first (large) file was still being read.
  const during = progress.filter((p) => p.file.endsWith('page-0.json') && p.bytesRead < p.totalBytes);
  assert.ok(during.length > 10, `progress during the page: ${during.length}`);
  assert.ok(during.some((p) => p.recordsRead > 0 && p.recordsRead < 3000));
  assert.equal(progress.at(-1)?.bytesRead, progress.at(-1)?.totalBytes);
  store.close();
});

test('importFiles() skips and counts bad records by code, and NOT_A_DEVICE separately', async () => {
  const root = await subdir();
  const file = join(root, 'page.json');
  await writeFile(file, page([cve(1), cve(2, [], {}), cve(3, ['x'], { bad: 'BAD_CPE' }), cve(4, ['y'], { bad: 'BAD_VERSION' }), cve(5)]));
  await writeFile(join(root, 'bad-element.json'), JSON.stringify({ vulnerabilities: [{ notcve: 1 }] }));
  await writeFile(join(root, 'other.json'), JSON.stringify({ something: 'else' }));
  const store = FeedStore.open(join(root, 'feed.db'));
  const report = await importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [root], importedAtMs: 1 });
  assert.equal(report.recordsRead, 7);
  assert.equal(report.advisories, 2);
  assert.deepEqual(report.skipped, { BAD_JSON: 1, BAD_RECORD: 1, BAD_CPE: 1, BAD_VERSION: 1, NOT_A_DEVICE: 1, TOO_LARGE: 0 });
  assert.ok(report.examples.some((e) => e.includes(file) && e.includes('CVE-2024-00003 ($.vulnerabilities[2])') && e.includes('fake problem BAD_CPE')), report.examples.join('\n'));
  assert.equal(store.stats().records.nvd, 3, 'the application-only record is versioned, not stored as a device');
  store.close();
});

test('importFiles() with strict aborts at the first bad record, naming it, and the database is intact', async () => {
  const root = await subdir();
  const dbPath = join(root, 'feed.db');
  const store = FeedStore.open(dbPath);
  await writeFile(join(root, 'good.json'), page([cve(1), cve(2)]));
  await importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [join(root, 'good.json')], importedAtMs: 1 });
  const before = dump(dbPath);
  const file = join(root, 'bad.json');
  await writeFile(file, page([cve(1, ['changed']), cve(7, ['z'], { bad: 'BAD_RECORD' }), cve(8)]));
  await assert.rejects(
    importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [file], strict: true, importedAtMs: 2 }),
    (err: unknown) => err instanceof FeedError && err.code === 'BAD_RECORD' && err.file === file && err.record === 'CVE-2024-00007 ($.vulnerabilities[1])',
  );
  assert.equal(dump(dbPath), before);
  // Without strict the same file imports, skipping the bad record.
  const report = await importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [file], importedAtMs: 3 });
  assert.equal(report.skipped.BAD_RECORD, 1);
  assert.equal(store.lookup('acme', 'changed').length, 1);
  store.close();
});

test('importFiles() fails cleanly on a truncated JSON file, naming it, and rolls back every file', async () => {
  const root = await subdir();
  const dbPath = join(root, 'feed.db');
  const store = FeedStore.open(dbPath);
  await writeFile(join(root, 'first.json'), page([cve(1)]));
  await importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [join(root, 'first.json')], importedAtMs: 1 });
  const before = dump(dbPath);
  await writeFile(join(root, 'second.json'), page([cve(2), cve(3)]));
  const truncated = join(root, 'third.json');
  const text = page([cve(4), cve(5), cve(6)]);
  await writeFile(truncated, text.slice(0, Math.floor(text.length * 0.7)));
  await assert.rejects(
    importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [join(root, 'second.json'), truncated], importedAtMs: 2 }),
    (err: unknown) => err instanceof FeedError && err.code === 'BAD_JSON' && err.file === truncated && /not well-formed JSON/.test(err.message),
  );
  assert.equal(dump(dbPath), before, 'records of the good second file were rolled back too');
  await writeFile(truncated, '{"vulnerabilities": [ {"cve": 1} ] } trailing');
  await assert.rejects(importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [truncated], importedAtMs: 3 }), (err: unknown) => err instanceof FeedError && err.code === 'BAD_JSON');
  await writeFile(truncated, '');
  await assert.rejects(importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [truncated], importedAtMs: 3 }), /empty file/);
  await assert.rejects(importFiles({ db: store, parsers: FAKE_PARSERS, nvd: [join(root, 'nope')], importedAtMs: 3 }), /nope: no such file or directory/);
  assert.equal(dump(dbPath), before);
  store.close();
});

test('importFiles() imports KEV, OSV and CSAF, and caps one-document files', async () => {
  const root = await subdir();
  const kev = join(root, 'kev.json');
  await writeFile(kev, JSON.stringify({ title: 'CISA KEV', catalogVersion: '2024.06.01', dateReleased: '2024-06-01T12:00:00.000Z', count: 3, vulnerabilities: [{ cveID: 'CVE-2024-00001', dateAdded: '2024-05-01' }, { cveID: 'CVE-2024-00009', dateAdded: '2024-05-02' }, { nothing: true }] }));
  const osvDir = join(root, 'osv');
  await mkdir(osvDir);
  await writeFile(join(osvDir, 'GHSA-1.json'), JSON.stringify({ id: 'GHSA-1', modified: '2024-01-01T00:00:00Z', aliases: ['CVE-2024-00009'], models: ['osvmodel'] }));
  await writeFile(join(osvDir, 'GHSA-2.json'), JSON.stringify({ id: 'GHSA-2', models: ['x'.repeat(1000)] }));
  const csaf = join(root, 'csaf.json');
  await writeFile(csaf, JSON.stringify({ document: { tracking: { id: 'ICSA-1', version: '3', current_release_date: '2024-02-02T00:00:00Z' } }, vulnerabilities: [{ id: 'CVE-2024-00001', models: ['plc1', 'plc2'] }, { id: 'CVE-2024-00002', models: ['plc3'] }] }));
  const store = FeedStore.open(join(root, 'feed.db'));
  const report = await importFiles({ db: store, parsers: FAKE_PARSERS, kev: [kev], osv: [osvDir], csaf: [csaf], importedAtMs: 5, limits: { maxDocumentBytes: 400 } });
  assert.equal(report.kevEntries, 2);
  assert.equal(report.skipped.BAD_RECORD, 1);
  assert.equal(report.skipped.TOO_LARGE, 1, 'GHSA-2.json is over the 400-byte cap');
  assert.equal(report.advisories, 3);
  assert.equal(store.lookup('acme', 'osvmodel')[0]?.kev, true, 'KEV via the OSV alias');
  const plc = store.lookup('acme', 'plc1')[0];
  assert.equal(plc?.kev, true);
  assert.deepEqual(plc.provenance, { source: 'csaf', recordId: 'ICSA-1', importedAtMs: 5, catalogVersion: '3' });
  assert.equal(store.stats().kevCatalogVersion, '2024.06.01');
  store.close();
});
