/**
 * Builds the vendor report (docs/report.md) from the aggregate counts and the feed's records: per
 * vendor and model, announcements seen vulnerable and what the feed says. Pure: no I/O, no clock.
 * @module
 */
import type { AggregateCounts, CountedStatus } from '../collector/aggregate-counts.ts';
import { canonicalVendor } from '../feed/vendor-aliases.ts';
import type { FeedRecord } from '../protocol/feed-record.ts';
import type { ReportWindow, VendorReport, VendorReportRow } from './types.ts';

/** The label the collector counts identified announcements of unlisted models under. */
export const UNLISTED_LABEL = '(unlisted)';

const DAY_SECONDS = 86_400;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})/;

/** What {@link buildVendorReport} needs. */
export interface VendorReportInput {
  readonly counts: AggregateCounts;
  readonly records: readonly FeedRecord[];
  readonly feedVersion: number | null;
  /** Advisory id (and alias) → ISO date of first publication (report/advisory-dates.ts). */
  readonly advisoryDates?: ReadonlyMap<string, string>;
  /**
   * Vendor aliases besides the maintained table (canonical alias → canonical vendor, as
   * feed/vendor-aliases.ts `vendorAliasMap`). The feed repeats each record under every alias of
   * its vendor and devices may announce any of them: rows are per canonical vendor.
   */
  readonly vendorAliases?: ReadonlyMap<string, string>;
  /** Epoch seconds: the report's `generatedAt` and the reference of `daysSinceAdvisory`. */
  readonly nowSeconds: number;
  readonly window: ReportWindow;
}

interface RowDraft {
  readonly vendor: string;
  readonly model: string;
  readonly announcements: Record<CountedStatus, number>;
  readonly advisories: Set<string>;
  kev: boolean;
  cvss10: number | null;
  readonly fixed: Set<string>;
  eligible: boolean;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Epoch seconds of midnight UTC of an ISO date (its first 10 characters), or null if not a date. */
function daySeconds(date: string): number | null {
  const m = ISO_DAY.exec(date);
  if (m === null) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) ? ms / 1000 : null;
}

function daysSince(advisories: Iterable<string>, dates: ReadonlyMap<string, string> | undefined, nowSeconds: number): number | null {
  if (dates === undefined) return null;
  let earliest: number | null = null;
  for (const id of advisories) {
    const date = dates.get(id);
    const seconds = date === undefined ? null : daySeconds(date);
    if (seconds !== null && (earliest === null || seconds < earliest)) earliest = seconds;
  }
  // A date after `nowSeconds` (a clock behind the feed) counts as today, not as negative days.
  return earliest === null ? null : Math.max(0, Math.floor((nowSeconds - earliest) / DAY_SECONDS));
}

/** The canonical vendor of a counted or published name; a name that does not canonicalise stays as it is. */
function canonicalOf(name: string, extra: ReadonlyMap<string, string> | undefined): string {
  try {
    return canonicalVendor(name, extra);
  } catch {
    return name;
  }
}

/**
 * The vendor report: one row per (vendor, model) with records in the feed or announced (models
 * counted as `(unlisted)` are summed into `unlisted`); multiple records of a model, and the
 * records and counts under aliases of its vendor, are merged into one row of the canonical vendor.
 * Rows: most announcements seen vulnerable first, then KEV first, then vendor and model.
 * @example buildVendorReport({ counts, records, feedVersion: 8, nowSeconds, window: { fromSeconds: null, toSeconds: null } })
 */
export function buildVendorReport(input: VendorReportInput): VendorReport {
  const drafts = new Map<string, RowDraft>();
  const vendors = new Map<string, string>();
  const canonical = (name: string): string => {
    let vendor = vendors.get(name);
    if (vendor === undefined) {
      vendor = canonicalOf(name, input.vendorAliases);
      vendors.set(name, vendor);
    }
    return vendor;
  };
  const draftOf = (alias: string, model: string): RowDraft => {
    const vendor = canonical(alias);
    const key = `${vendor}\0${model}`;
    let draft = drafts.get(key);
    if (draft === undefined) {
      draft = {
        vendor,
        model,
        announcements: { pass: 0, fail: 0, warn: 0, unknown: 0 },
        advisories: new Set(),
        kev: false,
        cvss10: null,
        fixed: new Set(),
        eligible: false,
      };
      drafts.set(key, draft);
    }
    return draft;
  };
  for (const record of input.records) {
    const draft = draftOf(record.vendor, record.model);
    for (const id of record.advisories) draft.advisories.add(id);
    for (const version of record.fixed) draft.fixed.add(version);
    draft.kev ||= record.kev;
    draft.eligible ||= record.eligible;
    if (record.cvss10 !== null) draft.cvss10 = Math.max(draft.cvss10 ?? 0, record.cvss10);
  }
  let unlisted = 0;
  for (const count of input.counts.identified) {
    if (count.vendor === UNLISTED_LABEL || count.model === UNLISTED_LABEL) {
      unlisted += count.count;
      continue;
    }
    draftOf(count.vendor, count.model).announcements[count.status] += count.count;
  }
  const rows: VendorReportRow[] = [...drafts.values()].map((draft) => ({
    vendor: draft.vendor,
    model: draft.model,
    announcements: { ...draft.announcements },
    vulnerable: draft.announcements.fail + draft.announcements.warn,
    advisories: [...draft.advisories].sort(compareText),
    kev: draft.kev,
    // The wire carries CVSS × 10 (0..100); the report shows the score with one decimal.
    cvss: draft.cvss10 === null ? null : draft.cvss10 / 10,
    fixedVersions: [...draft.fixed].sort(compareText),
    daysSinceAdvisory: daysSince(draft.advisories, input.advisoryDates, input.nowSeconds),
    eligible: draft.eligible,
  }));
  rows.sort(
    (a, b) =>
      b.vulnerable - a.vulnerable ||
      Number(b.kev) - Number(a.kev) ||
      compareText(a.vendor, b.vendor) ||
      compareText(a.model, b.model),
  );
  const buckets = new Map<string, number>();
  for (const { bucket, count } of input.counts.private) buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
  return {
    generatedAt: input.nowSeconds,
    window: { fromSeconds: input.window.fromSeconds, toSeconds: input.window.toSeconds },
    feedVersion: input.feedVersion,
    rows,
    unlisted,
    private: [...buckets]
      .sort(([a], [b]) => compareText(a, b))
      .map(([bucket, count]) => ({ bucket, count })),
  };
}

export { formatVendorReport, REPORT_FORMATS, type ReportFormat } from './format.ts';
