/**
 * The collector's telemetry: plain in-memory tallies the datagram path bumps (a Map increment
 * each, no label hashing per datagram), exported as Prometheus metrics through prom-client only
 * when scraped. Labels never name an address; model labels come only from the feed (core.ts).
 * Across worker processes each keeps its own tallies; the primary sums them with prom-client's
 * aggregator ({@link aggregateMetrics}), taking the minimum for times that must not be hidden by
 * a healthier worker (feed and certificate expiry).
 * @module
 */
import promClient from 'prom-client';
import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';

const { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } = promClient;

/** Every metric name starts with this. */
export const METRIC_PREFIX = 'tattler_';

/**
 * Buckets of the decision-latency histogram in seconds: from receipt to the answer handed to the
 * socket. A PASS decides in a few µs, a signed FAIL in ~40 µs; the top buckets catch stalls.
 */
export const DECISION_BUCKETS = [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, 0.1] as const;

/** What the collector serves from: its feed and certificate, read at scrape time. */
export interface ServingStatus {
  readonly feed?: { readonly version: number; readonly issuedAt: number; readonly expiresAt: number };
  /** The collector certificate's `not_after`, epoch seconds. */
  readonly certificateNotAfter?: number;
  /** Rows in the notify store; absent when notify is off (nothing stored). */
  readonly notifyRows?: number;
}

/** One labelled aggregate the core emitted (`identified`, `private`, `certificate`, `root`, `rate_limited`). */
interface LabelledCount {
  readonly counter: string;
  readonly labels: Readonly<Record<string, string>>;
  value: number;
}

/**
 * The tallies of one process. The datagram path calls {@link received}, {@link drop},
 * {@link reply}, {@link count} and {@link decided}; nothing here allocates per datagram except a
 * first sighting of a label set (bounded by the feed's models, 4096 buckets and the drop codes).
 */
export class Telemetry {
  /** Datagrams read from the sockets. */
  receivedDatagrams = 0;
  receivedBytes = 0;
  sentBytes = 0;
  /** Signatures computed (verdicts and policy re-signs). */
  signatures = 0;
  /** Drop and shell-error codes (`BAD_LENGTH`, `RATE_LIMITED`, `OVERSIZE_ANSWER`, `SEND_ERROR`…). */
  readonly drops = new Map<string, number>();
  /** Answers sent, by kind (`verdict`, `unsigned-verdict`, `private`, `busy`, …). */
  readonly replies = new Map<string, number>();
  readonly #counts = new Map<string, LabelledCount>();
  /** Decision latency: observations per {@link DECISION_BUCKETS} bucket, the last one +Inf. */
  readonly decisionBuckets = new Float64Array(DECISION_BUCKETS.length + 1);
  decisionSum = 0;
  decisionCount = 0;

  received(bytes: number): void {
    this.receivedDatagrams++;
    this.receivedBytes += bytes;
  }

  drop(code: string): void {
    this.drops.set(code, (this.drops.get(code) ?? 0) + 1);
  }

  reply(kind: string, bytes: number, signatures: number): void {
    this.replies.set(kind, (this.replies.get(kind) ?? 0) + 1);
    this.sentBytes += bytes;
    this.signatures += signatures;
  }

  count(counter: string, labels: Readonly<Record<string, string>>): void {
    const key = labelledName(counter, labels);
    const found = this.#counts.get(key);
    if (found === undefined) this.#counts.set(key, { counter, labels: { ...labels }, value: 1 });
    else found.value++;
  }

  decided(seconds: number): void {
    let i = 0;
    while (i < DECISION_BUCKETS.length && seconds > (DECISION_BUCKETS[i] ?? Infinity)) i++;
    this.decisionBuckets[i] = (this.decisionBuckets[i] ?? 0) + 1;
    this.decisionSum += seconds;
    this.decisionCount++;
  }

  /** The labelled aggregates as `name{label="value",…}` → count (tests, the dashboard). */
  labelledCounts(): ReadonlyMap<string, LabelledCount> {
    return this.#counts;
  }

