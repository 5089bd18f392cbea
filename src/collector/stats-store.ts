/**
 * The collector's stats store (SQLite, docs/privacy.md §"The stats store"): the aggregate counts
 * of aggregate-counts.ts summed per hour, so the vendor report (`tattler report vendors`) can span
 * restarts and weeks. No address, no device, no time finer than the hour; retention enforced here.
 * @module
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AggregateCounts,
  BucketCount,
  CountedStatus,
  IdentifiedCount,
} from './aggregate-counts.ts';

/** The schema this code reads and writes (`PRAGMA user_version` and `meta.schema_version`). */
export const STATS_SCHEMA_VERSION = 1;

/** `PRAGMA application_id`: ASCII "TTLS", so a feed or notify database (or anything else) is refused. */
export const STATS_APPLICATION_ID = 0x54544c53;

/** One row per hour: the counts of the hour starting at a multiple of 3600 epoch seconds. */
export const STATS_HOUR_SECONDS = 3600;

const DAY_SECONDS = 86_400;

/**
 * Defaults of the stats store.
 *
 * Size, the arithmetic: a row is ~40 bytes (hour varint, vendor and model ≤ 64 bytes each but
 * typically ~10, status, count) and an hour has at most 4 rows per (vendor, model) announced in
 * it plus ≤ 4096 bucket rows of ~15 bytes. A busy collector with 1,000 announced models and every
 * bucket seen writes ~4,000 + 4,096 rows an hour, ~0.2 MB; 400 days ≈ 9,600 hours ≈ 2 GB in the
 * worst case, far less in practice (a model is counted in an hour only when it announced).
 */
export const STATS_DEFAULTS = Object.freeze({
  /** Hours older than this are deleted by {@link StatsStore.prune}: 400 days (a year and a margin). */
  retentionSeconds: 400 * DAY_SECONDS,
});

/** Page cache of the connection: 4 MiB (negative = KiB, SQLite docs); bounds the store's memory. */
const CACHE_SIZE_KIB = 4_096;

/** WAL file kept at most this large after a checkpoint (journal_size_limit): 4 MiB. */
const WAL_LIMIT_BYTES = 4 * 1024 * 1024;

/** Why the store refused a file. */
export type StatsStoreErrorCode =
  | 'NOT_A_STATS_STORE' // not SQLite, SQLite written by something else, or (read-only) empty
  | 'SCHEMA_VERSION' // a stats store of another schema version: we do not guess at its meaning
  | 'OPEN_FAILED' // the file or its directory cannot be created or opened
  | 'CORRUPT'; // a row does not hold what we wrote

