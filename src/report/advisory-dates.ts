/**
 * Reads when each advisory was first published from the feed import database (src/feed/store.ts,
 * `advisories.published`), for the report's "days since advisory". A shell: opens SQLite read-only.
 * @module
 */
import Database from 'better-sqlite3';
import { FEED_APPLICATION_ID, FEED_SCHEMA_VERSION } from '../feed/store.ts';

/** Why the feed database could not be read. */
export type AdvisoryDatesErrorCode =
  | 'OPEN_FAILED' // missing or unreadable
  | 'NOT_A_FEED_DB' // not SQLite, or not written by `tattler feed import`
  | 'SCHEMA_TOO_NEW' // written by a newer tattler
  | 'CORRUPT'; // a row does not hold what the importer writes

/** A feed database the report cannot read dates from; the message names the file and the fix. */
export class AdvisoryDatesError extends Error {
  override readonly name = 'AdvisoryDatesError';
  readonly code: AdvisoryDatesErrorCode;
  constructor(code: AdvisoryDatesErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}/;

function isAdvisoryRow(row: unknown): row is { id: string; aliases: string; published: string } {
  if (typeof row !== 'object' || row === null) return false;
  const r = row as Readonly<Record<string, unknown>>;
  return typeof r.id === 'string' && typeof r.aliases === 'string' && typeof r.published === 'string';
}

function aliasesOf(json: string): string[] | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
}

function open(path: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new AdvisoryDatesError(
      'OPEN_FAILED',
      `${path}: cannot open the feed database (${why}); pass the --db file of "tattler feed import"`,
      { cause: err },
    );
  }
  try {
    const applicationId = Number(db.pragma('application_id', { simple: true }));
    const version = Number(db.pragma('user_version', { simple: true }));
    if (applicationId !== FEED_APPLICATION_ID)
      throw new AdvisoryDatesError(
        'NOT_A_FEED_DB',
        `${path}: not a Tattler feed database; pass the --db file of "tattler feed import"`,
      );
    if (version > FEED_SCHEMA_VERSION)
      throw new AdvisoryDatesError(
        'SCHEMA_TOO_NEW',
        `${path}: feed database schema version ${version}, this tattler reads up to ${FEED_SCHEMA_VERSION}; upgrade tattler`,
      );
  } catch (err) {
    db.close();
    if (err instanceof AdvisoryDatesError) throw err;
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    if (code === 'SQLITE_NOTADB')
      throw new AdvisoryDatesError(
        'NOT_A_FEED_DB',
        `${path}: not a SQLite database; pass the --db file of "tattler feed import"`,
        { cause: err },
      );
    throw err;
  }
  return db;
}

/**
 * Advisory id → the earliest ISO date (`YYYY-MM-DD`) any source published it on; each alias (the
 * CVE of an OSV or CSAF advisory) maps to its earliest date too. Advisories without a date are left out.
 * @example loadAdvisoryDates('feed.db').get('CVE-2018-14933') // '2018-08-04'
 */
export function loadAdvisoryDates(feedDbPath: string): Map<string, string> {
  const db = open(feedDbPath);
  const dates = new Map<string, string>();
  const note = (id: string, day: string): void => {
    const known = dates.get(id);
    // ISO dates compare as text.
    if (known === undefined || day < known) dates.set(id, day);
  };
  try {
    const rows = db.prepare('SELECT id, aliases, published FROM advisories WHERE published IS NOT NULL').iterate();
    for (const row of rows) {
      if (!isAdvisoryRow(row)) throw corrupt(feedDbPath);
      const aliases = aliasesOf(row.aliases);
      if (aliases === null) throw corrupt(feedDbPath);
      if (!ISO_DAY.test(row.published)) continue;
      const day = row.published.slice(0, 10);
      note(row.id, day);
      for (const alias of aliases) note(alias, day);
    }
  } finally {
    db.close();
  }
  return dates;
}

function corrupt(path: string): AdvisoryDatesError {
  return new AdvisoryDatesError(
    'CORRUPT',
    `${path}: an advisory row does not hold what "tattler feed import" writes; re-import into a new --db`,
  );
}