  /** Everything as one flat map: drop codes by name, `replies`, and `name{labels}` counts. */
  flat(): Map<string, number> {
    const out = new Map<string, number>(this.drops);
    let replies = 0;
    for (const n of this.replies.values()) replies += n;
    out.set('replies', replies);
    for (const [key, c] of this.#counts) out.set(key, c.value);
    return out;
  }
}

/** `name{a="x",b="y"}` with sorted label names; `name` alone without labels. */
export function labelledName(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

/** What a registry reads at scrape time. */
export interface MetricsSource {
  readonly telemetry: Telemetry;
  status(): ServingStatus;
  /** Epoch seconds; default the wall clock. */
  readonly nowSeconds?: () => number;
  /** Worker number (1..n) in a cluster; absent in a single process. */
  readonly worker?: number;
}

function setCounter(metric: promClient.Counter, values: Iterable<[Record<string, string>, number]>): void {
  metric.reset();
  for (const [labels, value] of values) if (value > 0) metric.inc(labels, value);
}

/**
 * A registry exporting `source`'s tallies (and the process's CPU, memory and event-loop metrics)
 * under {@link METRIC_PREFIX}. Values are copied from the tallies at each scrape.
 * @example const registry = createCollectorRegistry({ telemetry, status: () => ({}) }); await registry.metrics();
 */
export function createCollectorRegistry(source: MetricsSource): promClient.Registry {
  const registry = new Registry();
  const t = source.telemetry;
  const now = source.nowSeconds ?? ((): number => Math.floor(Date.now() / 1000));
  const registers = [registry];
  const p = METRIC_PREFIX;
  new Counter({
    name: `${p}datagrams_received_total`,
    help: 'UDP datagrams received on the collector sockets.',
    registers,
    collect() {
      setCounter(this, [[{}, t.receivedDatagrams]]);
    },
  });
  new Counter({
    name: `${p}received_bytes_total`,
    help: 'UDP payload bytes received.',
    registers,
    collect() {
      setCounter(this, [[{}, t.receivedBytes]]);
    },
  });
  new Counter({
    name: `${p}sent_bytes_total`,
    help: 'UDP payload bytes sent; never more than received, per request ([P-3-2]).',
    registers,
    collect() {
      setCounter(this, [[{}, t.sentBytes]]);
    },
  });
  new Counter({
    name: `${p}answers_total`,
    help: 'Answers sent, by kind (verdict, unsigned-verdict, private, certificate, root, not-found, busy).',
    labelNames: ['kind'],
    registers,
    collect() {
      setCounter(this, [...t.replies].map(([kind, n]) => [{ kind }, n]));
    },
  });
  new Counter({
    name: `${p}drops_total`,
    help: 'Datagrams not answered, by reason code (docs/errors.md).',
    labelNames: ['reason'],
    registers,
    collect() {
      setCounter(this, [...t.drops].map(([reason, n]) => [{ reason }, n]));
    },
  });
  const byCounter = (name: string): [Record<string, string>, number][] =>
    [...t.labelledCounts().values()].filter((c) => c.counter === name).map((c) => [{ ...c.labels }, c.value]);
  new Counter({
    name: `${p}requests_total`,
    help: 'Well-formed requests answered, by kind (identified, private, certificate, root).',
    labelNames: ['kind'],
    registers,
    collect() {
      const kinds = new Map<string, number>();
      for (const c of t.labelledCounts().values()) {
        if (c.counter === 'rate_limited') continue;
        kinds.set(c.counter, (kinds.get(c.counter) ?? 0) + c.value);
      }
      setCounter(this, [...kinds].map(([kind, n]) => [{ kind }, n]));
    },
  });
  new Counter({
    name: `${p}verdicts_total`,
    help: 'Identified verdicts, by status.',
    labelNames: ['status'],
    registers,
    collect() {
      const statuses = new Map<string, number>();
      for (const [labels, n] of byCounter('identified')) {
        const status = labels.status ?? 'unknown';
        statuses.set(status, (statuses.get(status) ?? 0) + n);
      }
      setCounter(this, [...statuses].map(([status, n]) => [{ status }, n]));
    },
  });
  new Counter({
    name: `${p}identified_total`,
    help: 'Identified announcements by vendor, model (only models the feed lists; others "(unlisted)") and status.',
    labelNames: ['vendor', 'model', 'status'],
    registers,
    collect() {
      setCounter(this, byCounter('identified'));
    },
  });
  new Counter({
    name: `${p}private_total`,
    help: 'Private announcements by bucket (the 12-bit prefix in hex); the collector never learns the model.',
    labelNames: ['bucket'],
    registers,
    collect() {
      setCounter(this, byCounter('private'));
    },
  });
  new Counter({
    name: `${p}rate_limited_total`,
    help: 'Requests over their source prefix rate: dropped, or answered with the 5.03 back-off (slip).',
    labelNames: ['action'],
    registers,
    collect() {
      setCounter(this, [
        [{ action: 'drop' }, t.drops.get('RATE_LIMITED') ?? 0],
        [{ action: 'slip' }, byCounter('rate_limited').reduce((sum, [, n]) => sum + n, 0)],
      ]);
    },
  });
  new Counter({
    name: `${p}signatures_total`,
    help: 'Ed25519 signatures computed (verdicts and policy documents); rate() gives signatures per second.',
    registers,
    collect() {
      setCounter(this, [[{}, t.signatures]]);
    },
  });
  // A histogram filled from the tallies at scrape time: prom-client's own Histogram can only be
  // observed (~170 ns a call here, against ~10 ns for the tally), so this is a metric object of
  // the shape its registry reads (registry.js accepts any object with a name and get()).
  const decisionName = `${p}decision_seconds`;
  const decisionHelp = 'Time from receiving a datagram to handing its answer (or drop) over, seconds.';
  registry.registerMetric({
    name: decisionName,
    help: decisionHelp,
    get: () => {
      const values: MetricValueWithName<string>[] = [];
      let cumulative = 0;
      DECISION_BUCKETS.forEach((le, i) => {
        cumulative += t.decisionBuckets[i] ?? 0;
        values.push({ metricName: `${decisionName}_bucket`, labels: { le }, value: cumulative });
      });
      values.push({ metricName: `${decisionName}_bucket`, labels: { le: '+Inf' }, value: t.decisionCount });
      values.push({ metricName: `${decisionName}_sum`, labels: {}, value: t.decisionSum });
      values.push({ metricName: `${decisionName}_count`, labels: {}, value: t.decisionCount });
      return Promise.resolve({ name: decisionName, help: decisionHelp, type: 'histogram', aggregator: 'sum', values });
    },
    reset: () => undefined,
  } as unknown as promClient.Metric);
  const status = (): ServingStatus => source.status();
  new Gauge({
    name: `${p}feed_version`,
    help: 'Version of the feed being served (the lowest across workers).',
    aggregator: 'min',
    registers,
    collect() {
      const feed = status().feed;
      this.reset();
      if (feed !== undefined) this.set(feed.version);
    },
  });
  new Gauge({
    name: `${p}feed_age_seconds`,
    help: 'Seconds since the served feed was issued (the oldest across workers).',
    aggregator: 'max',
    registers,
    collect() {
      const feed = status().feed;
      this.reset();
      if (feed !== undefined) this.set(now() - feed.issuedAt);
    },
  });
  new Gauge({
    name: `${p}feed_expiry_timestamp_seconds`,
    help: 'When the served feed expires, epoch seconds; after it no FAIL is signed (the earliest across workers).',
    aggregator: 'min',
    registers,
    collect() {
      const feed = status().feed;
      this.reset();
      if (feed !== undefined) this.set(feed.expiresAt);
    },
  });
  new Gauge({
    name: `${p}certificate_expiry_timestamp_seconds`,
    help: "The collector key certificate's not_after, epoch seconds (the earliest across workers).",
    aggregator: 'min',
    registers,
    collect() {
      const notAfter = status().certificateNotAfter;
      this.reset();
      if (notAfter !== undefined) this.set(notAfter);
    },
  });
  new Gauge({
    name: `${p}notify_rows`,
    help: 'Rows in the notify store; 0 while notify is off (nothing is stored).',
    aggregator: 'max',
    registers,
    collect() {
      const rows = status().notifyRows;
      this.reset();
      if (rows !== undefined) this.set(rows);
    },
  });
  if (source.worker !== undefined) {
    const worker = String(source.worker);
    new Counter({
      name: `${p}worker_datagrams_received_total`,
      help: 'Datagrams received by each worker process (how the kernel spreads the shared socket).',
      labelNames: ['worker'],
      registers,
      collect() {
        setCounter(this, [[{ worker }, t.receivedDatagrams]]);
      },
    });
  }
  collectDefaultMetrics({ register: registry, prefix: p });
  return registry;
}

/** The JSON form of one process's metrics, as a worker sends it to the primary. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Sums the workers' metrics (gauges by their declared aggregator) into one registry. */
export function aggregateMetrics(workers: readonly MetricsJson[]): promClient.Registry {
  return AggregatorRegistry.aggregate(workers.map((w) => [...w]));
}

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = promClient.register.contentType;
