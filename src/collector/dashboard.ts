/**
 * The operator dashboard's data (docs/collector.md "Dashboard"): one summary read from the same
 * prom-client metrics JSON that `/metrics` exports, so every number on the page equals the
 * scrape of the same moment, and a bounded history of the counters for the chart. Nothing here
 * goes beyond what the collector already counts (docs/privacy.md): no address, no device.
 * @module
 */
import { countsFromMetrics, type BucketCount, type CountedStatus, type IdentifiedCount } from './aggregate-counts.ts';
import { healthOf, type Health } from './http.ts';
import { METRIC_PREFIX, type MetricsJson, type ServingStatus } from './metrics.ts';

/**
 * A certificate this close to `not_after` is shown as expiring. Certificates last at most 7 days
 * and are renewed daily (docs/keys.md), so 2 days left means two renewals were missed.
 */
export const CERTIFICATE_EXPIRING_SECONDS = 2 * 86_400;
/** Most history points kept: 24 h at a 10 s interval is 8,640; at ~100 B a point, ≤ 1 MB. */
export const MAX_HISTORY_POINTS = 10_000;
/** Most history points in one summary: enough for a 1,000-pixel chart; the page polls it every few seconds. */
export const MAX_SUMMARY_HISTORY_POINTS = 360;
const DAY = 86_400;

/** The cumulative counters at one moment (epoch seconds `t`); the page plots the differences. */
export interface HistoryPoint {
  readonly t: number;
  readonly datagrams: number;
  readonly identified: number;
  readonly private: number;
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly unknown: number;
  readonly drops: number;
}

/** Everything `/dashboard/api/summary` returns. */
export interface DashboardSummary {
  readonly feed: {
    readonly version: number;
    readonly issuedAt: number;
    readonly expiresAt: number;
    readonly ageSeconds: number;
  } | null;
  readonly certificate: {
    readonly notAfter: number;
    readonly expiresInSeconds: number;
    readonly status: 'ok' | 'expiring' | 'expired';
  } | null;
  /** As `/healthz` says it. */
  readonly health: Health;
  readonly totals: {
    readonly datagrams: number;
    /** Identified announcements answered (all statuses). */
    readonly identified: number;
    /** Answers sent by kind (`verdict`, `unsigned-verdict`, `private`, …). */
    readonly answers: Readonly<Record<string, number>>;
    readonly verdicts: Readonly<Record<CountedStatus, number>>;
    /** Private announcements answered. */
    readonly private: number;
    readonly drops: number;
  };
  readonly identified: readonly IdentifiedCount[];
  readonly private: readonly BucketCount[];
  /** Drop reasons with their counts, largest first. */
  readonly drops: readonly { readonly reason: string; readonly count: number }[];
  readonly rateLimited: { readonly drop: number; readonly slip: number };
  /** Worker processes serving (1 without `workers`). */
  readonly workers: number;
  /** When this listener started, epoch seconds. */
  readonly startedAt: number;
  readonly nowSeconds: number;
  /** The chart's points, oldest first, thinned to at most {@link MAX_SUMMARY_HISTORY_POINTS}; the last is now. */
  readonly history: readonly HistoryPoint[];
}

/** One metric's samples as (labels, value). */
function samplesOf(json: MetricsJson, name: string): { labels: Partial<Record<string, string | number>>; value: number }[] {
  const metric = json.find((m) => m.name === `${METRIC_PREFIX}${name}`);
  return metric === undefined ? [] : metric.values.map((v) => ({ labels: v.labels, value: v.value }));
}

/** The sum of a metric's samples whose label `label` is `value` (any, without `label`). */
function sumOf(json: MetricsJson, name: string, label?: string, value?: string): number {
  let sum = 0;
  for (const s of samplesOf(json, name)) if (label === undefined || s.labels[label] === value) sum += s.value;
  return sum;
}

