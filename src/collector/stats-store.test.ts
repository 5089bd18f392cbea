import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { AggregateCounts } from './aggregate-counts.ts';
import { NotifyStore } from './notify-store.ts';
import { openStatsStore, STATS_HOUR_SECONDS, StatsStoreError, type StatsStore } from './stats-store.ts';

const DAY = 86_400;
/** An hour boundary: 2023-11-14T22:00:00Z. */
const H0 = 1_699_999_200;
const RETENTION = 30 * DAY;
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-stats-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
function freshPath(): string {
  files++;
  return join(dir, `stats-${files}.db`);
}

function counts(identified: [string, string, 'pass' | 'fail' | 'warn' | 'unknown', number][], buckets: [string, number][] = []): AggregateCounts {
  return {
    identified: identified.map(([vendor, model, status, count]) => ({ vendor, model, status, count })),
    private: buckets.map(([bucket, count]) => ({ bucket, count })),
  };
}

function rows(path: string, table: 'identified' | 'private'): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2, 3`).all();
  } finally {
    db.close();
  }
}

function withStore<T>(path: string, use: (store: StatsStore) => T): T {
  const store = openStatsStore(path, { retentionSeconds: RETENTION });
  try {
    return use(store);
  } finally {
    store.close();
  }
}

test('record() adds the growth since the previous snapshot to the hour containing now', () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.record(counts([['dlink', 'dir859', 'fail', 3]], [['0a1', 2]]), H0 + 10);
    store.record(counts([['dlink', 'dir859', 'fail', 5], ['dlink', 'dir859', 'pass', 1]], [['0a1', 2]]), H0 + 3599);
    store.record(counts([['dlink', 'dir859', 'fail', 9], ['dlink', 'dir859', 'pass', 1]], [['0a1', 7]]), H0 + 3600);
  });
  assert.deepEqual(rows(path, 'identified'), [
    { hour: H0, vendor: 'dlink', model: 'dir859', status: 'fail', count: 5 },
    { hour: H0, vendor: 'dlink', model: 'dir859', status: 'pass', count: 1 },
    { hour: H0 + 3600, vendor: 'dlink', model: 'dir859', status: 'fail', count: 4 },
  ]);
  assert.deepEqual(rows(path, 'private'), [
    { hour: H0, bucket: '0a1', count: 2 },
    { hour: H0 + 3600, bucket: '0a1', count: 5 },
  ]);
});

test('record() treats a count lower than before as a reset: the new value is the growth', () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.record(counts([['nuuo', 'nvrmini', 'fail', 10]], [['fff', 4]]), H0);
    store.record(counts([['nuuo', 'nvrmini', 'fail', 3]], [['fff', 1]]), H0 + 60);
    // A key that vanished (its worker restarted) and comes back counts from zero.
    store.record(counts([], []), H0 + 120);
    store.record(counts([['nuuo', 'nvrmini', 'fail', 2]], []), H0 + 180);
    const result = store.query(null);
    assert.deepEqual(result.identified, [{ vendor: 'nuuo', model: 'nvrmini', status: 'fail', count: 15 }]);
    assert.deepEqual(result.private, [{ bucket: 'fff', count: 5 }]);
  });
});

test('recordSources() sums per-source deltas: a missed scrape or a restarted worker is not re-added', () => {
  const path = freshPath();
  const fail = (n: number): AggregateCounts => counts([['dlink', 'dir859', 'fail', n]], [['0a1', n]]);
  withStore(path, (store) => {
    // Worker A (id 1) and B (id 2). The old single-sum rule turned 150 → 100 → 150 → 105 into 405.
    store.recordSources(new Map([['1:100', fail(100)], ['2:200', fail(50)]]), H0); // sum 150
    store.recordSources(new Map([['1:100', fail(100)]]), H0 + 60); // B missed the scrape: sum 100
    store.recordSources(new Map([['1:100', fail(100)], ['2:200', fail(50)]]), H0 + 120); // sum 150
    // B was re-forked (new pid) and counted 5 since; A is unchanged: the true total is 155.
    store.recordSources(new Map([['1:100', fail(100)], ['3:300', fail(5)]]), H0 + 180);
    assert.deepEqual(store.query(null).identified, [{ vendor: 'dlink', model: 'dir859', status: 'fail', count: 155 }]);
    assert.deepEqual(store.query(null).private, [{ bucket: '0a1', count: 155 }]);
    // A worker that missed scrapes has its growth counted when it answers again.
    store.recordSources(new Map([['3:300', fail(5)]]), H0 + 240);
    store.recordSources(new Map([['1:100', fail(110)], ['3:300', fail(7)]]), H0 + 300);
    assert.deepEqual(store.query(null).identified, [{ vendor: 'dlink', model: 'dir859', status: 'fail', count: 167 }]);
  });
});

test('recordSources() forgets a source absent for a day: its next snapshot counts from zero', () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.recordSources(new Map([['1:100', counts([['a', 'm', 'fail', 4]])]]), H0);
    store.recordSources(new Map([['2:200', counts([['a', 'm', 'fail', 1]])]]), H0 + DAY);
    store.recordSources(new Map([['1:100', counts([['a', 'm', 'fail', 4]])]]), H0 + DAY + 1);
    assert.deepEqual(store.query(null).identified, [{ vendor: 'a', model: 'm', status: 'fail', count: 9 }]);
  });
});

test('record() of a new store starts from zero, so a reopened store adds the whole snapshot', () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.record(counts([['dlink', 'dir859', 'warn', 2]]), H0);
  });
  withStore(path, (store) => {
    store.record(counts([['dlink', 'dir859', 'warn', 3]]), H0 + 10);
    assert.deepEqual(store.query(null).identified, [{ vendor: 'dlink', model: 'dir859', status: 'warn', count: 5 }]);
  });
});

test('record() refuses a malformed snapshot before writing anything', () => {
  const path = freshPath();
  withStore(path, (store) => {
    assert.throws(() => {
      store.record(counts([['dlink', 'dir859', 'fail', 1]], [['XYZ', 1]]), H0);
    }, RangeError);
    assert.throws(() => {
      store.record(counts([['dlink', 'dir859', 'fail', -1]]), H0);
    }, RangeError);
    assert.throws(() => {
      store.record(counts([]), -5);
    }, RangeError);
    assert.deepEqual(store.query(null).identified, []);
  });
});

test('query() sums the hours from the one containing since, and its window spans the hours present', () => {
  const path = freshPath();
  withStore(path, (store) => {
    assert.deepEqual(store.query(null), { identified: [], private: [], window: { fromSeconds: null, toSeconds: null } });
    store.record(counts([['a', 'm', 'fail', 1]], [['001', 1]]), H0 + 5);
    store.record(counts([['a', 'm', 'fail', 3]], [['001', 1]]), H0 + 2 * STATS_HOUR_SECONDS + 5);
    store.record(counts([['a', 'm', 'fail', 3], ['b', 'n', 'pass', 2]], [['001', 1], ['002', 6]]), H0 + 5 * STATS_HOUR_SECONDS);
    const all = store.query(null);
    assert.deepEqual(all.window, { fromSeconds: H0, toSeconds: H0 + 6 * STATS_HOUR_SECONDS });
    assert.deepEqual(all.identified, [
      { vendor: 'a', model: 'm', status: 'fail', count: 3 },
      { vendor: 'b', model: 'n', status: 'pass', count: 2 },
    ]);
    // since inside hour 2: hour 2 counts whole.
    const recent = store.query(H0 + 2 * STATS_HOUR_SECONDS + 1800);
    assert.deepEqual(recent.window, { fromSeconds: H0 + 2 * STATS_HOUR_SECONDS, toSeconds: H0 + 6 * STATS_HOUR_SECONDS });
    assert.deepEqual(recent.identified, [
      { vendor: 'a', model: 'm', status: 'fail', count: 2 },
      { vendor: 'b', model: 'n', status: 'pass', count: 2 },
    ]);
    assert.deepEqual(recent.private, [{ bucket: '002', count: 6 }]);
    assert.deepEqual(store.query(H0 + 10 * STATS_HOUR_SECONDS).window, { fromSeconds: null, toSeconds: null });
  });
});

test('prune() deletes the hours that ended more than the retention ago', () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.record(counts([['a', 'm', 'fail', 1]], [['001', 1]]), H0);
    store.record(counts([['a', 'm', 'fail', 2]], [['001', 2]]), H0 + STATS_HOUR_SECONDS);
    // Hour H0 ends at H0 + 3600; it is kept until that is more than the retention ago.
    assert.equal(store.prune(H0 + STATS_HOUR_SECONDS + RETENTION - 1), 0);
    assert.equal(store.prune(H0 + STATS_HOUR_SECONDS + RETENTION), 2);
    const left = store.query(null);
    assert.deepEqual(left.window, { fromSeconds: H0 + STATS_HOUR_SECONDS, toSeconds: H0 + 2 * STATS_HOUR_SECONDS });
    assert.deepEqual(left.identified, [{ vendor: 'a', model: 'm', status: 'fail', count: 1 }]);
  });
});

test('prune() that deletes rows leaves no WAL behind (old copies of the rows are gone)', () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.record(counts([['a', 'm', 'fail', 1]], [['001', 1]]), H0);
    assert.ok(statSync(`${path}-wal`).size > 0, 'the write went to the WAL');
    assert.equal(store.prune(H0 + STATS_HOUR_SECONDS + RETENTION), 2);
    assert.equal(statSync(`${path}-wal`).size, 0, 'wal_checkpoint(TRUNCATE) ran');
  });
});

test('openStatsStore() creates the directory and an owner-only file', async () => {
  const path = join(dir, 'nested', 'deeper', 'stats.db');
  withStore(path, (store) => {
    store.record(counts([['a', 'm', 'pass', 1]]), H0);
  });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('openStatsStore() read-only: queries, refuses writes, and never creates a file', async () => {
  const path = freshPath();
  withStore(path, (store) => {
    store.record(counts([['a', 'm', 'warn', 4]]), H0);
  });
  const reader = openStatsStore(path, { retentionSeconds: RETENTION, readOnly: true });
  try {
    assert.deepEqual(reader.query(null).identified, [{ vendor: 'a', model: 'm', status: 'warn', count: 4 }]);
    assert.throws(() => {
      reader.record(counts([]), H0);
    }, TypeError);
    assert.throws(() => reader.prune(H0), TypeError);
  } finally {
    reader.close();
  }
  assert.throws(
    () => openStatsStore(join(dir, 'missing.db'), { retentionSeconds: RETENTION, readOnly: true }),
    (err: unknown) => err instanceof StatsStoreError && err.code === 'OPEN_FAILED' && err.message.includes('missing.db'),
  );
  await assert.rejects(stat(join(dir, 'missing.db')), { code: 'ENOENT' });
});

test('openStatsStore() refuses files that are not a stats store of this schema', async () => {
  const text = join(dir, 'text.db');
  await writeFile(text, 'not a database at all, just some text that is long enough to be a header\n'.repeat(20));
  const notify = join(dir, 'notify.db');
  NotifyStore.open(notify, { nowMs: 0 }).close();
  const foreign = join(dir, 'foreign.db');
  const f = new Database(foreign);
  f.exec('CREATE TABLE t (x)');
  f.close();
  const empty = join(dir, 'empty.db');
  await writeFile(empty, '');
  const future = freshPath();
  withStore(future, () => undefined);
  const g = new Database(future);
  g.pragma('user_version = 2');
  g.close();
  const cases: [string, string, boolean][] = [
    [text, 'NOT_A_STATS_STORE', false],
    [notify, 'NOT_A_STATS_STORE', false],
    [foreign, 'NOT_A_STATS_STORE', false],
    [empty, 'NOT_A_STATS_STORE', true],
    [future, 'SCHEMA_VERSION', false],
  ];
  for (const [path, code, readOnly] of cases) {
    assert.throws(
      () => openStatsStore(path, { retentionSeconds: RETENTION, readOnly }),
      (err: unknown) => err instanceof StatsStoreError && err.code === code && err.message.startsWith(path),
      `${path}: ${code}`,
    );
  }
});
