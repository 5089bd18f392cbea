/**
 * Writes the collector's aggregate counts to the stats store (docs/privacy.md "stats store"):
 * every `flushInterval` and at close, the cumulative counts of the metrics JSON go to
 * `StatsStore.record`, which keeps hourly deltas; hours past the retention are pruned at start
 * and once a day. A store error is logged (`stats_error`) and never stops serving.
 * @module
 */
import type { LogSink } from '../logging/log.ts';
import { countsFromMetrics } from './aggregate-counts.ts';
import type { StatsConfig } from './config.ts';
import type { MetricsJson } from './metrics.ts';
import { openStatsStore, type StatsStore } from './stats-store.ts';

/** Prune once a day: retention is counted in days, and a prune scans the oldest hours only. */
const PRUNE_EVERY_SECONDS = 86_400;

/** What the recorder reads and where it reports. */
export interface StatsRecorderDeps {
  /** The metrics JSON `/metrics` exports now (one process, or the aggregate over workers). */
  read(): Promise<MetricsJson>;
  /** Epoch seconds. */
  nowSeconds(): number;
  readonly log: LogSink;
}

/** A running recorder. */
export interface StatsRecorder {
  /** Records the counts of now; never rejects (errors are logged). */
  flush(): Promise<void>;
  /** Stops the timer, records a last time and closes the store. Never rejects. */
  close(): Promise<void>;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Opens the store and starts the flush timer (unref'd). If the store cannot be opened the error
 * is logged and the open is tried again at the next flush.
 * @example const stats = startStatsRecorder(config.stats, { read, nowSeconds, log }); await stats.close();
 */
export function startStatsRecorder(config: StatsConfig, deps: StatsRecorderDeps): StatsRecorder {
  let store: StatsStore | undefined;
  let lastError: string | undefined;
  let prunedAt = -Infinity;
  let closed = false;
  const fail = (what: string, err: unknown): void => {
    const message = `stats store ${config.databasePath}: ${what}: ${messageOf(err)}`;
    // One line per distinct problem, not one per flush interval.
    if (message !== lastError) deps.log('error', 'stats_error', message);
    lastError = message;
  };
  const opened = (): StatsStore | undefined => {
    if (store !== undefined) return store;
    try {
      store = openStatsStore(config.databasePath, { retentionSeconds: config.retentionSeconds });
    } catch (err) {
      fail('cannot open', err);
    }
    return store;
  };
  const prune = (nowSeconds: number): void => {
    if (store === undefined || nowSeconds - prunedAt < PRUNE_EVERY_SECONDS) return;
    try {
      store.prune(nowSeconds);
      prunedAt = nowSeconds;
    } catch (err) {
      fail('cannot prune', err);
    }
  };
  let queue: Promise<void> = Promise.resolve();
  const flushNow = async (): Promise<void> => {
    let metrics: MetricsJson;
    try {
      metrics = await deps.read();
    } catch (err) {
      fail('cannot read the counters', err);
      return;
    }
    const target = opened();
    if (target === undefined) return;
    const nowSeconds = deps.nowSeconds();
    try {
      target.record(countsFromMetrics(metrics), nowSeconds);
      lastError = undefined;
    } catch (err) {
      fail('cannot record', err);
    }
    prune(nowSeconds);
  };
  opened();
  prune(deps.nowSeconds());
  // One flush at a time: a slow scrape never runs two records side by side.
  const flush = (): Promise<void> => {
    queue = queue.then(flushNow);
    return queue;
  };
  const timer = setInterval(() => {
    if (!closed) void flush();
  }, config.flushIntervalSeconds * 1000);
  timer.unref();
  return {
    flush,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      try {
        store?.close();
      } catch (err) {
        fail('cannot close', err);
      }
      store = undefined;
    },
  };
}
