/**
 * The collector on several cores: a primary process forks `workers` worker processes
 * (worker.ts), each running the whole single-process collector (udp.ts) on the same sockets.
 * Node 20 ignores dgram `reusePort`; with the `cluster` module the primary binds each address
 * once and every worker receives from that one socket, the kernel handing each datagram to one
 * waiting worker.
 *
 * What is per worker and what is shared:
 * - rate limiting is per worker: a source prefix gets at most `workers` × (rate, burst), since
 *   its datagrams may reach any worker (docs/collector.md states the looser bound);
 * - counters are per worker and summed by the primary at scrape time (prom-client's
 *   aggregator); feed and certificate expiry take the minimum over workers;
 * - the notify store has one writer, the primary: workers send it their notify events;
 * - the primary serves /metrics, /healthz and the dashboard (a worker builds the vendor report,
 *   since the workers hold the feed), writes the stats store (each worker's own growth, keyed by
 *   worker id and pid), forwards SIGHUP as a reload to every worker, and
 *   stops them on SIGTERM; a worker that dies is forked again with backoff.
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import promClient from 'prom-client';
import type { LogFormat, LogLevel, LogSink } from '../logging/log.ts';
import type { CollectorConfig } from './config.ts';
import { loadCollectorConfig } from './config.ts';
import { startOpsServer, type OpsServer } from './http.ts';
import { METRIC_PREFIX, aggregateMetrics, type MetricsJson, type ServingStatus } from './metrics.ts';
import { openNotifySink, type NotifyEvent, type NotifySink } from './notify-store.ts';
import type { VendorReport } from '../report/types.ts';
import { startDashboard, type RunningDashboard } from './dashboard-service.ts';
import { startStatsRecorder, type StatsRecorder } from './dashboard-stats.ts';
import type { VendorReportRequest } from './udp.ts';

/** Messages from the primary to a worker. */
export type ToWorker =
  | { readonly type: 'reload' }
  | { readonly type: 'stop' }
  | { readonly type: 'scrape'; readonly id: number }
  | { readonly type: 'vendor-report'; readonly id: number; readonly request: VendorReportRequest };

/** Messages from a worker to the primary. */
export type FromWorker =
  | { readonly type: 'ready'; readonly addresses: { address: string; port: number }[] }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'reloaded' }
  | { readonly type: 'notify'; readonly events: NotifyEvent[]; readonly nowMs: number }
  | { readonly type: 'scraped'; readonly id: number; readonly metrics: MetricsJson; readonly status: ServingStatus }
  | { readonly type: 'vendor-reported'; readonly id: number; readonly report: VendorReport }
  /** The worker could not build the report (the reason stays in its log). */
  | { readonly type: 'vendor-report-failed'; readonly id: number }
  /** After `stop`: the sockets are closed, these are the worker's final counters; it exits next. */
  | { readonly type: 'stopped'; readonly metrics: MetricsJson };

/** Environment the primary passes to its workers. */
export const WORKER_ENV = {
  config: 'TATTLER_COLLECTOR_CONFIG',
  logFormat: 'TATTLER_LOG_FORMAT',
  logLevel: 'TATTLER_LOG_LEVEL',
} as const;

/** How long a worker may take to start, stop or answer a scrape before the primary gives up on it. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const SCRAPE_TIMEOUT_MS = 2_000;
/** A vendor report walks the whole feed in a worker: allow more than a scrape. */
const REPORT_TIMEOUT_MS = 10_000;
/** Stopped workers' final counters kept between two stats flushes: twice the most workers (64). */
const MAX_FINALS = 128;
/** Re-fork backoff after a worker dies: 1 s doubling to 30 s; reset once a worker has run 60 s. */
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;

/** What the cluster needs from outside. */
export interface ClusterDeps {
  readonly log: LogSink;
  readonly logFormat: LogFormat;
  readonly logLevel?: LogLevel;
}

/** A serving cluster. */
export interface RunningCluster {
  /** The bound addresses, as the first worker reported them. */
  addresses(): { address: string; port: number }[];
  opsAddress(): { address: string; port: number } | undefined;
  /** Worker processes currently ready. */
  workers(): number;
  /** Reloads the primary's config (notify store) and every worker's; resolves when all have. */
  reload(): Promise<void>;
  /**
   * Stops every worker (each closes its sockets and sends its final counters), writes those to
   * the stats store, then closes the metrics listener and the notify store.
   */
  close(): Promise<void>;
}

/**
 * The stats store's source id of a worker: worker id and pid, so a re-forked worker (new pid,
 * counters from zero) is never compared with the counters of the one it replaces.
 */
function sourceOf(worker: Worker): string {
  return `${worker.id}:${String(worker.process.pid)}`;
}

