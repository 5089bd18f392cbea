/**
 * The vendor report's types ("make it the vendor's problem", docs/report.md): per vendor and
 * model, how many identified announcements the collector saw vulnerable, and what the signed
 * feed says about the advisories; private-mode counts only per bucket. Built only from the
 * aggregate counters (collector/aggregate-counts.ts) and the feed: no address, no device.
 * @module
 */
import type { AggregateCounts, CountedStatus } from '../collector/aggregate-counts.ts';

/** The time the counts cover, epoch seconds; `null` ends: since the first / until the last count. */
export interface ReportWindow {
  readonly fromSeconds: number | null;
  readonly toSeconds: number | null;
}

/** One vendor and model of the report. */
export interface VendorReportRow {
  /** Canonical names as on the wire (`dlink`, `dir859`). */
  readonly vendor: string;
  readonly model: string;
  /** Identified announcements of this model, by the verdict they got. */
  readonly announcements: Readonly<Record<CountedStatus, number>>;
  /** Announcements seen vulnerable: those answered FAIL or WARN (a listed advisory matched). */
  readonly vulnerable: number;
  /** Advisory ids of the feed's records for this model (CVE-…, CSAF ids), sorted, unique. */
  readonly advisories: readonly string[];
  /** Any of them in CISA KEV. */
  readonly kev: boolean;
  /** Highest CVSS base score (0..10) of its records, or null when none has one. */
  readonly cvss: number | null;
  /** Versions the feed names as fixed; empty: no fix is known. */
  readonly fixedVersions: readonly string[];
  /** Whole days since the earliest advisory's publication, or null when no date is known. */
  readonly daysSinceAdvisory: number | null;
  /** Whether the feed marks any record of this model quarantine-eligible. */
  readonly eligible: boolean;
}

/** The report. */
export interface VendorReport {
  /** Epoch seconds when it was built. */
  readonly generatedAt: number;
  readonly window: ReportWindow;
  /** The feed version whose records gave the advisory columns. */
  readonly feedVersion: number | null;
  /** One row per listed (vendor, model) that was announced or has records, most vulnerable first. */
  readonly rows: readonly VendorReportRow[];
  /** Identified announcements of models the feed does not list (counted as `(unlisted)`). */
  readonly unlisted: number;
  /** Private-mode announcements per bucket: the collector never learns the model. */
  readonly private: AggregateCounts['private'];
}
