/**
 * The dashboard's shell: samples the counters into the history ring every `sampleInterval`
 * (unref'd timer, first point at start) and answers the dashboard's JSON API from the metrics
 * JSON of the moment, the same one `/metrics` exports. One per process serving the listener
 * (the single process, or the primary of a cluster).
 * @module
 */
import type { ReportWindow, VendorReport } from '../report/types.ts';
import { countsFromMetrics, type AggregateCounts } from './aggregate-counts.ts';
import type { DashboardConfig } from './config.ts';
import { HistoryRing, buildDashboardSummary, historyPointOf, type DashboardSummary } from './dashboard.ts';
import type { MetricsJson, ServingStatus } from './metrics.ts';

/** What the dashboard reads; the process serving the listener provides it. */
export interface DashboardSource {
  /** The metrics JSON `/metrics` exports now (one process, or the aggregate over workers) and the status of the same moment. */
  read(): Promise<{ readonly metrics: MetricsJson; readonly status: ServingStatus }>;
  /** The vendor report of `counts` over the served feed's records. */
  vendorReport(input: {
    readonly counts: AggregateCounts;
    readonly window: ReportWindow;
    readonly nowSeconds: number;
  }): Promise<VendorReport>;
  /** Epoch seconds. */
  nowSeconds(): number;
  /** A monotonic clock in milliseconds for the answer caches; default `performance.now`. */
  readonly nowMs?: () => number;
}

/**
 * How long an answer of the JSON API is reused: a burst of requests, or tabs left open, cost one
 * scrape (a round of IPC to every worker) a second and one walk of the feed every 5 s at most.
 */
export const DASHBOARD_CACHE_MS = Object.freeze({ summary: 1_000, vendors: 5_000 });

/**
 * `load`, shared: callers while one call is in flight get its promise, and its result is reused
 * for `ttlMs` after it settles. A rejection is not kept: the next caller tries again.
 */
function sharedLoad<T>(load: () => Promise<T>, ttlMs: number, nowMs: () => number): () => Promise<T> {
  let current: { readonly promise: Promise<T>; settledAtMs: number | undefined } | undefined;
  return function loadShared(): Promise<T> {
    if (current !== undefined && (current.settledAtMs === undefined || nowMs() - current.settledAtMs < ttlMs))
      return current.promise;
    const entry: { readonly promise: Promise<T>; settledAtMs: number | undefined } = {
      promise: load().then(
        (value) => {
          entry.settledAtMs = nowMs();
          return value;
        },
        (err: unknown) => {
          if (current === entry) current = undefined;
          throw err;
        },
      ),
      settledAtMs: undefined,
    };
    current = entry;
    return entry.promise;
  };
}

/** A running dashboard: the JSON API's two answers (shared and briefly cached), and a stop. */
export interface RunningDashboard {
  summary(): Promise<DashboardSummary>;
  /** The vendor report of the counts since this listener started. */
  vendors(): Promise<VendorReport>;
  /** Stops the sampler. */
  close(): void;
}

/**
 * Starts the history sampler and returns the API's handlers.
 * @example const dashboard = startDashboard(config.metrics.dashboard, { read, vendorReport, nowSeconds });
 */
export function startDashboard(config: DashboardConfig, source: DashboardSource): RunningDashboard {
  const startedAt = source.nowSeconds();
  const ring = HistoryRing.forInterval(config.sampleIntervalSeconds);
  let sampling = false;
  const sample = (): void => {
    if (sampling) return; // a slow scrape (a worker not answering) never piles samples up
    sampling = true;
    source
      .read()
      .then(({ metrics }) => {
        ring.push(historyPointOf(metrics, source.nowSeconds()));
      })
      .catch(() => undefined) // a missed point is a gap in the chart, nothing more
      .finally(() => {
        sampling = false;
      });
  };
  sample();
  const timer = setInterval(sample, config.sampleIntervalSeconds * 1000);
  timer.unref(); // the sockets keep the process alive, never the sampler
  const nowMs = source.nowMs ?? ((): number => performance.now());
  const summary = sharedLoad(
    async () => {
      const { metrics, status } = await source.read();
      return buildDashboardSummary({ metrics, status, nowSeconds: source.nowSeconds(), startedAt, history: ring.points() });
    },
    DASHBOARD_CACHE_MS.summary,
    nowMs,
  );
  const vendors = sharedLoad(
    async () => {
      const { metrics } = await source.read();
      const nowSeconds = source.nowSeconds();
      return source.vendorReport({
        counts: countsFromMetrics(metrics),
        window: { fromSeconds: startedAt, toSeconds: nowSeconds },
        nowSeconds,
      });
    },
    DASHBOARD_CACHE_MS.vendors,
    nowMs,
  );
  return {
    summary,
    vendors,
    close: () => {
      clearInterval(timer);
    },
  };
}