/** One worker's answer to a scrape. */
interface Scraped {
  readonly source: string;
  readonly metrics: MetricsJson;
  readonly status: ServingStatus;
}

/** A vendor report a worker is building: settled by its answer or by its exit. */
interface PendingReport {
  readonly workerId: number;
  resolve(report: VendorReport): void;
  reject(err: Error): void;
}

function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string';
}

/** Resolves `promise`, or with `fallback` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      resolve(fallback);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** The worker asked for a vendor report exited before answering: worth asking another. */
class WorkerGoneError extends Error {
  override readonly name = 'WorkerGoneError';
}

/** The earliest of two optional times. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * Forks `config.workers` workers and resolves once every one is serving; rejects with the first
 * worker's start-up error (a port in use, a bad feed…) after stopping the others.
 */
export async function startCollectorCluster(config: CollectorConfig, deps: ClusterDeps): Promise<RunningCluster> {
  if (!cluster.isPrimary) throw new Error('startCollectorCluster: must run in the primary process');
  const log = deps.log;
  let current = config;
  let sink: NotifySink = openNotifySink(config.privacy.notify, Date.now());
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker.js', import.meta.url)),
    args: [],
    // Structured clone: notify events carry Uint8Array addresses.
    serialization: 'advanced',
  });

  const ready = new Map<number, { worker: Worker; addresses: { address: string; port: number }[] }>();
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  let scrapeId = 0;
  const scrapes = new Map<number, { pending: Set<number>; results: Scraped[]; done: () => void }>();
  const reloads = new Map<number, () => void>();
  const reports = new Map<number, PendingReport>();
  /** Each stopped worker's final counters, by source, until the stats store's next flush takes them. */
  const finals = new Map<string, MetricsJson>();

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isFromWorker(message)) return;
    switch (message.type) {
      case 'notify':
        sink.record(message.events, message.nowMs);
        break;
      case 'scraped': {
        const scrape = scrapes.get(message.id);
        if (scrape === undefined || !scrape.pending.delete(worker.id)) break;
        scrape.results.push({ source: sourceOf(worker), metrics: message.metrics, status: message.status });
        if (scrape.pending.size === 0) scrape.done();
        break;
      }
      case 'reloaded':
        reloads.get(worker.id)?.();
        break;
      case 'vendor-reported':
        if (reports.get(message.id)?.workerId === worker.id) reports.get(message.id)?.resolve(message.report);
        break;
      case 'vendor-report-failed':
        if (reports.get(message.id)?.workerId === worker.id)
          reports.get(message.id)?.reject(new Error(`vendor report: worker ${worker.id} could not build it`));
        break;
      case 'stopped':
        if (config.stats === null) break;
        finals.set(sourceOf(worker), message.metrics);
        // Workers stop once each at shutdown, or one by one when stopped from outside and re-forked
        // (≥ 1 s apart, RESTART_MIN_MS): keep the newest MAX_FINALS between two flushes.
        for (const source of finals.keys()) {
          if (finals.size <= MAX_FINALS) break;
          finals.delete(source);
        }
        break;
      case 'ready':
      case 'failed':
        break; // handled by fork()
    }
  };

  /** Forks one worker and resolves when it serves; rejects with its start-up error. */
  const fork = (): Promise<Worker> =>
    new Promise<Worker>((resolve, reject) => {
      const worker = cluster.fork({
        [WORKER_ENV.config]: current.file,
        [WORKER_ENV.logFormat]: deps.logFormat,
        [WORKER_ENV.logLevel]: deps.logLevel ?? 'info',
      });
      // IPC to a worker that is exiting fails with EPIPE: the exit handler below deals with it.
      worker.on('error', () => undefined);
      const startedAt = Date.now();
      let settled = false;
      const timer = setTimeout(() => {
        fail(`worker ${worker.id} did not start within ${START_TIMEOUT_MS / 1000} s`);
      }, START_TIMEOUT_MS);
      const fail = (reason: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.process.kill('SIGKILL');
        reject(new Error(reason));
      };
      worker.on('message', (message: unknown) => {
        if (!isFromWorker(message)) return;
        if (message.type === 'ready' && !settled) {
          settled = true;
          clearTimeout(timer);
          ready.set(worker.id, { worker, addresses: message.addresses });
          resolve(worker);
        } else if (message.type === 'failed') {
          fail(message.message);
        } else {
          onMessage(worker, message);
        }
      });
      worker.on('exit', (exitCode: number | null, exitSignal: string | null) => {
        const why = exitSignal ?? `code ${String(exitCode)}`;
        ready.delete(worker.id);
        reloads.get(worker.id)?.();
        for (const scrape of scrapes.values()) if (scrape.pending.delete(worker.id) && scrape.pending.size === 0) scrape.done();
        for (const report of reports.values())
          if (report.workerId === worker.id) report.reject(new WorkerGoneError(`vendor report: worker ${worker.id} exited (${why})`));
        if (!settled) {
          fail(`worker ${worker.id} exited during start-up (${why})`);
          return;
        }
        if (stopping) return;
        // A crash after start-up: fork a replacement, backing off if workers keep dying.
        const ranMs = Date.now() - startedAt;
        if (ranMs >= HEALTHY_AFTER_MS) restartDelay = RESTART_MIN_MS;
        const delay = restartDelay;
        restartDelay = Math.min(RESTART_MAX_MS, restartDelay * 2);
        log('error', 'worker_died', `worker ${worker.id} exited (${why}); starting a new one in ${delay / 1000} s`);
        const timer = setTimeout(() => {
          if (stopping) return;
          fork().then(
            (w) => {
              log('info', 'worker_started', `worker ${w.id} serving`);
            },
            (err: unknown) => {
              log('error', 'worker_failed', `a new worker did not start: ${err instanceof Error ? err.message : String(err)}`);
            },
          );
        }, delay);
        timer.unref();
      });
    });

  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    const exits = Object.values(cluster.workers ?? {}).map(async (worker) => {
      if (worker === undefined || worker.isDead()) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => { resolve(); }));
      if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker);
      else worker.process.kill('SIGTERM');
      if (!(await within(exited.then(() => true), STOP_TIMEOUT_MS, false))) {
        worker.process.kill('SIGKILL');
        await exited;
      }
    });
    await Promise.all(exits);
  };

  try {
    await Promise.all(Array.from({ length: config.workers }, fork));
  } catch (err) {
    await stopWorkers();
    sink.close();
    throw err;
  }

  /** Every ready worker's metrics and status (a worker that does not answer in time is left out). */
  const scrape = async (): Promise<Scraped[]> => {
    const id = ++scrapeId;
    const results: Scraped[] = [];
    const pending = new Set<number>();
    const finished = new Promise<void>((resolve) => {
      scrapes.set(id, { pending, results, done: resolve });
    });
    for (const { worker } of ready.values()) {
      if (!worker.isConnected()) continue;
      pending.add(worker.id);
      worker.send({ type: 'scrape', id } satisfies ToWorker);
    }
    if (pending.size > 0) await within(finished, SCRAPE_TIMEOUT_MS, undefined);
    scrapes.delete(id);
    return results;
  };

  // The primary's own metrics: how many workers serve, and the notify store it owns.
  const own = new promClient.Registry();
  new promClient.Gauge({
    name: `${METRIC_PREFIX}workers`,
    help: 'Worker processes serving.',
    registers: [own],
    collect() {
      this.set(ready.size);
    },
  });
  new promClient.Gauge({
    name: `${METRIC_PREFIX}notify_rows`,
    help: 'Rows in the notify store; 0 while notify is off (nothing is stored).',
    aggregator: 'max',
    registers: [own],
    collect() {
      const rows = sink.size();
      this.reset();
      if (rows !== undefined) this.set(rows);
    },
  });
  const combinedStatus = (results: readonly { status: ServingStatus }[]): ServingStatus => {
    let feed: ServingStatus['feed'];
    let certificateNotAfter: number | undefined;
    for (const { status } of results) {
      // The worst worker decides: the oldest feed, the earliest expiry.
      if (status.feed !== undefined && (feed === undefined || status.feed.expiresAt < feed.expiresAt)) feed = status.feed;
      certificateNotAfter = earliest(certificateNotAfter, status.certificateNotAfter);
    }
    const rows = sink.size();
    return {
      ...(feed === undefined ? {} : { feed }),
      ...(certificateNotAfter === undefined ? {} : { certificateNotAfter }),
      ...(rows === undefined ? {} : { notifyRows: rows }),
    };
  };
  let lastStatus: ServingStatus = {};
  /** Every worker's metrics summed with the primary's own: what /metrics, the dashboard and the stats store read. */
  const readAggregate = async (): Promise<{ registry: promClient.Registry; status: ServingStatus }> => {
    const results = await scrape();
    lastStatus = combinedStatus(results);
    const merged = aggregateMetrics([...results.map((r) => r.metrics), await own.getMetricsAsJSON()]);
    return { registry: merged, status: lastStatus };
  };
  let reportId = 0;
  /** The vendor report built by `worker`; rejects when it fails, exits or does not answer in time. */
  const reportFrom = async (worker: Worker, request: VendorReportRequest): Promise<VendorReport> => {
    const id = ++reportId;
    try {
      const report = await within(
        new Promise<VendorReport | undefined>((resolve, reject) => {
          reports.set(id, { workerId: worker.id, resolve, reject });
          worker.send({ type: 'vendor-report', id, request } satisfies ToWorker);
        }),
        REPORT_TIMEOUT_MS,
        undefined,
      );
      if (report === undefined) throw new Error(`vendor report: worker ${worker.id} did not answer in time`);
      return report;
    } finally {
      reports.delete(id);
    }
  };
  const servingWorker = (except?: number): Worker | undefined =>
    [...ready.values()].find((w) => w.worker.id !== except && w.worker.isConnected())?.worker;
  /**
   * The vendor report built by one ready worker (it holds the feed). If that worker exits first,
   * asked once more of another ready worker; rejects if none answers in time.
   */
  const vendorReport = async (request: VendorReportRequest): Promise<VendorReport> => {
    const worker = servingWorker();
    if (worker === undefined) throw new Error('vendor report: no worker is serving');
    try {
      return await reportFrom(worker, request);
    } catch (err) {
      const other = err instanceof WorkerGoneError ? servingWorker(worker.id) : undefined;
      if (other === undefined) throw err;
      return reportFrom(other, request);
    }
  };
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);
  let ops: OpsServer | undefined;
  let dashboard: RunningDashboard | undefined;
  if (config.metrics !== null) {
    try {
      if (config.metrics.dashboard.enabled) {
        dashboard = startDashboard(config.metrics.dashboard, {
          read: async () => {
            const { registry, status } = await readAggregate();
            return { metrics: await registry.getMetricsAsJSON(), status };
          },
          vendorReport,
          nowSeconds,
        });
      }
      ops = await startOpsServer(config.metrics, {
        metrics: async () => (await readAggregate()).registry.metrics(),
        // /healthz is synchronous over the last scrape; scrape now if none has run yet.
        status: () => lastStatus,
        ...(dashboard === undefined ? {} : { dashboard }),
      });
      lastStatus = combinedStatus(await scrape());
      const refresh = setInterval(() => {
        void scrape().then((results) => {
          lastStatus = combinedStatus(results);
        });
      }, 5_000);
      refresh.unref();
      const closeOps = ops.close.bind(ops);
      const closeDashboard = dashboard;
      ops = {
        address: ops.address,
        close: async () => {
          clearInterval(refresh);
          closeDashboard?.close();
          await closeOps();
        },
      };
    } catch (err) {
      dashboard?.close();
      await stopWorkers();
      sink.close();
      throw err;
    }
  }

  // The primary scrapes the workers for the store as it does for /metrics, with or without a listener.
  // Per worker, so a worker that restarts or misses a scrape never makes the sum look reset.
  // A worker that stopped contributes its final counters once (at close(): every worker's).
  const readSources = async (): Promise<ReadonlyMap<string, MetricsJson>> => {
    const results = stopping ? [] : await scrape();
    if (!stopping) lastStatus = combinedStatus(results);
    const sources = new Map([...finals, ...results.map((r): [string, MetricsJson] => [r.source, r.metrics])]);
    finals.clear();
    return sources;
  };
  const stats: StatsRecorder | undefined =
    config.stats === null
      ? undefined
      : startStatsRecorder(config.stats, {
          read: async () => (await readAggregate()).registry.getMetricsAsJSON(),
          readSources,
          nowSeconds,
          log,
        });

  return {
    addresses: () => [...ready.values()][0]?.addresses ?? [],
    opsAddress: () => ops?.address,
    workers: () => ready.size,
    reload: async () => {
      try {
        const next = await loadCollectorConfig(current.file);
        if (JSON.stringify(next.privacy) !== JSON.stringify(current.privacy)) {
          const opened = openNotifySink(next.privacy.notify, Date.now());
          sink.close();
          sink = opened;
        }
        current = next;
      } catch (err) {
        log('warn', 'config_kept', `reload: the primary keeps its notify settings: ${err instanceof Error ? err.message : String(err)}`);
      }
      await Promise.all(
        [...ready.values()].map(({ worker }) =>
          within(
            new Promise<void>((resolve) => {
              reloads.set(worker.id, resolve);
              worker.send({ type: 'reload' } satisfies ToWorker);
            }),
            START_TIMEOUT_MS,
            undefined,
          ).finally(() => reloads.delete(worker.id)),
        ),
      );
    },
    close: async () => {
      // Each worker closes its sockets, then sends its final counters (kept in `finals`) and exits;
      // the store's last flush records them, so nothing counted before the stop is lost.
      await stopWorkers();
      await stats?.close();
      await ops?.close();
      sink.close();
    },
  };
}
