import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOlderRecord, recordVersionOf } from './record-version.ts';

const at = (modified: string | null): { catalogVersion: null; modified: string | null } => ({ catalogVersion: null, modified });

test('isOlderRecord() is true only when both times are known and the incoming one is earlier', () => {
  const cases: [string | null, string | null, boolean][] = [
    ['2024-01-01T00:00:00.000', '2024-02-01T00:00:00.000', true],
    ['2024-02-01T00:00:00.000', '2024-01-01T00:00:00.000', false],
    ['2024-02-01T00:00:00.000', '2024-02-01T00:00:00.000', false], // equal: re-import replaces
    [null, '2024-02-01T00:00:00.000', false], // unknown: nothing says it is older
    ['2024-01-01T00:00:00.000', null, false],
    ['2024-02-01T01:00:00+02:00', '2024-01-31T23:30:00Z', true], // zones are honoured: 23:00Z < 23:30Z
    ['2024-01-31T23:30:00', '2024-01-31T23:45:00Z', true], // NVD times without a zone are UTC
    ['2025.02.24', '2025.02.25', true], // unparsable: text order
  ];
  for (const [incoming, stored, older] of cases) assert.equal(isOlderRecord(at(incoming), at(stored)), older, `${incoming} vs ${stored}`);
});

test('recordVersionOf() reads NVD lastModified, OSV modified and CSAF tracking, and null for odd fields', () => {
  assert.deepEqual(recordVersionOf('nvd', { lastModified: '2024-01-01T00:00:00.000' }), { catalogVersion: '2024-01-01T00:00:00.000', modified: '2024-01-01T00:00:00.000' });
  assert.deepEqual(recordVersionOf('osv', { modified: 7 }), { catalogVersion: null, modified: null });
  assert.deepEqual(recordVersionOf('csaf', { document: { tracking: { version: '3', current_release_date: '2024-05-01T00:00:00Z' } } }), { catalogVersion: '3', modified: '2024-05-01T00:00:00Z' });
  assert.deepEqual(recordVersionOf('csaf', []), { catalogVersion: null, modified: null });
});
