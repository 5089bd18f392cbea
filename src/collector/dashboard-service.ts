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
}

/** A running dashboard: the JSON API's two answers, and a stop. */
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
  return {
    summary: async () => {
      const { metrics, status } = await source.read();
      return buildDashboardSummary({ metrics, status, nowSeconds: source.nowSeconds(), startedAt, history: ring.points() });
    },
    vendors: async () => {
      const { metrics } = await source.read();
      const nowSeconds = source.nowSeconds();
      return source.vendorReport({
        counts: countsFromMetrics(metrics),
        window: { fromSeconds: startedAt, toSeconds: nowSeconds },
        nowSeconds,
      });
    },
    close: () => {
      clearInterval(timer);
    },
  };
}
