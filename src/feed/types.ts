/**
 * The feed's own types: what every importer produces from untrusted files (NVD, KEV, OSV, CSAF)
 * and what the store, the matcher and the publisher consume. Nothing here knows any source format.
 * @module
 */
import type { Interval } from '../protocol/index.ts';

/** Where a record came from. */
export type FeedSource = 'nvd' | 'kev' | 'osv' | 'csaf';

/** Why a source record, or part of one, was skipped; counted in the import summary. */
export type FeedErrorCode =
  | 'BAD_JSON' // the file is not JSON, or not the expected top-level shape
  | 'BAD_RECORD' // a record lacks required fields or has the wrong types
  | 'BAD_CPE' // a CPE 2.3 formatted string does not parse (NISTIR 7695 §6.2)
  | 'BAD_VERSION' // a version bound is empty or too long
  | 'NOT_A_DEVICE' // nothing in the record names hardware (application-only CVE): not an error, counted
  | 'TOO_LARGE'; // a record or file exceeds a limit

/** An input problem in one record: file, record id or JSON path, and what was wrong. */
export class FeedError extends Error {
  override readonly name = 'FeedError';
  readonly code: FeedErrorCode;
  /** File the record came from. */
  readonly file: string;
  /** CVE id, advisory id, or a JSON path such as `$.vulnerabilities[12]`. */
  readonly record: string;
  constructor(code: FeedErrorCode, where: { file: string; record: string }, message: string, options?: ErrorOptions) {
    super(`${where.file}: ${where.record}: ${message}`, options);
    this.code = code;
    this.file = where.file;
    this.record = where.record;
  }
}

/** How sure the importer is that the versions are right. */
export type Confidence = 'high' | 'low';

/**
 * One affected device product of one advisory: canonical vendor and model (canonicalName of
 * protocol/canonical.ts), the affected firmware versions as wire intervals, and how they were
 * derived. An NVD AND-configuration `o:vendor:x_firmware` + `h:vendor:x` yields model `x` with the
 * firmware's versions; an OR of several hardware CPEs yields one row per model.
 */
export interface AffectedProduct {
  readonly vendor: string;
  readonly model: string;
  /** Affected hardware revision, when the source names one (hardware CPE version, CSAF branch); else null = any. */
  readonly hwVersion: string | null;
  /** Affected software versions: exact versions and intervals, never widened. Empty = none known. */
  readonly intervals: readonly Interval[];
  /** Versions the source names as fixed (OSV `fixed`, CSAF `fixed`, NVD `versionEndExcluding`). */
  readonly fixed: readonly string[];
  /** 'low' for "every version" (NVD `*`/`-` with no range) and other guesses. */
  readonly confidence: Confidence;
  /** Human-readable derivation: which CPEs or product ids, for `tattler check` output. */
  readonly reason: string;
}

/** One advisory in our terms. */
export interface Advisory {
  readonly source: FeedSource;
  /** CVE-…, GHSA-…, or the CSAF document's tracking id. */
  readonly id: string;
  /** Other ids of the same issue (CVE ids of an OSV or CSAF advisory). */
  readonly aliases: readonly string[];
  /** Highest CVSS base score (0..10), or null. */
  readonly cvss: number | null;
  /** ISO date, or null. */
  readonly published: string | null;
  readonly products: readonly AffectedProduct[];
  /** Vendor advisory and update URLs (CSAF remediations, NVD references tagged Patch/Vendor Advisory). */
  readonly remediationUrls: readonly string[];
}

/** A CISA KEV entry. */
export interface KevEntry {
  readonly cve: string;
  /** ISO date the CVE was added to the catalog. */
  readonly dateAdded: string;
}

/** What one import run saw, for the summary and tests. */
export interface ImportSummary {
  readonly files: number;
  readonly recordsRead: number;
  readonly advisories: number;
  readonly products: number;
  readonly intervals: number;
  readonly kevEntries: number;
  readonly skipped: Readonly<Record<FeedErrorCode, number>>;
}

/** Provenance stored with every row. */
export interface Provenance {
  readonly source: FeedSource;
  readonly recordId: string;
  /** Epoch milliseconds of the import. */
  readonly importedAtMs: number;
  /** KEV catalogVersion, NVD/OSV `lastModified`/`modified`, CSAF `tracking.version`; null if none. */
  readonly catalogVersion: string | null;
}

/** One row a lookup returns: an affected product with its advisory and provenance. */
export interface ProductMatchRow {
  readonly advisory: Advisory;
  readonly product: AffectedProduct;
  /** True when the advisory id or one of its aliases is in CISA KEV. */
  readonly kev: boolean;
  readonly provenance: Provenance;
}

/** Read access to imported data, implemented by the SQLite store and by in-memory test readers. */
export interface FeedReader {
  /** Every row whose canonical vendor and model are exactly these (no substring matching). */
  lookup(vendor: string, model: string): ProductMatchRow[];
  /** Every row, for building the in-memory index and the signed feed. */
  rows(): IterableIterator<ProductMatchRow>;
  /** The canonical vendor an alias stands for (`dlinksystems` → `dlink`), or the input itself. */
  canonicalVendor(vendor: string): string;
  /**
   * The other canonical names a canonical vendor is known under (configured aliases and the
   * maintained table), sorted; the publisher puts records out under each. Optional: without it the
   * publisher uses the maintained table alone.
   */
  vendorAliases?(vendor: string): string[];
}
