/**
 * The optional, off-by-default notify store (SQLite): which customer address was answered FAIL for
 * which advisory, when, and how often — for the ISP's customer-notification process, with the
 * retention and row bound enforced here. Nothing else is kept (docs/privacy.md).
 * @module
 */
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { formatIp, MAX_ADVISORY_ID_BYTES } from '../protocol/index.ts';

/** The schema this code reads and writes (`PRAGMA user_version`). Bump with a migration. */
export const NOTIFY_SCHEMA_VERSION = 1;

/** `PRAGMA application_id`: ASCII "TTLN", so a feed database (or anything else) is refused. */
export const NOTIFY_APPLICATION_ID = 0x54544c4e;

/** The one table of the store; docs/privacy.md documents it. */
export const NOTIFY_TABLE = 'notify';
/** The only columns of {@link NOTIFY_TABLE}, in order; docs/privacy.md lists the same. */
export const NOTIFY_COLUMNS = [
  'address',
  'advisory',
  'first_seen_ms',
  'last_seen_ms',
  'count',
] as const;

const DAY_MS = 86_400_000;

/**
 * Defaults of {@link NotifyStoreOptions}.
 *
 * Row bound, the arithmetic (WITHOUT ROWID b-tree plus the last-seen index, which repeats the key):
 * - worst case per row: address ≤ 39 bytes (RFC 5952 text of a full IPv6 address), advisory ≤ 48
 *   (MAX_ADVISORY_ID_BYTES), three integers ≤ 9 bytes each as varints, record header and cell
 *   pointer ~10 → ~125 bytes in the table, ~100 in the index (key + last seen); at the ~70 % fill
 *   of b-tree pages after random inserts that is ~320 bytes, so 1,000,000 rows ≤ ~320 MB on disk;
 * - typical (IPv4 text 7–15 bytes, `CVE-2024-12345` 14 bytes): ~60 + ~40 bytes → ~140 MB;
 * - memory does not grow with the rows: SQLite's page cache is capped at CACHE_SIZE_KIB and the
 *   store keeps one integer (the row count) of its own.
 */
export const NOTIFY_DEFAULTS = Object.freeze({
  /** Rows whose last sighting is older than this are deleted: 30 days (issue #5). */
  retentionMs: 30 * DAY_MS,
  /** Beyond this many rows the least recently seen are evicted first. */
  maxRows: 1_000_000,
});

/** Page cache of the connection: 8 MiB (negative = KiB, SQLite docs); bounds the store's memory. */
const CACHE_SIZE_KIB = 8_192;

/** WAL file kept at most this large after a checkpoint (journal_size_limit): 4 MiB. */
const WAL_LIMIT_BYTES = 4 * 1024 * 1024;

/** Why the store refused a database file. */
export type NotifyStoreErrorCode =
  | 'NOT_A_NOTIFY_DB' // not SQLite, or SQLite written by something else (a feed database, say)
  | 'SCHEMA_TOO_NEW' // written by a newer tattler: we do not guess at its meaning
  | 'CORRUPT'; // a row does not hold what we wrote