/** A stats file the store cannot use; the message names the file and the fix. */
export class StatsStoreError extends Error {
  override readonly name = 'StatsStoreError';
  readonly code: StatsStoreErrorCode;
  constructor(code: StatsStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE identified (
  hour INTEGER NOT NULL, vendor TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (hour, vendor, model, status)
) WITHOUT ROWID;
CREATE TABLE private (
  hour INTEGER NOT NULL, bucket TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (hour, bucket)
) WITHOUT ROWID;
`;

/** How to open the stats store. */
export interface StatsStoreOptions {
  /** Hours that ended more than this before `prune(nowSeconds)` are deleted. */
  readonly retentionSeconds: number;
  /** Open an existing store without writing (the report); `record` and `prune` then throw. */
  readonly readOnly?: boolean;
}

/**
 * The span a query covers, epoch seconds: the start of the first hour present and the end of the
 * last; both null when no hour is. The same shape as the report's `ReportWindow` (report/types.ts),
 * declared here so the collector does not import the report.
 */
export interface StatsWindow {
  readonly fromSeconds: number | null;
  readonly toSeconds: number | null;
}

/** The counts of a time span, and the span. */
export type StatsQuery = AggregateCounts & { readonly window: StatsWindow };

/** The collector's hourly aggregate counts on disk. */
export interface StatsStore {
  /** The file. */
  readonly path: string;
  /**
   * Adds what `snapshot` (cumulative since the process started) counted since the previous call
   * to the hour containing `nowSeconds`, in one transaction. A count lower than before means its
   * counter was reset (the process restarted): its whole new value is added. One process only:
   * for the sum over several, use {@link recordSources}.
   */
  record(snapshot: AggregateCounts, nowSeconds: number): void;
  /**
   * Like {@link record} for several counting processes (a cluster's workers): `snapshots` maps a
   * source id (e.g. worker id and pid, so a re-forked worker starts from zero) to that source's
   * cumulative counts, and the sum of the per-source deltas is added. A source absent from
   * `snapshots` adds nothing this time; its growth is counted at the next call it is part of.
   */
  recordSources(snapshots: ReadonlyMap<string, AggregateCounts>, nowSeconds: number): void;
  /** Sums of the hours from the one containing `sinceSeconds` on (`null`: every hour kept). */
  query(sinceSeconds: number | null): StatsQuery;
  /** Deletes the hours that ended more than the retention before `nowSeconds`; returns rows deleted. */
  prune(nowSeconds: number): number;
  /** Releases the file. */
  close(): void;
}

const STATUSES: readonly CountedStatus[] = ['pass', 'fail', 'warn', 'unknown'];
const BUCKET = /^[0-9a-f]{3}$/;
/** Longest vendor or model label stored: the wire limit of a canonical name is 64 bytes; "(unlisted)" fits. */
const MAX_LABEL_CHARACTERS = 64;

function assertSeconds(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name}: expected whole epoch seconds ≥ 0, got ${value}`);
}

