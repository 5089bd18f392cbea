import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { Command, CommanderError } from 'commander';
import { collectorNotifyCommand } from '../cli/commands/collector-notify.ts';
import { CliExit } from '../cli/exit.ts';
import { parseIp } from '../protocol/index.ts';
import {
  NOTIFY_APPLICATION_ID,
  NOTIFY_COLUMNS,
  NOTIFY_DEFAULTS,
  NOTIFY_TABLE,
  NotifyStore,
  NotifyStoreError,
  NullNotifySink,
  openNotifySink,
  type NotifyEvent,
  type NotifySink,
} from './notify-store.ts';

const DAY_MS = 86_400_000;
/** 2025-01-01T00:00:00Z: the fake clock starts here. */
const T0 = Date.UTC(2025, 0, 1);

let root = '';
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tattler-notify-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh empty directory per test, so "every file in it" means this test's files. */
async function freshDir(): Promise<string> {
  const dir = join(root, `case-${++n}`);
  await mkdir(dir);
  return dir;
}

function ip(text: string): Uint8Array {
  const bytes = parseIp(text);
  assert.ok(bytes, text);
  return bytes;
}

/** The collector core's effect shape (src/collector/core.ts), `kind` and `status` included. */
function effect(
  address: string,
  advisory: string | string[],
  atMs: number,
): NotifyEvent & { kind: 'notify'; status: 'fail' } {
  return {
    kind: 'notify',
    address: ip(address),
    status: 'fail',
    advisories: typeof advisory === 'string' ? [advisory] : advisory,
    atMs,
  };
}

test('NotifyStore.record() upserts per (address, advisory) and counts sightings', async () => {
  const path = join(await freshDir(), 'notify.db');
  const store = NotifyStore.open(path, { nowMs: T0 });
  store.record(
    [effect('192.0.2.7', 'CVE-2019-17621', T0), effect('192.0.2.7', 'CVE-2019-17621', T0 + 5_000)],
    T0 + 5_000,
  );
  store.record(
    [
      effect('192.0.2.7', ['CVE-2019-17621', 'CVE-2020-0001'], T0 + 60_000),
      effect('192.0.2.8', [], T0 + 60_000),
    ],
    T0 + 60_000,
  );
  store.record([effect('2001:db8::1', 'GHSA-abcd-efgh-ijkl', T0 + 70_000)], T0 + 70_000);
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: stored as the IPv4 address.
  store.record([effect('::ffff:192.0.2.7', 'CVE-2020-0001', T0 + 80_000)], T0 + 80_000);
  assert.equal(store.size(), 3);
  assert.deepEqual(
    [...store.entries()],
    [
      {
        address: '192.0.2.7',
        advisory: 'CVE-2019-17621',
        firstSeenMs: T0,
        lastSeenMs: T0 + 60_000,
        count: 3,
      },
      {
        address: '2001:db8::1',
        advisory: 'GHSA-abcd-efgh-ijkl',
        firstSeenMs: T0 + 70_000,
        lastSeenMs: T0 + 70_000,
        count: 1,
      },
      {
        address: '192.0.2.7',
        advisory: 'CVE-2020-0001',
        firstSeenMs: T0 + 60_000,
        lastSeenMs: T0 + 80_000,
        count: 2,
      },
    ],
  );
  assert.deepEqual(
    [...store.entries({ sinceMs: T0 + 75_000 })].map((e) => e.advisory),
    ['CVE-2020-0001'],
  );
  store.close();
});

test('NotifyStore.record() refuses misuse: a 5-byte address, an empty or oversized advisory id', async () => {
  const store = NotifyStore.open(join(await freshDir(), 'notify.db'), { nowMs: T0 });
  assert.throws(() => {
    store.record([{ address: new Uint8Array(5), advisories: ['CVE-2024-0001'], atMs: T0 }], T0);
  }, TypeError);
  assert.throws(() => {
    store.record([effect('192.0.2.1', 'CVE-2024-0001', T0), effect('192.0.2.1', '', T0)], T0);
  }, TypeError);
  assert.throws(() => {
    store.record([effect('192.0.2.1', 'X'.repeat(49), T0)], T0);
  }, TypeError);
  assert.throws(() => {
    store.record([], Number.NaN);
  }, RangeError);
  assert.equal(store.size(), 0, 'a refused batch stores nothing');
  store.close();
});

