/**
 * The feed database (SQLite through better-sqlite3): schema, versioned records with provenance on
 * every row, the replace-if-not-older rule, and read access as a FeedReader. The only feed file
 * that touches the disk besides the import shell.
 * @module
 */
import Database from 'better-sqlite3';
import type { Interval } from '../protocol/index.ts';
import { isOlderRecord, type RecordVersion } from './record-version.ts';
import { canonicalVendor as canonicalVendorName, vendorAliasesOf } from './vendor-aliases.ts';
import type {
  Advisory,
  AffectedProduct,
  Confidence,
  FeedReader,
  FeedSource,
  KevEntry,
  ProductMatchRow,
  Provenance,
} from './types.ts';

/** The schema this code reads and writes (`PRAGMA user_version`). Bump with a migration. */
export const FEED_SCHEMA_VERSION = 1;

/** `PRAGMA application_id`: ASCII "TTLR", so another program's SQLite file is refused. */
export const FEED_APPLICATION_ID = 0x54544c52;

/** Page cache of the connection: 64 MiB (negative = KiB, SQLite docs), part of the import's RSS budget. */
const CACHE_SIZE_KIB = 65_536;

/** Why the store refused a database file. */
export type FeedStoreErrorCode =
  | 'NOT_A_FEED_DB' // not SQLite, or SQLite written by something else
  | 'SCHEMA_TOO_NEW' // written by a newer tattler: we do not guess at its meaning
  | 'CORRUPT'; // a row does not hold what we wrote