/** Label value → summed count, for a counter with one label. */
function byLabel(json: MetricsJson, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samplesOf(json, name)) {
    const key = s.labels[label];
    if (typeof key !== 'string' || s.value <= 0) continue;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/**
 * The chart point of a metrics JSON at `t` (epoch seconds).
 * @example historyPointOf(await registry.getMetricsAsJSON(), nowSeconds)
 */
export function historyPointOf(json: MetricsJson, t: number): HistoryPoint {
  const verdict = (status: CountedStatus): number => sumOf(json, 'verdicts_total', 'status', status);
  return {
    t,
    datagrams: sumOf(json, 'datagrams_received_total'),
    identified: sumOf(json, 'identified_total'),
    private: sumOf(json, 'private_total'),
    pass: verdict('pass'),
    fail: verdict('fail'),
    warn: verdict('warn'),
    unknown: verdict('unknown'),
    drops: sumOf(json, 'drops_total'),
  };
}

/**
 * At most `max` points of `points`, evenly spaced, always the first and the last. The values are
 * cumulative, so the differences of the kept points still add up to the whole.
 */
export function thinHistory(points: readonly HistoryPoint[], max: number): HistoryPoint[] {
  if (max < 2) throw new RangeError(`thinHistory: max must be at least 2, got ${max}`);
  if (points.length <= max) return [...points];
  const out: HistoryPoint[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) {
    const point = points[Math.round(i * step)];
    if (point !== undefined) out.push(point);
  }
  return out;
}

/** What {@link buildDashboardSummary} reads. */
export interface SummaryInput {
  /** The metrics JSON `/metrics` would export now (one process, or the primary's aggregate). */
  readonly metrics: MetricsJson;
  readonly status: ServingStatus;
  readonly nowSeconds: number;
  readonly startedAt: number;
  /** The history so far, oldest first. */
  readonly history: readonly HistoryPoint[];
}

/**
 * The dashboard summary of one moment: counts from `metrics`, feed and certificate from
 * `status`, the history with the present appended as its last point. Pure.
 * @example buildDashboardSummary({ metrics, status, nowSeconds, startedAt, history: ring.points() })
 */
export function buildDashboardSummary(input: SummaryInput): DashboardSummary {
  const { metrics, status, nowSeconds } = input;
  const counts = countsFromMetrics(metrics);
  const feed = status.feed;
  const notAfter = status.certificateNotAfter;
  const certificateStatus = (seconds: number): 'ok' | 'expiring' | 'expired' =>
    seconds <= 0 ? 'expired' : seconds < CERTIFICATE_EXPIRING_SECONDS ? 'expiring' : 'ok';
  const verdicts = {
    pass: sumOf(metrics, 'verdicts_total', 'status', 'pass'),
    fail: sumOf(metrics, 'verdicts_total', 'status', 'fail'),
    warn: sumOf(metrics, 'verdicts_total', 'status', 'warn'),
    unknown: sumOf(metrics, 'verdicts_total', 'status', 'unknown'),
  };
  const drops = [...byLabel(metrics, 'drops_total', 'reason')]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  const workers = samplesOf(metrics, 'workers');
  const now = historyPointOf(metrics, nowSeconds);
  const last = input.history.at(-1);
  // The present as the last point; a sample of this very second is replaced by it.
  const history = last !== undefined && last.t >= nowSeconds ? [...input.history.slice(0, -1), now] : [...input.history, now];
  return {
    feed: feed === undefined ? null : { version: feed.version, issuedAt: feed.issuedAt, expiresAt: feed.expiresAt, ageSeconds: nowSeconds - feed.issuedAt },
    certificate: notAfter === undefined ? null : { notAfter, expiresInSeconds: notAfter - nowSeconds, status: certificateStatus(notAfter - nowSeconds) },
    health: healthOf(status, nowSeconds),
    totals: {
      datagrams: now.datagrams,
      identified: now.identified,
      answers: Object.fromEntries([...byLabel(metrics, 'answers_total', 'kind')].sort(([a], [b]) => a.localeCompare(b))),
      verdicts,
      private: now.private,
      drops: now.drops,
    },
    identified: counts.identified,
    private: counts.private,
    drops,
    rateLimited: {
      drop: sumOf(metrics, 'rate_limited_total', 'action', 'drop'),
      slip: sumOf(metrics, 'rate_limited_total', 'action', 'slip'),
    },
    workers: workers.length === 0 ? 1 : workers.reduce((sum, s) => sum + s.value, 0),
    startedAt: input.startedAt,
    nowSeconds,
    history: thinHistory(history, MAX_SUMMARY_HISTORY_POINTS),
  };
}

/** A bounded ring of history points: the oldest goes when it is full. */
export class HistoryRing {
  readonly #capacity: number;
  readonly #points: HistoryPoint[] = [];
  #start = 0;

  /** `capacity`: most points kept, 2..{@link MAX_HISTORY_POINTS}. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > MAX_HISTORY_POINTS)
      throw new RangeError(`HistoryRing: capacity must be 2..${MAX_HISTORY_POINTS}, got ${capacity}`);
    this.#capacity = capacity;
  }

  /** The ring holding 24 h of points taken every `intervalSeconds`, at most {@link MAX_HISTORY_POINTS}. */
  static forInterval(intervalSeconds: number): HistoryRing {
    return new HistoryRing(Math.max(2, Math.min(MAX_HISTORY_POINTS, Math.ceil(DAY / intervalSeconds) + 1)));
  }

  push(point: HistoryPoint): void {
    if (this.#points.length < this.#capacity) {
      this.#points.push(point);
      return;
    }
    this.#points[this.#start] = point;
    this.#start = (this.#start + 1) % this.#capacity;
  }

  /** The points, oldest first. */
  points(): HistoryPoint[] {
    return [...this.#points.slice(this.#start), ...this.#points.slice(0, this.#start)];
  }
}