test('NotifyStore retention: a fake clock, rows past retention gone after prune(), after record() and after reopen', async () => {
  const path = join(await freshDir(), 'notify.db');
  const retentionMs = 30 * DAY_MS;
  assert.equal(NOTIFY_DEFAULTS.retentionMs, retentionMs, 'the default is 30 days');
  let store = NotifyStore.open(path, { nowMs: T0 });
  store.record([effect('192.0.2.1', 'CVE-2024-0001', T0)], T0);
  store.record([effect('192.0.2.2', 'CVE-2024-0001', T0 + 10 * DAY_MS)], T0 + 10 * DAY_MS);
  store.record([effect('192.0.2.3', 'CVE-2024-0001', T0 + 20 * DAY_MS)], T0 + 20 * DAY_MS);

  // Exactly at the limit a row is kept; one millisecond later it is gone.
  assert.equal(store.prune(T0 + retentionMs), 0);
  assert.equal(store.prune(T0 + retentionMs + 1), 1);
  assert.deepEqual(
    [...store.entries()].map((e) => e.address),
    ['192.0.2.2', '192.0.2.3'],
  );

  // A write batch prunes before it writes, with no timer involved.
  store.record([effect('192.0.2.4', 'CVE-2024-0001', T0 + 41 * DAY_MS)], T0 + 41 * DAY_MS);
  assert.deepEqual(
    [...store.entries()].map((e) => e.address),
    ['192.0.2.3', '192.0.2.4'],
  );
  // A sighting already past retention when it arrives is not stored at all.
  store.record([effect('192.0.2.5', 'CVE-2024-0001', T0)], T0 + 41 * DAY_MS);
  assert.equal(store.size(), 2);
  store.close();

  // Reopening months later (the collector was stopped): open() prunes before anything else.
  store = NotifyStore.open(path, { nowMs: T0 + 100 * DAY_MS });
  assert.equal(store.size(), 0);
  store.close();

  // A re-sighted row is kept, counted from its first sighting, until retention after the last.
  store = NotifyStore.open(path, { nowMs: T0, retentionMs: 7 * DAY_MS });
  store.record([effect('192.0.2.9', 'CVE-2024-0002', T0)], T0);
  store.record([effect('192.0.2.9', 'CVE-2024-0002', T0 + 6 * DAY_MS)], T0 + 6 * DAY_MS);
  assert.equal(store.prune(T0 + 12 * DAY_MS), 0);
  assert.equal(store.prune(T0 + 13 * DAY_MS + 1), 1);
  store.close();
});

test('NotifyStore read-only (export) hides rows past retention even when the collector has not pruned them', async () => {
  const path = join(await freshDir(), 'notify.db');
  const writer = NotifyStore.open(path, { nowMs: T0 });
  writer.record(
    [
      effect('192.0.2.1', 'CVE-2024-0001', T0),
      effect('192.0.2.2', 'CVE-2024-0001', T0 + 20 * DAY_MS),
    ],
    T0 + 20 * DAY_MS,
  );
  writer.close();
  const reader = NotifyStore.open(path, { nowMs: T0 + 40 * DAY_MS, readonly: true });
  assert.deepEqual(
    [...reader.entries()].map((e) => e.address),
    ['192.0.2.2'],
  );
  assert.throws(() => reader.prune(T0), TypeError);
  assert.throws(() => {
    reader.record([], T0);
  }, TypeError);
  reader.close();
});

test('NotifyStore bound: beyond maxRows the least recently seen rows are evicted first', async () => {
  const path = join(await freshDir(), 'notify.db');
  let store = NotifyStore.open(path, { nowMs: T0, maxRows: 3 });
  for (let i = 1; i <= 5; i++)
    store.record([effect(`192.0.2.${i}`, 'CVE-2024-0001', T0 + i)], T0 + i);
  assert.equal(store.size(), 3);
  // Re-seeing .3 makes it the most recent: .4 is evicted next, not .3.
  store.record(
    [effect('192.0.2.3', 'CVE-2024-0001', T0 + 10), effect('192.0.2.6', 'CVE-2024-0001', T0 + 11)],
    T0 + 11,
  );
  assert.deepEqual(
    [...store.entries()].map((e) => e.address),
    ['192.0.2.5', '192.0.2.3', '192.0.2.6'],
  );
  // One batch larger than the bound keeps the newest maxRows rows of it.
  store.record(
    [7, 8, 9, 10].map((i) => effect(`192.0.2.${i}`, 'CVE-2024-0001', T0 + 100 + i)),
    T0 + 200,
  );
  assert.equal(store.size(), 3);
  assert.deepEqual(
    [...store.entries()].map((e) => e.address),
    ['192.0.2.8', '192.0.2.9', '192.0.2.10'],
  );
  store.close();
  // A smaller bound at reopen applies at once.
  store = NotifyStore.open(path, { nowMs: T0 + 300, maxRows: 1 });
  assert.deepEqual(
    [...store.entries()].map((e) => e.address),
    ['192.0.2.10'],
  );
  store.close();
  assert.equal(NOTIFY_DEFAULTS.maxRows, 1_000_000);
});

