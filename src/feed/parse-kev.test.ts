import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseKevEntry, parseKevHeader } from './parse-kev.ts';
import { FeedError } from './types.ts';

const FILE = 'vectors/feeds/kev/known_exploited_vulnerabilities.json';
const catalog = JSON.parse(readFileSync(new URL(`../../${FILE}`, import.meta.url), 'utf8')) as {
  vulnerabilities: unknown[];
};

function entryAt(n: number): unknown {
  return catalog.vulnerabilities[n];
}

test('parseKevHeader() reads the real catalog version and release time', () => {
  assert.deepEqual(parseKevHeader(catalog, { file: FILE, record: '$' }), {
    catalogVersion: '2025.02.25',
    dateReleased: '2025-02-25T20:33:53.3676Z',
  });
});

test('parseKevEntry() normalises every real IoT entry to {cve, dateAdded}', () => {
  const entries = catalog.vulnerabilities.map((v, n) => parseKevEntry(v, { file: FILE, record: `$.vulnerabilities[${n}]` }));
  assert.equal(entries.length, 19);
  assert.deepEqual(entries[0], { cve: 'CVE-2024-41710', dateAdded: '2025-02-12' });
  assert.deepEqual(entries.find((e) => e.cve === 'CVE-2024-3273'), { cve: 'CVE-2024-3273', dateAdded: '2024-04-11' });
  // A 6-digit CVE sequence number is valid.
  assert.deepEqual(entries.find((e) => e.cve === 'CVE-2014-100005'), { cve: 'CVE-2014-100005', dateAdded: '2024-05-16' });
});

function assertBad(value: unknown, fragment: string): void {
  const where = { file: FILE, record: '$.vulnerabilities[3]' };
  assert.throws(() => parseKevEntry(value, where), (error: unknown) => {
    assert.ok(error instanceof FeedError);
    assert.equal(error.code, 'BAD_RECORD');
    assert.equal(error.file, FILE);
    assert.equal(error.record, '$.vulnerabilities[3]');
    assert.match(error.message, new RegExp(fragment.replace(/[.[\]$]/g, '\\$&')));
    return true;
  });
}

test('parseKevEntry() rejects a malformed CVE id naming the JSON path', () => {
  const base = entryAt(0) as Record<string, unknown>;
  assertBad({ ...base, cveID: 'CVE-24-1' }, '$.vulnerabilities[3].cveID');
  assertBad({ ...base, cveID: 'cve-2024-41710' }, '$.vulnerabilities[3].cveID');
  assertBad({ ...base, cveID: undefined }, '$.vulnerabilities[3].cveID');
});

test('parseKevEntry() rejects dates that are not ISO calendar days', () => {
  const base = entryAt(0) as Record<string, unknown>;
  assertBad({ ...base, dateAdded: '02/12/2025' }, '$.vulnerabilities[3].dateAdded');
  assertBad({ ...base, dateAdded: '2025-02-30' }, '$.vulnerabilities[3].dateAdded');
  assertBad({ ...base, dateAdded: 20250212 }, '$.vulnerabilities[3].dateAdded');
  assertBad(null, '$.vulnerabilities[3]');
});

test('parseKevHeader() rejects a missing catalogVersion or a bad dateReleased', () => {
  const where = { file: FILE, record: '$' };
  assert.throws(() => parseKevHeader({ dateReleased: '2025-02-25T20:33:53.3676Z' }, where), { code: 'BAD_RECORD', message: /\$\.catalogVersion/ });
  assert.throws(() => parseKevHeader({ catalogVersion: '2025.02.25', dateReleased: 'yesterday' }, where), { code: 'BAD_RECORD', message: /\$\.dateReleased/ });
});
