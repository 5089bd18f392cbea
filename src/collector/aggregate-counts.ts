/**
 * The aggregate counts the collector keeps (privacy.md): identified announcements per (vendor,
 * model, status) — models the feed does not list are `(unlisted)` — and private announcements
 * per 12-bit bucket. Read from the same prom-client metrics JSON that `/metrics` exports (one
 * process, or the primary's sum over workers), so the dashboard, the stats store and the vendor
 * report always show what `/metrics` shows.
 * @module
 */
import type { MetricsJson } from './metrics.ts';
import { METRIC_PREFIX } from './metrics.ts';

/** A verdict status as the counters label it. */
export type CountedStatus = 'pass' | 'fail' | 'warn' | 'unknown';

/** Identified announcements of one (vendor, model) that got one status. */
export interface IdentifiedCount {
  readonly vendor: string;
  readonly model: string;
  readonly status: CountedStatus;
  readonly count: number;
}

/** Private announcements of one bucket (three lower-case hex digits, `000`..`fff`). */
export interface BucketCount {
  readonly bucket: string;
  readonly count: number;
}

/** Everything the collector counts about devices: no address, no time finer than its window. */
export interface AggregateCounts {
  readonly identified: readonly IdentifiedCount[];
  readonly private: readonly BucketCount[];
}

const STATUSES: readonly string[] = ['pass', 'fail', 'warn', 'unknown'];

/**
 * The identified and private counts in a metrics JSON (`registry.getMetricsAsJSON()`), sorted
 * (vendor, model, status; bucket) so equal counts compare equal. Zero rows are left out.
 * @example countsFromMetrics(await registry.getMetricsAsJSON())
 */
export function countsFromMetrics(json: MetricsJson): AggregateCounts {
  const identified: IdentifiedCount[] = [];
  const buckets: BucketCount[] = [];
  for (const metric of json) {
    if (metric.name === `${METRIC_PREFIX}identified_total`) {
      for (const value of metric.values) {
        const { vendor, model, status } = value.labels;
        if (typeof vendor !== 'string' || typeof model !== 'string' || typeof status !== 'string') continue;
        if (!STATUSES.includes(status) || value.value <= 0) continue;
        identified.push({ vendor, model, status: status as CountedStatus, count: value.value });
      }
    } else if (metric.name === `${METRIC_PREFIX}private_total`) {
      for (const value of metric.values) {
        const bucket = value.labels.bucket;
        if (typeof bucket !== 'string' || value.value <= 0) continue;
        buckets.push({ bucket, count: value.value });
      }
    }
  }
  identified.sort(
    (a, b) => a.vendor.localeCompare(b.vendor) || a.model.localeCompare(b.model) || a.status.localeCompare(b.status),
  );
  buckets.sort((a, b) => a.bucket.localeCompare(b.bucket));
  return { identified, private: buckets };
}