test('NullNotifySink: notify off stores nothing and creates no file', async () => {
  const dir = await freshDir();
  const events = [
    effect('192.0.2.7', 'CVE-2019-17621', T0),
    effect('2001:db8::7', 'CVE-2019-17621', T0 + 1),
    effect('192.0.2.7', 'GHSA-abcd-efgh-ijkl', T0 + 2),
  ];
  const direct: NotifySink = new NullNotifySink();
  // The configuration path points into the directory: with notify off it must stay untouched.
  const configured = openNotifySink(
    { enabled: false, databasePath: join(dir, 'notify.db'), retentionSeconds: 30 * 86_400 },
    T0,
  );
  assert.ok(configured instanceof NullNotifySink);
  for (const sink of [direct, configured]) {
    for (let i = 0; i < 100; i++) sink.record(events, T0 + i);
    sink.close();
  }
  assert.deepEqual(
    await readdir(dir, { recursive: true }),
    [],
    'no file of any kind in the directory',
  );
});

test('NotifyStore enabled: the database holds exactly the documented table and columns, owner-only', async () => {
  const dir = await freshDir();
  const path = join(dir, 'notify.db');
  const sink = openNotifySink(
    { enabled: true, databasePath: path, retentionSeconds: 7 * 86_400 },
    T0,
  );
  sink.record(
    [effect('192.0.2.7', 'CVE-2019-17621', T0), effect('2001:db8::7', 'CVE-2019-17621', T0 + 1)],
    T0 + 1,
  );
  const db = new Database(path, { readonly: true });
  try {
    const objects = db
      .prepare(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
      )
      .all();
    assert.deepEqual(objects, [
      { type: 'index', name: 'notify_last_seen', tbl_name: NOTIFY_TABLE },
      { type: 'table', name: NOTIFY_TABLE, tbl_name: NOTIFY_TABLE },
    ]);
    const columns = db
      .prepare(`SELECT name, type FROM pragma_table_info('${NOTIFY_TABLE}') ORDER BY cid`)
      .all();
    assert.deepEqual(columns, [
      { name: 'address', type: 'TEXT' },
      { name: 'advisory', type: 'TEXT' },
      { name: 'first_seen_ms', type: 'INTEGER' },
      { name: 'last_seen_ms', type: 'INTEGER' },
      { name: 'count', type: 'INTEGER' },
    ]);
    assert.deepEqual(
      columns.map((c) => (c as { name: string }).name),
      [...NOTIFY_COLUMNS],
    );
    // Every value stored, in every table: only the addresses, advisory ids, times and counts sent.
    assert.deepEqual(db.prepare(`SELECT * FROM ${NOTIFY_TABLE} ORDER BY address`).all(), [
      {
        address: '192.0.2.7',
        advisory: 'CVE-2019-17621',
        first_seen_ms: T0,
        last_seen_ms: T0,
        count: 1,
      },
      {
        address: '2001:db8::7',
        advisory: 'CVE-2019-17621',
        first_seen_ms: T0 + 1,
        last_seen_ms: T0 + 1,
        count: 1,
      },
    ]);
    assert.equal(db.pragma('application_id', { simple: true }), NOTIFY_APPLICATION_ID);
  } finally {
    db.close();
  }
  sink.close();
  // The only files: the database (and while open, its WAL and shared-memory files), owner-only.
  const files = await readdir(dir);
  assert.deepEqual(
    files.filter((f) => f !== 'notify.db-wal' && f !== 'notify.db-shm'),
    ['notify.db'],
  );
  for (const f of files)
    assert.equal((await stat(join(dir, f))).mode & 0o077, 0, `${f} is readable by others`);
});