function assertCount(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${what}: expected a whole count ≥ 0, got ${value}`);
}

function assertLabel(what: string, value: string): void {
  if (value.length === 0 || value.length > MAX_LABEL_CHARACTERS)
    throw new RangeError(`${what}: expected 1–${MAX_LABEL_CHARACTERS} characters, got ${value.length}`);
}

function hourOf(seconds: number): number {
  return Math.floor(seconds / STATS_HOUR_SECONDS) * STATS_HOUR_SECONDS;
}

function identifiedKey(count: IdentifiedCount): string {
  return `${count.vendor}\0${count.model}\0${count.status}`;
}

/** One delta to write, checked before the transaction: a refused snapshot writes nothing. */
interface Delta {
  readonly key: string;
  readonly value: number;
  readonly delta: number;
}

/**
 * Sources whose previous snapshot is kept: a cluster has ≤ 64 workers, and each re-fork adds a
 * source id; 256 leaves room for 192 restarts within {@link SOURCE_FORGET_SECONDS}.
 */
const MAX_SOURCES = 256;
/** A source absent this long is forgotten (its process is gone): a day, far above any scrape gap. */
const SOURCE_FORGET_SECONDS = 86_400;

/** The source id of {@link StatsStore.record}: the single process. */
const SINGLE_SOURCE = '';

/** One source's previous snapshot, keyed as {@link identifiedKey} and by bucket. */
interface SourceState {
  readonly identified: ReadonlyMap<string, number>;
  readonly private: ReadonlyMap<string, number>;
  readonly seenSeconds: number;
}

/** Per key: the growth since `previous`; a smaller value means the counter was reset. */
function deltasOf(previous: ReadonlyMap<string, number>, current: ReadonlyMap<string, number>): Delta[] {
  const deltas: Delta[] = [];
  for (const [key, value] of current) {
    const before = previous.get(key) ?? 0;
    const delta = value >= before ? value - before : value;
    if (delta > 0) deltas.push({ key, value, delta });
  }
  return deltas;
}

/** Adds `deltas` into `into`, per key. */
function addDeltas(into: Map<string, number>, deltas: readonly Delta[]): void {
  for (const { key, delta } of deltas) into.set(key, (into.get(key) ?? 0) + delta);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isIdentifiedRow(row: unknown): row is { vendor: string; model: string; status: CountedStatus; count: number } {
  if (typeof row !== 'object' || row === null) return false;
  const r = row as Readonly<Record<string, unknown>>;
  return (
    typeof r.vendor === 'string' &&
    typeof r.model === 'string' &&
    typeof r.status === 'string' &&
    (STATUSES as readonly string[]).includes(r.status) &&
    Number.isSafeInteger(r.count)
  );
}

function isPrivateRow(row: unknown): row is { bucket: string; count: number } {
  if (typeof row !== 'object' || row === null) return false;
  const r = row as Readonly<Record<string, unknown>>;
  return typeof r.bucket === 'string' && Number.isSafeInteger(r.count);
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
}

function explainOpen(path: string, readOnly: boolean, err: unknown): StatsStoreError {
  if (err instanceof StatsStoreError) return err;
  if (errorCode(err) === 'SQLITE_NOTADB')
    return new StatsStoreError(
      'NOT_A_STATS_STORE',
      `${path}: not a SQLite database; pass the stats database the collector writes (stats.database)`,
      { cause: err },
    );
  const why = err instanceof Error ? err.message : String(err);
  const fix = readOnly
    ? 'check the path: the collector creates it when stats.database is configured'
    : 'create its directory or make it writable for the collector';
  return new StatsStoreError('OPEN_FAILED', `${path}: cannot open the stats database (${why}); ${fix}`, {
    cause: err,
  });
}

function prepareSchema(path: string, db: Database.Database, readOnly: boolean): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  const applicationId = Number(db.pragma('application_id', { simple: true }));
  if (version === 0 && applicationId === 0) {
    const objects = Number(db.prepare('SELECT count(*) FROM sqlite_master').pluck().get());
    if (objects > 0)
      throw new StatsStoreError(
        'NOT_A_STATS_STORE',
        `${path}: a SQLite database, but not a Tattler stats database; choose another stats.database`,
      );
    if (readOnly)
      throw new StatsStoreError(
        'NOT_A_STATS_STORE',
        `${path}: an empty database; the collector has not written it yet (is stats configured?)`,
      );
    db.pragma('journal_mode = WAL');
    db.transaction(() => {
      db.exec(SCHEMA);
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(STATS_SCHEMA_VERSION));
      db.pragma(`application_id = ${STATS_APPLICATION_ID}`);
      db.pragma(`user_version = ${STATS_SCHEMA_VERSION}`);
    }).immediate();
  } else if (applicationId !== STATS_APPLICATION_ID) {
    throw new StatsStoreError(
      'NOT_A_STATS_STORE',
      `${path}: a SQLite database, but not a Tattler stats database (application id ${applicationId}); choose another path`,
    );
  } else {
    const meta = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
    if (version !== STATS_SCHEMA_VERSION || meta !== String(STATS_SCHEMA_VERSION))
      throw new StatsStoreError(
        'SCHEMA_VERSION',
        `${path}: stats database schema version ${version}, this tattler reads version ${STATS_SCHEMA_VERSION}; use the matching tattler, or start a new stats.database`,
      );
    if (!readOnly) db.pragma('journal_mode = WAL');
  }
  if (!readOnly) {
    db.pragma('synchronous = NORMAL');
    // Retention means the bytes are gone: deleted rows are zeroed, and the WAL is truncated.
    db.pragma('secure_delete = ON');
    db.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
  }
}

/**
 * Opens (and, unless read-only, creates with mode 0600, its directory too) the stats store at
 * `path`. Throws {@link StatsStoreError} for a file that is not a stats store of this schema.
 * @example const store = openStatsStore('stats.db', { retentionSeconds: 400 * 86400 })
 */
export function openStatsStore(path: string, options: StatsStoreOptions): StatsStore {
  const readOnly = options.readOnly ?? false;
  if (!Number.isSafeInteger(options.retentionSeconds) || options.retentionSeconds <= 0)
    throw new RangeError(`retentionSeconds: expected a positive whole number, got ${options.retentionSeconds}`);
  let db: Database.Database;
  try {
    if (!readOnly) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create it owner-only before SQLite does (SQLite gives -wal and -shm the file's mode); 'a' never truncates.
      closeSync(openSync(path, 'a', 0o600));
    }
    db = new Database(path, { readonly: readOnly, fileMustExist: readOnly });
  } catch (err) {
    throw explainOpen(path, readOnly, err);
  }
  try {
    db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
    prepareSchema(path, db, readOnly);
  } catch (err) {
    db.close();
    throw explainOpen(path, readOnly, err);
  }
  return new SqliteStatsStore(path, db, { retentionSeconds: options.retentionSeconds, readOnly });
}

/** The SQLite {@link StatsStore}. One writing process per file (it keeps the previous snapshots). */
class SqliteStatsStore implements StatsStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #retentionSeconds: number;
  readonly #readOnly: boolean;
  /** Each source's previous snapshot, least recently seen first; empty at start. */
  readonly #sources = new Map<string, SourceState>();
  readonly #statements = new Map<string, Database.Statement>();

  constructor(path: string, db: Database.Database, options: { retentionSeconds: number; readOnly: boolean }) {
    this.path = path;
    this.#db = db;
    this.#retentionSeconds = options.retentionSeconds;
    this.#readOnly = options.readOnly;
  }

  #statement(name: string, sql: string): Database.Statement {
    let statement = this.#statements.get(name);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(name, statement);
    }
    return statement;
  }

  #assertWritable(what: string): void {
    if (this.#readOnly) throw new TypeError(`StatsStore.${what}: the store was opened read-only`);
  }

  record(snapshot: AggregateCounts, nowSeconds: number): void {
    this.recordSources(new Map([[SINGLE_SOURCE, snapshot]]), nowSeconds);
  }

  recordSources(snapshots: ReadonlyMap<string, AggregateCounts>, nowSeconds: number): void {
    this.#assertWritable('recordSources');
    assertSeconds('nowSeconds', nowSeconds);
    // Everything is checked before the transaction: a refused snapshot writes nothing.
    const next = new Map<string, SourceState>();
    const labels = new Map<string, IdentifiedCount>();
    const identifiedDeltas = new Map<string, number>();
    const privateDeltas = new Map<string, number>();
    for (const [source, snapshot] of snapshots) {
      const identified = new Map<string, number>();
      for (const count of snapshot.identified) {
        assertLabel('identified vendor', count.vendor);
        assertLabel('identified model', count.model);
        if (!STATUSES.includes(count.status)) throw new RangeError(`identified status: ${count.status}`);
        assertCount(`identified ${count.vendor} ${count.model} ${count.status}`, count.count);
        const key = identifiedKey(count);
        identified.set(key, (identified.get(key) ?? 0) + count.count);
        labels.set(key, count);
      }
      const buckets = new Map<string, number>();
      for (const count of snapshot.private) {
        if (!BUCKET.test(count.bucket)) throw new RangeError(`private bucket: expected 3 lower-case hex digits, got ${count.bucket}`);
        assertCount(`private ${count.bucket}`, count.count);
        buckets.set(count.bucket, (buckets.get(count.bucket) ?? 0) + count.count);
      }
      const previous = this.#sources.get(source);
      addDeltas(identifiedDeltas, deltasOf(previous?.identified ?? new Map(), identified));
      addDeltas(privateDeltas, deltasOf(previous?.private ?? new Map(), buckets));
      next.set(source, { identified, private: buckets, seenSeconds: nowSeconds });
    }
    const hour = hourOf(nowSeconds);
    const addIdentified = this.#statement(
      'add-identified',
      `INSERT INTO identified (hour, vendor, model, status, count) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (hour, vendor, model, status) DO UPDATE SET count = count + excluded.count`,
    );
    const addPrivate = this.#statement(
      'add-private',
      `INSERT INTO private (hour, bucket, count) VALUES (?, ?, ?)
       ON CONFLICT (hour, bucket) DO UPDATE SET count = count + excluded.count`,
    );
    this.#db
      .transaction(() => {
        for (const [key, delta] of identifiedDeltas) {
          const label = labels.get(key);
          if (label !== undefined) addIdentified.run(hour, label.vendor, label.model, label.status, delta);
        }
        for (const [key, delta] of privateDeltas) addPrivate.run(hour, key, delta);
      })
      .immediate();
    // Only after the commit: a failed write is retried with the next snapshot's larger deltas.
    for (const [source, state] of next) {
      this.#sources.delete(source); // re-inserted last: the map stays in order of last seen
      this.#sources.set(source, state);
    }
    for (const [source, state] of this.#sources) {
      if (this.#sources.size <= MAX_SOURCES && nowSeconds - state.seenSeconds < SOURCE_FORGET_SECONDS) break;
      this.#sources.delete(source);
    }
  }

  query(sinceSeconds: number | null): StatsQuery {
    if (sinceSeconds !== null) assertSeconds('sinceSeconds', sinceSeconds);
    const from = sinceSeconds === null ? 0 : hourOf(sinceSeconds);
    const identified: IdentifiedCount[] = [];
    for (const row of this.#statement(
      'sum-identified',
      'SELECT vendor, model, status, sum(count) AS count FROM identified WHERE hour >= ? GROUP BY vendor, model, status',
    ).iterate(from)) {
      if (!isIdentifiedRow(row)) throw this.#corrupt();
      if (row.count > 0) identified.push({ vendor: row.vendor, model: row.model, status: row.status, count: row.count });
    }
    const buckets: BucketCount[] = [];
    for (const row of this.#statement(
      'sum-private',
      'SELECT bucket, sum(count) AS count FROM private WHERE hour >= ? GROUP BY bucket',
    ).iterate(from)) {
      if (!isPrivateRow(row)) throw this.#corrupt();
      if (row.count > 0) buckets.push({ bucket: row.bucket, count: row.count });
    }
    identified.sort(
      (a, b) => compareText(a.vendor, b.vendor) || compareText(a.model, b.model) || compareText(a.status, b.status),
    );
    buckets.sort((a, b) => compareText(a.bucket, b.bucket));
    const span: unknown = this.#statement(
      'span',
      `SELECT min(hour) AS first, max(hour) AS last FROM
         (SELECT hour FROM identified WHERE hour >= ? UNION ALL SELECT hour FROM private WHERE hour >= ?)`,
    ).get(from, from);
    const { first, last } =
      typeof span === 'object' && span !== null ? (span as { first: unknown; last: unknown }) : { first: null, last: null };
    const window: StatsWindow =
      Number.isSafeInteger(first) && Number.isSafeInteger(last)
        ? { fromSeconds: Number(first), toSeconds: Number(last) + STATS_HOUR_SECONDS }
        : { fromSeconds: null, toSeconds: null };
    return { identified, private: buckets, window };
  }

  prune(nowSeconds: number): number {
    this.#assertWritable('prune');
    assertSeconds('nowSeconds', nowSeconds);
    // An hour is deleted once it ended more than the retention ago: hour + 3600 <= now - retention.
    const before = nowSeconds - this.#retentionSeconds - STATS_HOUR_SECONDS;
    const deleted = this.#db
      .transaction(() => {
        const a = this.#statement('prune-identified', 'DELETE FROM identified WHERE hour <= ?').run(before);
        const b = this.#statement('prune-private', 'DELETE FROM private WHERE hour <= ?').run(before);
        return a.changes + b.changes;
      })
      .immediate();
    // secure_delete zeroes the pages in the database file, but the WAL still holds the frames
    // written before the delete: copy them back and truncate the WAL (SQLite docs, wal_checkpoint).
    if (deleted > 0) this.#db.pragma('wal_checkpoint(TRUNCATE)');
    return deleted;
  }

  #corrupt(): StatsStoreError {
    return new StatsStoreError(
      'CORRUPT',
      `${this.path}: a row does not hold what tattler wrote; move the file aside (the collector starts a new one)`,
    );
  }

  close(): void {
    this.#db.close();
  }
}