/** A database file the store cannot use; the message names the file and the fix. */
export class FeedStoreError extends Error {
  override readonly name = 'FeedStoreError';
  readonly code: FeedStoreErrorCode;
  constructor(code: FeedStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const SCHEMA = `
CREATE TABLE records (
  source TEXT NOT NULL, record_id TEXT NOT NULL,
  catalog_version TEXT, modified TEXT, imported_at_ms INTEGER NOT NULL,
  PRIMARY KEY (source, record_id)
) WITHOUT ROWID;
CREATE TABLE advisories (
  rowid INTEGER PRIMARY KEY,
  source TEXT NOT NULL, id TEXT NOT NULL,
  aliases TEXT NOT NULL, cvss REAL, published TEXT, remediation_urls TEXT NOT NULL,
  record_id TEXT NOT NULL, imported_at_ms INTEGER NOT NULL, catalog_version TEXT,
  UNIQUE (source, record_id, id)
);
CREATE TABLE products (
  rowid INTEGER PRIMARY KEY,
  advisory INTEGER NOT NULL REFERENCES advisories (rowid),
  vendor TEXT NOT NULL, model TEXT NOT NULL, hw_version TEXT,
  intervals TEXT NOT NULL, fixed TEXT NOT NULL, confidence TEXT NOT NULL, reason TEXT NOT NULL,
  source TEXT NOT NULL, record_id TEXT NOT NULL, imported_at_ms INTEGER NOT NULL, catalog_version TEXT
);
CREATE INDEX products_vendor_model ON products (vendor, model);
CREATE INDEX products_advisory ON products (advisory);
CREATE TABLE kev (
  cve TEXT PRIMARY KEY, date_added TEXT NOT NULL,
  source TEXT NOT NULL, record_id TEXT NOT NULL, imported_at_ms INTEGER NOT NULL,
  catalog_version TEXT, modified TEXT
) WITHOUT ROWID;
CREATE TABLE vendor_aliases (
  alias TEXT PRIMARY KEY, canonical TEXT NOT NULL,
  source TEXT NOT NULL, record_id TEXT NOT NULL, imported_at_ms INTEGER NOT NULL, catalog_version TEXT
) WITHOUT ROWID;
`;

/** One source record as the importer hands it over: everything it yielded, with its version. */
export interface StoredRecord {
  readonly source: Exclude<FeedSource, 'kev'>;
  /** NVD/OSV: the record id; CSAF: the document's tracking id (one document, many advisories). */
  readonly recordId: string;
  readonly version: RecordVersion;
  /** May be empty (an application-only CVE): older stored data of the record is still removed. */
  readonly advisories: readonly Advisory[];
}

/** What a write did: `older` means the stored data was newer and was kept. */
export type WriteOutcome = 'written' | 'older';

/** What `feed stats` shows. */
export interface FeedStats {
  readonly records: Readonly<Record<FeedSource, number>>;
  readonly advisories: Readonly<Record<FeedSource, number>>;
  readonly products: Readonly<Record<FeedSource, number>>;
  readonly vendors: number;
  readonly models: number;
  readonly kevEntries: number;
  /** Newest KEV catalogVersion stored, or null. */
  readonly kevCatalogVersion: string | null;
  readonly vendorAliases: number;
  /** Vendors with the most affected-product rows, most first. */
  readonly topVendors: readonly { readonly vendor: string; readonly models: number; readonly products: number }[];
  /** Epoch milliseconds of the newest import, or null for an empty database. */
  readonly lastImportMs: number | null;
}

/** How to open the database. */
export interface FeedStoreOptions {
  /** Open an existing database without writing (for `feed stats`, `check`). */
  readonly readonly?: boolean;
}

const SOURCES: readonly FeedSource[] = ['nvd', 'kev', 'osv', 'csaf'];

interface JoinedRow {
  readonly arow: number;
  readonly source: string;
  readonly id: string;
  readonly aliases: string;
  readonly cvss: number | null;
  readonly published: string | null;
  readonly remediation_urls: string;
  readonly record_id: string;
  readonly imported_at_ms: number;
  readonly catalog_version: string | null;
  readonly vendor: string;
  readonly model: string;
  readonly hw_version: string | null;
  readonly intervals: string;
  readonly fixed: string;
  readonly confidence: string;
  readonly reason: string;
  readonly kev: number;
}

const JOINED_COLUMNS = `
  a.rowid AS arow, a.source, a.id, a.aliases, a.cvss, a.published, a.remediation_urls,
  a.record_id, a.imported_at_ms, a.catalog_version,
  p.vendor, p.model, p.hw_version, p.intervals, p.fixed, p.confidence, p.reason,
  (EXISTS (SELECT 1 FROM kev WHERE kev.cve = a.id)
   OR EXISTS (SELECT 1 FROM json_each(a.aliases) AS j JOIN kev ON kev.cve = j.value)) AS kev`;

function isSource(value: string): value is FeedSource {
  return (SOURCES as readonly string[]).includes(value);
}

function corrupt(what: string): FeedStoreError {
  return new FeedStoreError('CORRUPT', `feed database: ${what}; re-import into a new --db`);
}

function stringsFromJson(text: string, what: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((x): x is string => typeof x === 'string')) throw corrupt(`${what} is not a list of strings`);
  return value;
}

function isBound(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

function intervalFromJson(value: unknown): Interval {
  if (typeof value !== 'object' || value === null) throw corrupt('an interval is not an object');
  const v = value as Readonly<Record<string, unknown>>;
  if (v.kind === 'exact' && typeof v.version === 'string') return { kind: 'exact', version: v.version };
  if (v.kind === 'exact-list' && typeof v.prefix === 'string' && Array.isArray(v.suffixes) && v.suffixes.every((s) => typeof s === 'string')) {
    return { kind: 'exact-list', prefix: v.prefix, suffixes: v.suffixes };
  }
  if (v.kind === 'range' && isBound(v.lower) && isBound(v.upper) && typeof v.lowerInclusive === 'boolean' && typeof v.upperInclusive === 'boolean') {
    return { kind: 'range', lower: v.lower, lowerInclusive: v.lowerInclusive, upper: v.upper, upperInclusive: v.upperInclusive };
  }
  throw corrupt('an interval has an unknown shape');
}

function intervalsFromJson(text: string): Interval[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) throw corrupt('intervals are not a list');
  return value.map(intervalFromJson);
}

function productOf(row: JoinedRow): AffectedProduct {
  if (row.confidence !== 'high' && row.confidence !== 'low') throw corrupt(`confidence ${JSON.stringify(row.confidence)}`);
  const confidence: Confidence = row.confidence;
  return {
    vendor: row.vendor,
    model: row.model,
    hwVersion: row.hw_version,
    intervals: intervalsFromJson(row.intervals),
    fixed: stringsFromJson(row.fixed, 'fixed'),
    confidence,
    reason: row.reason,
  };
}

/** Turns the rows of one advisory (all its products) into match rows, keeping those `keep` accepts. */
function groupRows(rows: readonly JoinedRow[], keep: (row: JoinedRow) => boolean): ProductMatchRow[] {
  const first = rows[0];
  if (first === undefined) return [];
  if (!isSource(first.source)) throw corrupt(`source ${JSON.stringify(first.source)}`);
  const products = rows.map(productOf);
  const advisory: Advisory = {
    source: first.source,
    id: first.id,
    aliases: stringsFromJson(first.aliases, 'aliases'),
    cvss: first.cvss,
    published: first.published,
    products,
    remediationUrls: stringsFromJson(first.remediation_urls, 'remediation urls'),
  };
  const provenance: Provenance = {
    source: first.source,
    recordId: first.record_id,
    importedAtMs: first.imported_at_ms,
    catalogVersion: first.catalog_version,
  };
  const out: ProductMatchRow[] = [];
  rows.forEach((row, i) => {
    const product = products[i];
    if (product !== undefined && keep(row)) out.push({ advisory, product, kev: row.kev !== 0, provenance });
  });
  return out;
}

function explainOpen(path: string, err: unknown): Error {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code === 'SQLITE_NOTADB') {
    return new FeedStoreError('NOT_A_FEED_DB', `${path}: not a SQLite database; pass a feed database written by "tattler feed import"`, { cause: err });
  }
  if (code === 'SQLITE_CANTOPEN') {
    return new Error(`${path}: cannot open the feed database (missing, or its directory is not writable); run "tattler feed import --db ${path}" first`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** One configured vendor alias as stored, with its provenance. */
export interface VendorAliasEntry {
  /** Canonical alias (`acmecams`). */
  readonly alias: string;
  /** The canonical vendor it stands for (`dlink`). */
  readonly canonical: string;
  /** Where it came from: `config` for aliases added by `tattler feed aliases add`. */
  readonly origin: string;
  /** What added it (the command, or a configuration file name). */
  readonly recordId: string;
  /** Epoch milliseconds when it was stored. */
  readonly importedAtMs: number;
  readonly catalogVersion: string | null;
}

/** The SQLite feed database: import writes through {@link FeedImport}, reads as a FeedReader. */
export class FeedStore implements FeedReader {
  readonly path: string;
  readonly #db: Database.Database;
  #aliases: Map<string, string> | undefined;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Opens (and, unless read-only, creates) the feed database at `path`. Throws FeedStoreError for a
   * file that is not ours or was written by a newer schema.
   */
  static open(path: string, options: FeedStoreOptions = {}): FeedStore {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
      FeedStore.#prepareSchema(path, db, options.readonly ?? false);
    } catch (err) {
      throw explainOpen(path, err);
    }
    return new FeedStore(path, db);
  }

  static #prepareSchema(path: string, db: Database.Database, readonly: boolean): void {
    const version = Number(db.pragma('user_version', { simple: true }));
    const applicationId = Number(db.pragma('application_id', { simple: true }));
    if (version === 0) {
      const tables = Number(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get());
      if (tables > 0 || applicationId !== 0) {
        throw new FeedStoreError('NOT_A_FEED_DB', `${path}: a SQLite database, but not a Tattler feed database; pass another --db`);
      }
      if (readonly) throw new FeedStoreError('NOT_A_FEED_DB', `${path}: an empty database; run "tattler feed import --db ${path}" first`);
      db.pragma('journal_mode = WAL');
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${FEED_APPLICATION_ID}`);
        db.pragma(`user_version = ${FEED_SCHEMA_VERSION}`);
      }).immediate();
    } else if (applicationId !== FEED_APPLICATION_ID) {
      throw new FeedStoreError('NOT_A_FEED_DB', `${path}: a SQLite database (user_version ${version}), but not a Tattler feed database; pass another --db`);
    } else if (version > FEED_SCHEMA_VERSION) {
      throw new FeedStoreError(
        'SCHEMA_TOO_NEW',
        `${path}: feed database schema version ${version}, this tattler reads up to ${FEED_SCHEMA_VERSION}; upgrade tattler, or import into a new --db`,
      );
    } else if (!readonly) {
      db.pragma('journal_mode = WAL');
    }
    // version < FEED_SCHEMA_VERSION cannot happen while there is one version; migrations go here.
    if (!readonly) db.pragma('synchronous = NORMAL');
  }

  /** Closes the connection. */
  close(): void {
    this.#db.close();
  }

  /**
   * Starts an import: one write transaction (`BEGIN IMMEDIATE`) that lasts until commit() or
   * rollback(), across any number of awaits. Readers keep seeing the previous data until commit.
   */
  beginImport(importedAtMs: number): FeedImport {
    return new FeedImport(this.#db, importedAtMs, () => {
      this.#aliases = undefined;
    });
  }

  /**
   * {@inheritDoc FeedReader.lookup} Rows stored under a configured alias of `vendor` (a source
   * vendor name configured after its import) are found too, as the in-memory index finds them.
   */
  lookup(vendor: string, model: string): ProductMatchRow[] {
    const out = this.#lookupStored(vendor, model);
    for (const [alias, target] of this.#configuredAliases()) if (target === vendor && alias !== vendor) out.push(...this.#lookupStored(alias, model));
    return out;
  }

  #lookupStored(vendor: string, model: string): ProductMatchRow[] {
    const rows = this.#statement(
      'lookup',
      `SELECT ${JOINED_COLUMNS} FROM products AS p JOIN advisories AS a ON a.rowid = p.advisory
       WHERE p.advisory IN (SELECT advisory FROM products WHERE vendor = ? AND model = ?)
       ORDER BY a.rowid, p.rowid`,
    ).all(vendor, model) as JoinedRow[];
    const out: ProductMatchRow[] = [];
    let start = 0;
    const keep = (row: JoinedRow): boolean => row.vendor === vendor && row.model === model;
    for (let i = 1; i <= rows.length; i++) {
      if (i === rows.length || rows[i]?.arow !== rows[start]?.arow) {
        out.push(...groupRows(rows.slice(start, i), keep));
        start = i;
      }
    }
    return out;
  }

  /**
   * {@inheritDoc FeedReader.rows} Streams from SQLite: the connection is busy until the iterator
   * is finished or returned, so do not call other methods of this store inside the loop.
   */
  *rows(): IterableIterator<ProductMatchRow> {
    const iterator = this.#statement(
      'rows',
      `SELECT ${JOINED_COLUMNS} FROM products AS p JOIN advisories AS a ON a.rowid = p.advisory ORDER BY a.rowid, p.rowid`,
    ).iterate() as IterableIterator<JoinedRow>;
    let group: JoinedRow[] = [];
    const all = (): boolean => true;
    for (const row of iterator) {
      if (group.length > 0 && group[0]?.arow !== row.arow) {
        yield* groupRows(group, all);
        group = [];
      }
      group.push(row);
    }
    yield* groupRows(group, all);
  }

  #configuredAliases(): ReadonlyMap<string, string> {
    this.#aliases ??= new Map(
      (this.#db.prepare('SELECT alias, canonical FROM vendor_aliases').all() as { alias: string; canonical: string }[]).map((r) => [r.alias, r.canonical]),
    );
    return this.#aliases;
  }

  /** The vendor aliases stored from configuration, with their provenance, sorted by alias. */
  vendorAliasEntries(): VendorAliasEntry[] {
    const rows = this.#db
      .prepare('SELECT alias, canonical, source, record_id, imported_at_ms, catalog_version FROM vendor_aliases ORDER BY alias')
      .all() as { alias: string; canonical: string; source: string; record_id: string; imported_at_ms: number; catalog_version: string | null }[];
    return rows.map((r) => ({ alias: r.alias, canonical: r.canonical, origin: r.source, recordId: r.record_id, importedAtMs: r.imported_at_ms, catalogVersion: r.catalog_version }));
  }

  /** {@inheritDoc FeedReader.vendorAliases} */
  vendorAliases(vendor: string): string[] {
    return vendorAliasesOf(vendor, this.#configuredAliases());
  }

  /** {@inheritDoc FeedReader.canonicalVendor} */
  canonicalVendor(vendor: string): string {
    const aliases = this.#configuredAliases();
    try {
      // Aliases stored in the database (configuration) first, then the built-in table.
      return canonicalVendorName(vendor, aliases);
    } catch {
      return vendor; // nothing left after canonicalisation: FeedReader says "or the input itself"
    }
  }

  /** Counts for `tattler feed stats`. */
  stats(options: { topVendors?: number } = {}): FeedStats {
    const db = this.#db;
    const bySource = (sql: string): Record<FeedSource, number> => {
      const counts: Record<FeedSource, number> = { nvd: 0, kev: 0, osv: 0, csaf: 0 };
      for (const row of db.prepare(sql).all() as { source: string; n: number }[]) {
        if (isSource(row.source)) counts[row.source] = row.n;
      }
      return counts;
    };
    const records = bySource('SELECT source, count(*) AS n FROM records GROUP BY source');
    const kevEntries = Number(db.prepare('SELECT count(*) FROM kev').pluck().get());
    records.kev = kevEntries;
    const lastImport = db
      .prepare(
        `SELECT max(t) FROM (SELECT max(imported_at_ms) AS t FROM records UNION ALL SELECT max(imported_at_ms) FROM kev
         UNION ALL SELECT max(imported_at_ms) FROM vendor_aliases)`,
      )
      .pluck()
      .get();
    const kevVersion = db.prepare('SELECT catalog_version FROM kev ORDER BY modified DESC, catalog_version DESC LIMIT 1').pluck().get();
    return {
      records,
      advisories: bySource('SELECT source, count(*) AS n FROM advisories GROUP BY source'),
      products: bySource('SELECT source, count(*) AS n FROM products GROUP BY source'),
      vendors: Number(db.prepare('SELECT count(DISTINCT vendor) FROM products').pluck().get()),
      models: Number(db.prepare('SELECT count(*) FROM (SELECT DISTINCT vendor, model FROM products)').pluck().get()),
      kevEntries,
      kevCatalogVersion: typeof kevVersion === 'string' ? kevVersion : null,
      vendorAliases: Number(db.prepare('SELECT count(*) FROM vendor_aliases').pluck().get()),
      topVendors: db
        .prepare(
          `SELECT vendor, count(DISTINCT model) AS models, count(*) AS products FROM products
           GROUP BY vendor ORDER BY products DESC, vendor LIMIT ?`,
        )
        .all(options.topVendors ?? 10) as { vendor: string; models: number; products: number }[],
      lastImportMs: typeof lastImport === 'number' ? lastImport : null,
    };
  }

  readonly #statements = new Map<string, Database.Statement>();

  #statement(name: string, sql: string): Database.Statement {
    let statement = this.#statements.get(name);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(name, statement);
    }
    return statement;
  }
}

/** Counts of what one import wrote. */
export interface ImportCounts {
  advisories: number;
  products: number;
  intervals: number;
  kevEntries: number;
  /** Records (or KEV entries) not applied because the database holds a newer version. */
  olderIgnored: number;
}

/**
 * One open import transaction. Every write goes through here; nothing is visible to other
 * connections until {@link FeedImport.commit}, and {@link FeedImport.rollback} leaves the database
 * exactly as it was.
 */
export class FeedImport {
  readonly importedAtMs: number;
  readonly counts: ImportCounts = { advisories: 0, products: 0, intervals: 0, kevEntries: 0, olderIgnored: 0 };
  readonly #db: Database.Database;
  readonly #onEnd: () => void;
  #open = true;
  readonly #getRecord: Database.Statement;
  readonly #putRecord: Database.Statement;
  readonly #deleteProducts: Database.Statement;
  readonly #deleteAdvisories: Database.Statement;
  readonly #putAdvisory: Database.Statement;
  readonly #putProduct: Database.Statement;
  readonly #newestKev: Database.Statement;
  readonly #putKev: Database.Statement;
  readonly #dropOlderKev: Database.Statement;

  /** Use FeedStore.beginImport(). */
  constructor(db: Database.Database, importedAtMs: number, onEnd: () => void) {
    if (!Number.isSafeInteger(importedAtMs)) throw new RangeError(`importedAtMs: expected an integer, got ${importedAtMs}`);
    this.#db = db;
    this.importedAtMs = importedAtMs;
    this.#onEnd = onEnd;
    this.#getRecord = db.prepare('SELECT catalog_version AS catalogVersion, modified FROM records WHERE source = ? AND record_id = ?');
    this.#putRecord = db.prepare('INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)');
    // Through the advisories' (source, record_id, id) index and products_advisory: no table scan.
    this.#deleteProducts = db.prepare('DELETE FROM products WHERE advisory IN (SELECT rowid FROM advisories WHERE source = ? AND record_id = ?)');
    this.#deleteAdvisories = db.prepare('DELETE FROM advisories WHERE source = ? AND record_id = ?');
    this.#putAdvisory = db.prepare(
      `INSERT OR REPLACE INTO advisories (source, id, aliases, cvss, published, remediation_urls, record_id, imported_at_ms, catalog_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#putProduct = db.prepare(
      `INSERT INTO products (advisory, vendor, model, hw_version, intervals, fixed, confidence, reason, source, record_id, imported_at_ms, catalog_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#newestKev = db.prepare('SELECT modified FROM kev WHERE modified IS NOT NULL ORDER BY modified DESC LIMIT 1').pluck();
    this.#putKev = db.prepare("INSERT OR REPLACE INTO kev VALUES (?, ?, 'kev', ?, ?, ?, ?)");
    this.#dropOlderKev = db.prepare('DELETE FROM kev WHERE modified IS NULL OR modified < ?');
    db.exec('BEGIN IMMEDIATE');
  }

  #assertOpen(): void {
    if (!this.#open) throw new TypeError('FeedImport: already committed or rolled back');
  }

  /**
   * Replaces the stored data of `record.source`/`record.recordId` with `record`, unless the
   * stored version is newer (then nothing changes and `older` is returned).
   */
  putRecord(record: StoredRecord): WriteOutcome {
    this.#assertOpen();
    const { source, recordId, version } = record;
    const stored = this.#getRecord.get(source, recordId) as RecordVersion | undefined;
    if (stored !== undefined && isOlderRecord(version, stored)) {
      this.counts.olderIgnored++;
      return 'older';
    }
    this.#deleteProducts.run(source, recordId);
    this.#deleteAdvisories.run(source, recordId);
    this.#putRecord.run(source, recordId, version.catalogVersion, version.modified, this.importedAtMs);
    for (const advisory of record.advisories) {
      if (advisory.source !== source) throw new TypeError(`putRecord: advisory ${advisory.id} has source ${advisory.source}, record has ${source}`);
      const { lastInsertRowid } = this.#putAdvisory.run(
        source,
        advisory.id,
        JSON.stringify(advisory.aliases),
        advisory.cvss,
        advisory.published,
        JSON.stringify(advisory.remediationUrls),
        recordId,
        this.importedAtMs,
        version.catalogVersion,
      );
      for (const p of advisory.products) {
        this.#putProduct.run(
          lastInsertRowid,
          p.vendor,
          p.model,
          p.hwVersion,
          JSON.stringify(p.intervals),
          JSON.stringify(p.fixed),
          p.confidence,
          p.reason,
          source,
          recordId,
          this.importedAtMs,
          version.catalogVersion,
        );
        this.counts.intervals += p.intervals.length;
      }
      this.counts.products += advisory.products.length;
      this.counts.advisories++;
    }
    return 'written';
  }

  /**
   * Applies one whole KEV catalog: ignored (all `older`) when the database holds a newer catalog;
   * otherwise its entries replace the stored ones and entries of older catalogs that this one no
   * longer lists are removed (CISA does withdraw entries).
   */
  putKevCatalog(entries: readonly KevEntry[], version: RecordVersion): WriteOutcome {
    this.#assertOpen();
    const newest = this.#newestKev.get();
    if (typeof newest === 'string' && isOlderRecord(version, { catalogVersion: null, modified: newest })) {
      this.counts.olderIgnored += entries.length;
      return 'older';
    }
    for (const e of entries) {
      this.#putKev.run(e.cve, e.dateAdded, e.cve, this.importedAtMs, version.catalogVersion, version.modified);
    }
    if (version.modified !== null) this.#dropOlderKev.run(version.modified);
    this.counts.kevEntries += entries.length;
    return 'written';
  }

  /** Adds or replaces vendor aliases (`alias` → `canonical`), with their origin as provenance. */
  putVendorAliases(pairs: readonly { alias: string; canonical: string }[], origin: { recordId: string; catalogVersion: string | null }): void {
    this.#assertOpen();
    const put = this.#db.prepare("INSERT OR REPLACE INTO vendor_aliases VALUES (?, ?, 'config', ?, ?, ?)");
    for (const { alias, canonical } of pairs) put.run(alias, canonical, origin.recordId, this.importedAtMs, origin.catalogVersion);
  }

  /** Makes every write of this import visible at once. */
  commit(): void {
    this.#assertOpen();
    this.#db.exec('COMMIT');
    this.#open = false;
    this.#onEnd();
  }

  /** Undoes every write of this import; safe to call after a failed commit or twice. */
  rollback(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#onEnd();
  }
}
