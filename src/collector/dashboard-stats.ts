/**
 * Writes the collector's aggregate counts to the stats store (docs/privacy.md "stats store"):
 * every `flushInterval`, just after every hour boundary and at close, the cumulative counts of the metrics JSON go to
 * `StatsStore.record`, which keeps hourly deltas; hours past the retention are pruned at start
 * and once a day. A store error is logged (`stats_error`) and never stops serving.
 * @module
 */
import type { LogSink } from '../logging/log.ts';
import { countsFromMetrics, type AggregateCounts } from './aggregate-counts.ts';
import type { StatsConfig } from './config.ts';
import type { MetricsJson } from './metrics.ts';
import { openStatsStore, STATS_HOUR_SECONDS, type StatsStore } from './stats-store.ts';

/** Prune once a day: retention is counted in days, and a prune scans the oldest hours only. */
const PRUNE_EVERY_SECONDS = 86_400;

/** Past an hour boundary by this much before the flush runs, so `nowSeconds` is in the new hour. */
const HOUR_FLUSH_MARGIN_MS = 50;

/**
 * The delay to the next flush at `nowMs`: the interval, or less so a flush falls just after every
 * hour boundary (the store books all growth since the last flush to the flush's hour).
 */
export function nextFlushDelayMs(nowMs: number, intervalMs: number): number {
  const hourMs = STATS_HOUR_SECONDS * 1000;
  const toNextHourMs = hourMs - (nowMs % hourMs) + HOUR_FLUSH_MARGIN_MS;
  return Math.min(intervalMs, toNextHourMs);
}

/** What the recorder reads and where it reports. */
export interface StatsRecorderDeps {
  /** The metrics JSON `/metrics` exports now (a single process). */
  read(): Promise<MetricsJson>;
  /**
   * Several counting processes (a cluster's workers): each one's metrics JSON by a source id that
   * changes when the process is replaced. When given, it is read instead of `read`, and the store
   * sums each source's own growth (StatsStore.recordSources).
   */
  readonly readSources?: () => Promise<ReadonlyMap<string, MetricsJson>>;
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
  const readSnapshots = async (): Promise<Map<string, AggregateCounts>> => {
    if (deps.readSources === undefined) return new Map([['', countsFromMetrics(await deps.read())]]);
    const sources = await deps.readSources();
    return new Map([...sources].map(([source, metrics]) => [source, countsFromMetrics(metrics)]));
  };
  const flushNow = async (): Promise<void> => {
    let snapshots: Map<string, AggregateCounts>;
    try {
      snapshots = await readSnapshots();
    } catch (err) {
      fail('cannot read the counters', err);
      return;
    }
    const target = opened();
    if (target === undefined) return;
    const nowSeconds = deps.nowSeconds();
    try {
      target.recordSources(snapshots, nowSeconds);
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
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(() => {
      if (closed) return;
      void flush().finally(() => {
        if (!closed) schedule();
      });
    }, nextFlushDelayMs(Date.now(), config.flushIntervalSeconds * 1000));
    timer.unref();
  };
  schedule();
  return {
    flush,
    close: async () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
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