/** A database file the notify store cannot use; the message names the file and the fix. */
export class NotifyStoreError extends Error {
  override readonly name = 'NotifyStoreError';
  readonly code: NotifyStoreErrorCode;
  constructor(code: NotifyStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

// STRICT: SQLite itself refuses a value of another type. Only these five columns exist: no model,
// no version, no port, no request bytes (docs/privacy.md).
const SCHEMA = `
CREATE TABLE ${NOTIFY_TABLE} (
  address TEXT NOT NULL,
  advisory TEXT NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (address, advisory)
) STRICT, WITHOUT ROWID;
CREATE INDEX notify_last_seen ON ${NOTIFY_TABLE} (last_seen_ms);
`;

/**
 * One sighting to record, one row per advisory: the collector core's `{ kind: 'notify', … }` effect
 * (src/collector/core.ts) has this shape; its other fields (`kind`, `status`) are not stored.
 */
export interface NotifyEvent {
  /** The customer address the FAIL or WARN answer went to: 4 or 16 bytes. */
  readonly address: Uint8Array;
  /** The advisory ids of the answer (`CVE-2024-12345`, `GHSA-…`); none: nothing is stored. */
  readonly advisories: readonly string[];
  /** Epoch milliseconds of the sighting. */
  readonly atMs: number;
}

/** One stored row, as exported. */
export interface NotifyEntry {
  /** Dotted IPv4 or RFC 5952 IPv6 text (IPv4-mapped IPv6 is stored as IPv4). */
  readonly address: string;
  readonly advisory: string;
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  /** Sightings recorded for this (address, advisory) since `firstSeenMs`. */
  readonly count: number;
}

/** Where the collector shell sends the core's notify effects. */
export interface NotifySink {
  /** Records one batch of sightings; `nowMs` (epoch ms) also drives retention. */
  record(events: readonly NotifyEvent[], nowMs: number): void;
  /** Rows stored, for the metrics; `undefined` when nothing is stored here. */
  size(): number | undefined;
  /** Releases the file, if any. */
  close(): void;
}

/** The sink used when notify is off: it keeps nothing and opens no file. */
export class NullNotifySink implements NotifySink {
  /** Discards the batch (the parameters of {@link NotifySink.record} are ignored). */
  record(): void {
    // notify is off: not even in memory
  }

  /** Nothing is stored. */
  size(): undefined {
    return undefined;
  }

  /** Nothing to release. */
  close(): void {
    // no file, no connection
  }
}

/** How to open the notify store. */
export interface NotifyStoreOptions {
  /** Epoch milliseconds at open: expired rows are pruned (or, read-only, hidden) at once. */
  readonly nowMs: number;
  /** Default {@link NOTIFY_DEFAULTS}.retentionMs. */
  readonly retentionMs?: number;
  /** Default {@link NOTIFY_DEFAULTS}.maxRows. */
  readonly maxRows?: number;
  /** Open an existing store without writing (the export); expired rows are then filtered out. */
  readonly readonly?: boolean;
}

/** The notify part of the collector's configuration (`privacy.notify`, src/collector/config.ts). */
export interface NotifySinkConfig {
  readonly enabled: boolean;
  /** The SQLite file; may be null only while disabled. */
  readonly databasePath: string | null;
  readonly retentionSeconds: number;
  /** Default {@link NOTIFY_DEFAULTS}.maxRows. */
  readonly maxRows?: number;
}

/**
 * The sink for the collector's configuration: a {@link NullNotifySink} when notify is off (no file
 * is touched), else the store at `config.databasePath`, pruned to `nowMs`.
 */
export function openNotifySink(config: NotifySinkConfig, nowMs: number): NotifySink {
  if (!config.enabled) return new NullNotifySink();
  if (config.databasePath === null)
    throw new TypeError('notify: enabled without a databasePath (the config loader refuses this)');
  return NotifyStore.open(config.databasePath, {
    nowMs,
    retentionMs: config.retentionSeconds * 1000,
    ...(config.maxRows === undefined ? {} : { maxRows: config.maxRows }),
  });
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${name}: expected a positive integer, got ${value}`);
}

function assertTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name}: expected epoch milliseconds, got ${value}`);
}

const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Text of an address; IPv4-mapped IPv6 (RFC 4291 §2.5.5.2, from dual-stack sockets) as IPv4. */
function addressText(address: Uint8Array): string {
  if (address.byteLength !== 4 && address.byteLength !== 16) {
    throw new TypeError(`notify address: expected 4 or 16 bytes, got ${address.byteLength}`);
  }
  if (address.byteLength === 16 && IPV4_MAPPED_PREFIX.every((b, i) => address[i] === b))
    return formatIp(address.subarray(12));
  return formatIp(address);
}

const utf8 = new TextEncoder();

function assertAdvisory(advisory: string): void {
  const bytes = utf8.encode(advisory).byteLength;
  if (bytes === 0 || bytes > MAX_ADVISORY_ID_BYTES) {
    throw new TypeError(
      `notify advisory: expected 1–${MAX_ADVISORY_ID_BYTES} UTF-8 bytes, got ${bytes}`,
    );
  }
}

/** `opening`: the error came from opening the file (missing, a missing directory, permissions). */
function explainOpen(
  path: string,
  options: { readonly: boolean; opening: boolean },
  err: unknown,
): Error {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code === 'SQLITE_NOTADB') {
    return new NotifyStoreError(
      'NOT_A_NOTIFY_DB',
      `${path}: not a SQLite database; pass the notify database the collector writes (notify.path)`,
      { cause: err },
    );
  }
  if (options.opening || code === 'SQLITE_CANTOPEN') {
    const fix = options.readonly
      ? 'check --db: the collector creates it only when notify is enabled'
      : 'create its directory or make it writable for the collector';
    const why = err instanceof Error ? err.message : String(err);
    return new Error(`${path}: cannot open the notify database (${why}); ${fix}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

function isRow(
  row: unknown,
): row is {
  address: string;
  advisory: string;
  first_seen_ms: number;
  last_seen_ms: number;
  count: number;
} {
  if (typeof row !== 'object' || row === null) return false;
  const r = row as Readonly<Record<string, unknown>>;
  return (
    typeof r.address === 'string' &&
    typeof r.advisory === 'string' &&
    Number.isSafeInteger(r.first_seen_ms) &&
    Number.isSafeInteger(r.last_seen_ms) &&
    Number.isSafeInteger(r.count)
  );
}

/**
 * The SQLite notify store: one row per (address, advisory), retention and the row bound enforced on
 * open and on every write batch. One writing process per file (the row count is tracked here).
 */
export class NotifyStore implements NotifySink {
  readonly path: string;
  readonly retentionMs: number;
  readonly maxRows: number;
  readonly #db: Database.Database;
  readonly #readonly: boolean;
  /** Rows with `last_seen_ms` below this are expired: deleted when writable, hidden when read-only. */
  #cutoffMs = 0;
  /** Rows in the table (writable stores only; kept in step by every write). */
  #rows = 0;
  readonly #statements = new Map<string, Database.Statement>();

  private constructor(
    path: string,
    db: Database.Database,
    options: { retentionMs: number; maxRows: number; readonly: boolean },
  ) {
    this.path = path;
    this.#db = db;
    this.retentionMs = options.retentionMs;
    this.maxRows = options.maxRows;
    this.#readonly = options.readonly;
  }

  /**
   * Opens (and, unless read-only, creates with mode 0600) the store at `path`, then prunes it to
   * `nowMs`. Throws NotifyStoreError for a file that is not a notify store or is too new.
   */
  static open(path: string, options: NotifyStoreOptions): NotifyStore {
    const retentionMs = options.retentionMs ?? NOTIFY_DEFAULTS.retentionMs;
    const maxRows = options.maxRows ?? NOTIFY_DEFAULTS.maxRows;
    const readonly = options.readonly ?? false;
    assertTime('nowMs', options.nowMs);
    assertPositiveInteger('retentionMs', retentionMs);
    assertPositiveInteger('maxRows', maxRows);
    let db: Database.Database;
    try {
      // The file holds customer addresses: create it owner-only before SQLite does (SQLite gives
      // the -wal and -shm files the database file's permissions). 'a' never truncates.
      if (!readonly) closeSync(openSync(path, 'a', 0o600));
      db = new Database(path, { readonly, fileMustExist: readonly });
    } catch (err) {
      throw explainOpen(path, { readonly, opening: true }, err);
    }
    try {
      db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
      NotifyStore.#prepareSchema(path, db, readonly);
    } catch (err) {
      db.close();
      throw explainOpen(path, { readonly, opening: false }, err);
    }
    const store = new NotifyStore(path, db, { retentionMs, maxRows, readonly });
    if (readonly) {
      store.#cutoffMs = options.nowMs - retentionMs;
    } else {
      store.#rows = store.#count();
      store.#db
        .transaction(() => {
          store.#prune(options.nowMs);
          store.#evict();
        })
        .immediate();
    }
    return store;
  }

  static #prepareSchema(path: string, db: Database.Database, readonly: boolean): void {
    const version = Number(db.pragma('user_version', { simple: true }));
    const applicationId = Number(db.pragma('application_id', { simple: true }));
    if (version === 0) {
      const objects = Number(db.prepare('SELECT count(*) FROM sqlite_master').pluck().get());
      if (objects > 0 || applicationId !== 0) {
        throw new NotifyStoreError(
          'NOT_A_NOTIFY_DB',
          `${path}: a SQLite database, but not a Tattler notify database; choose another notify.path`,
        );
      }
      if (readonly)
        throw new NotifyStoreError(
          'NOT_A_NOTIFY_DB',
          `${path}: an empty database; the collector has not written it yet (is notify enabled?)`,
        );
      db.pragma('journal_mode = WAL');
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${NOTIFY_APPLICATION_ID}`);
        db.pragma(`user_version = ${NOTIFY_SCHEMA_VERSION}`);
      }).immediate();
    } else if (applicationId !== NOTIFY_APPLICATION_ID) {
      throw new NotifyStoreError(
        'NOT_A_NOTIFY_DB',
        `${path}: a SQLite database (user_version ${version}), but not a Tattler notify database; choose another path`,
      );
    } else if (version > NOTIFY_SCHEMA_VERSION) {
      throw new NotifyStoreError(
        'SCHEMA_TOO_NEW',
        `${path}: notify database schema version ${version}, this tattler reads up to ${NOTIFY_SCHEMA_VERSION}; upgrade tattler, or start a new notify.path`,
      );
    } else if (!readonly) {
      db.pragma('journal_mode = WAL');
    }
    // version < NOTIFY_SCHEMA_VERSION cannot happen while there is one version; migrations go here.
    if (!readonly) {
      db.pragma('synchronous = NORMAL');
      // Retention means the bytes are gone: deleted rows are overwritten with zeros, not left in
      // free pages; the WAL is truncated back to WAL_LIMIT_BYTES after each checkpoint.
      db.pragma('secure_delete = ON');
      db.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
    }
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
    if (this.#readonly) throw new TypeError(`NotifyStore.${what}: the store was opened read-only`);
  }

  #count(): number {
    return Number(this.#statement('count', `SELECT count(*) FROM ${NOTIFY_TABLE}`).pluck().get());
  }

  #prune(nowMs: number): number {
    this.#cutoffMs = nowMs - this.retentionMs;
    const { changes } = this.#statement(
      'prune',
      `DELETE FROM ${NOTIFY_TABLE} WHERE last_seen_ms < ?`,
    ).run(this.#cutoffMs);
    this.#rows -= changes;
    return changes;
  }

  #evict(): number {
    const excess = this.#rows - this.maxRows;
    if (excess <= 0) return 0;
    // Least recently seen first, through the notify_last_seen index.
    const { changes } = this.#statement(
      'evict',
      `DELETE FROM ${NOTIFY_TABLE} WHERE (address, advisory) IN
         (SELECT address, advisory FROM ${NOTIFY_TABLE} ORDER BY last_seen_ms, address, advisory LIMIT ?)`,
    ).run(excess);
    this.#rows -= changes;
    return changes;
  }

  /**
   * Deletes every row whose last sighting is more than the retention before `nowMs`; returns how
   * many. {@link record} and {@link open} call it too, so no timer is needed for retention.
   */
  prune(nowMs: number): number {
    this.#assertWritable('prune');
    assertTime('nowMs', nowMs);
    return this.#db.transaction(() => this.#prune(nowMs)).immediate();
  }

  /**
   * In one transaction: prunes to `nowMs`, adds or updates one row per (address, advisory) of the
   * batch (all input is checked first: a refused batch stores nothing) (sightings already past the retention are not stored), then evicts the least recently
   * seen rows beyond the bound.
   */
  record(events: readonly NotifyEvent[], nowMs: number): void {
    this.#assertWritable('record');
    assertTime('nowMs', nowMs);
    const rows = events.flatMap((event) => {
      assertTime('notify atMs', event.atMs);
      const address = addressText(event.address);
      // A sighting stamped after nowMs (a shell bug) must not outlive the retention.
      const atMs = Math.min(event.atMs, nowMs);
      return event.advisories.map((advisory) => {
        assertAdvisory(advisory);
        return { address, advisory, atMs };
      });
    });
    // RETURNING count is 1 only for a new row: the row count stays exact without a count(*).
    const upsert = this.#statement(
      'upsert',
      `INSERT INTO ${NOTIFY_TABLE} (address, advisory, first_seen_ms, last_seen_ms, count) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (address, advisory) DO UPDATE SET
         first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
         last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
         count = count + 1
       RETURNING count`,
    ).pluck();
    this.#db
      .transaction(() => {
        this.#prune(nowMs);
        for (const row of rows) {
          if (row.atMs < this.#cutoffMs) continue;
          if (upsert.get(row.address, row.advisory, row.atMs, row.atMs) === 1) this.#rows++;
        }
        this.#evict();
      })
      .immediate();
  }

  /** Rows currently stored (for a read-only store, including rows the collector has yet to prune). */
  size(): number {
    return this.#count();
  }

  /**
   * The unexpired rows last seen at or after `sinceMs`, least recently seen first. Streams from
   * SQLite: do not call other methods of this store inside the loop.
   */
  *entries(options: { readonly sinceMs?: number } = {}): IterableIterator<NotifyEntry> {
    const since = Math.max(options.sinceMs ?? 0, this.#cutoffMs);
    const rows = this.#statement(
      'entries',
      `SELECT ${NOTIFY_COLUMNS.join(', ')} FROM ${NOTIFY_TABLE} WHERE last_seen_ms >= ? ORDER BY last_seen_ms, address, advisory`,
    ).iterate(since);
    for (const row of rows) {
      if (!isRow(row))
        throw new NotifyStoreError(
          'CORRUPT',
          `${this.path}: a row does not hold what tattler wrote; delete the file (the collector recreates it)`,
        );
      yield {
        address: row.address,
        advisory: row.advisory,
        firstSeenMs: row.first_seen_ms,
        lastSeenMs: row.last_seen_ms,
        count: row.count,
      };
    }
  }

  /** Closes the connection (SQLite checkpoints and removes the WAL when it is the last one). */
  close(): void {
    this.#db.close();
  }
}