test('NotifyStore.open() refuses a feed database and a newer schema with NotifyStoreError naming the file', async () => {
  const dir = await freshDir();
  const other = join(dir, 'feed.db');
  const db = new Database(other);
  db.pragma('application_id = 1414812754'); // "TTLR", the feed database
  db.pragma('user_version = 1');
  db.exec('CREATE TABLE records (x)');
  db.close();
  assert.throws(
    () => NotifyStore.open(other, { nowMs: T0 }),
    (e) =>
      e instanceof NotifyStoreError && e.code === 'NOT_A_NOTIFY_DB' && e.message.includes(other),
  );
  const newer = join(dir, 'newer.db');
  NotifyStore.open(newer, { nowMs: T0 }).close();
  const raw = new Database(newer);
  raw.pragma('user_version = 2');
  raw.close();
  assert.throws(
    () => NotifyStore.open(newer, { nowMs: T0 }),
    (e) => e instanceof NotifyStoreError && e.code === 'SCHEMA_TOO_NEW',
  );
  const text = join(dir, 'text.db');
  await writeFile(
    text,
    'not sqlite at all, just some text that is long enough to be a header of a file',
  );
  assert.throws(
    () => NotifyStore.open(text, { nowMs: T0 }),
    (e) => e instanceof NotifyStoreError && e.code === 'NOT_A_NOTIFY_DB',
  );
  assert.throws(
    () => NotifyStore.open(join(dir, 'missing.db'), { nowMs: T0, readonly: true }),
    /cannot open the notify database/,
  );
  assert.deepEqual(
    (await readdir(dir)).includes('missing.db'),
    false,
    'a read-only open creates nothing',
  );
});

async function exportCli(
  argv: readonly string[],
  nowMs: number,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  };
  const collector = new Command('collector').addCommand(
    collectorNotifyCommand(io, { now: () => nowMs }),
  );
  const override = (command: Command): void => {
    command
      .exitOverride()
      .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
    command.commands.forEach(override);
  };
  override(collector);
  try {
    await collector.parseAsync(['notify', 'export', ...argv], { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CliExit) return { code: e.code, out, err };
    if (e instanceof CommanderError) return { code: e.exitCode, out, err };
    return { code: 1, out, err: `${err}tattler: ${e instanceof Error ? e.message : String(e)}\n` };
  }
}

test('tattler collector notify export: CSV and JSON, --since, retention, errors', async () => {
  const path = join(await freshDir(), 'notify.db');
  const store = NotifyStore.open(path, { nowMs: T0 });
  store.record(
    [effect('192.0.2.7', 'CVE-2019-17621', T0), effect('192.0.2.7', 'CVE-2019-17621', T0 + 1_000)],
    T0 + 1_000,
  );
  store.record([effect('2001:db8::7', 'vendor,id "1"', T0 + 2 * DAY_MS)], T0 + 2 * DAY_MS);
  store.close();
  const now = T0 + 3 * DAY_MS;

  const csv = await exportCli(['--db', path], now);
  assert.equal(csv.code, 0, csv.err);
  assert.equal(
    csv.out,
    'address,advisory,first_seen,last_seen,count\n' +
      '192.0.2.7,CVE-2019-17621,2025-01-01T00:00:00.000Z,2025-01-01T00:00:01.000Z,2\n' +
      '2001:db8::7,"vendor,id ""1""",2025-01-03T00:00:00.000Z,2025-01-03T00:00:00.000Z,1\n',
  );
  assert.match(csv.err, /exported 2 row\(s\)/);

  const json = await exportCli(['--db', path, '--format', 'json', '--since', '2d'], now);
  assert.equal(json.code, 0, json.err);
  assert.deepEqual(JSON.parse(json.out), [
    {
      address: '2001:db8::7',
      advisory: 'vendor,id "1"',
      firstSeen: '2025-01-03T00:00:00.000Z',
      lastSeen: '2025-01-03T00:00:00.000Z',
      count: 1,
    },
  ]);
  assert.deepEqual(
    JSON.parse((await exportCli(['--db', path, '--format', 'json', '--since', '1h'], now)).out),
    [],
  );

  // 31 days on, with the collector stopped, nothing older than the retention is exported.
  const late = await exportCli(['--db', path, '--format', 'json'], T0 + 31 * DAY_MS);
  assert.deepEqual(
    (JSON.parse(late.out) as { address: string }[]).map((e) => e.address),
    ['2001:db8::7'],
  );
  const shorter = await exportCli(['--db', path, '--retention', '12h'], now);
  assert.equal(shorter.out, 'address,advisory,first_seen,last_seen,count\n');

  const badSince = await exportCli(['--db', path, '--since', 'soon'], now);
  assert.equal(badSince.code, 1);
  assert.match(badSince.err, /--since: duration "soon": expected a number and a unit/);
  const badFormat = await exportCli(['--db', path, '--format', 'xml'], now);
  assert.notEqual(badFormat.code, 0);
  assert.match(badFormat.err, /Allowed choices are csv, json/);
  const noDb = await exportCli([], now);
  assert.notEqual(noDb.code, 0);
  assert.match(noDb.err, /--db <path>/);
  const missing = await exportCli(['--db', join(root, 'nowhere', 'notify.db')], now);
  assert.equal(missing.code, 1);
  assert.match(
    missing.err,
    /nowhere\/notify\.db: cannot open the notify database \(.*\); check --db/,
  );
});
