/**
 * The collector's thin shell (style B2.1): the only file that imports node:dgram. It loads the
 * key, certificate, root and feed named by the config, binds one socket per listen address, feeds
 * each datagram to the pure core ({@link onDatagram}) and performs the effects it returns.
 * It decides nothing: every answer, drop and count comes from the core. The one check of its own
 * is the last-moment size check at the send path ([P-3-2]: never an answer larger than its request).
 * @module
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { verifyBundle, type BundleManifest, type VerifiedBundle } from '../feed/bundle.ts';
import { decodeCbor, formatIp, parseIp, readKeyCertificate, type Root } from '../protocol/index.ts';
import { equalBytes, type PrivateKey } from '../crypto/index.ts';
import { readPrivateKeyFile, readRootFile } from '../cli/files.ts';
import { loadCollectorConfig, type CollectorConfig } from './config.ts';
import { fetchFeed, type FeedFetchDeps, type FeedValidators } from './feed-source.ts';
import {
  createCollectorState,
  onDatagram,
  withFeed,
  withKey,
  withPolicy,
  withSettings,
  type CollectorOptions,
  type CollectorState,
  type Datagram,
  type Effect,
  type Endpoint,
} from './core.ts';
import { openNotifySink, type NotifyEvent, type NotifySink } from './notify-store.ts';
import type { Registry } from 'prom-client';
import { createLogSink, type LogSink } from '../logging/log.ts';
import { startOpsServer, type OpsServer } from './http.ts';
import { Telemetry, createCollectorRegistry, type MetricsJson, type ServingStatus } from './metrics.ts';
import { startDashboard, type RunningDashboard } from './dashboard-service.ts';
import { startStatsRecorder, type StatsRecorder } from './dashboard-stats.ts';
import type { AggregateCounts } from './aggregate-counts.ts';
import { buildVendorReport } from '../report/vendors.ts';
import type { ReportWindow, VendorReport } from '../report/types.ts';
import { COLLECTOR_POLICY_DEFAULTS, type CollectorPolicy } from './policy.ts';

/** What the shell needs from outside; tests inject a fixed clock and capture the log. */
export interface CollectorDeps {
  /** Epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
  /** Operator-facing events; default JSON lines on stderr (src/logging/log.ts). */
  readonly log?: LogSink;
  /**
   * Running as worker `n` of a cluster (cluster.ts): sockets are shared with the other workers
   * (bound non-exclusively through the primary), no metrics listener of its own, and notify
   * events go to `notifySink` (the primary's store) instead of a store of its own.
   */
  readonly worker?: { readonly id: number; readonly notifySink: NotifySink };
  /** Pulls a URL feed; default Node's global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Timeout of one feed pull in milliseconds; default 30 s (feed-source.ts). */
  readonly feedTimeoutMs?: number;
  /**
   * Runs `pull` once after `ms` and returns a function that cancels it; default an `unref()`ed
   * `setTimeout`. Tests capture `pull` and await it instead of waiting for the interval.
   */
  readonly schedule?: (pull: () => Promise<void>, ms: number) => () => void;
  /** Uniform in [0, 1), for the ±10 % jitter of the pull interval; default `Math.random`. */
  readonly random?: () => number;
}

/** What a vendor report is asked for: the counts and the time they cover. */
export interface VendorReportRequest {
  readonly counts: AggregateCounts;
  readonly window: ReportWindow;
  readonly nowSeconds: number;
}

/** The pull interval is jittered by ±10 % so that many collectors do not pull in step. */
const PULL_JITTER = 0.1;

/** A bound, serving collector. */
export interface RunningCollector {
  /** The bound addresses, with the ports the OS chose for port 0. */
  addresses(): { address: string; port: number }[];
  /** In-memory counters: drop codes (`BAD_LENGTH`, `OVERSIZE_ANSWER`, `INTERNAL`…), `replies`, and the core's counts as `name{label=value,…}`. */
  counters(): ReadonlyMap<string, number>;
  /** This process's metrics registry (Prometheus); see metrics.ts. */
  readonly registry: Registry;
  /** What it serves from: feed, certificate expiry, notify rows (for /healthz and the metrics). */
  status(): ServingStatus;
  /** The metrics listener's address, when `metrics` is configured (never in a worker). */
  opsAddress(): { address: string; port: number } | undefined;
  /** The vendor report of `counts` over the records of the feed this process serves (the dashboard's, cluster.ts). */
  vendorReport(input: VendorReportRequest): VendorReport;
  /** Emits `handled` after each datagram's effects are performed (tests await it instead of sleeping). */
  readonly events: EventEmitter;
  /** Re-reads the config, key, certificate and feed (SIGHUP); keeps what it cannot reload and logs why. Never rejects. */
  reload(): Promise<void>;
  /** Closes every socket and the notify store. */
  close(): Promise<void>;
}

/** The core's policy from the config's (field names differ: exempt → exemptPrefixes, lifetimes). */
export function policyOf(config: CollectorConfig): CollectorPolicy {
  const p = config.policy;
  return {
    ...COLLECTOR_POLICY_DEFAULTS,
    kevOnly: p.kevOnly,
    minCvss10: p.minCvss10,
    deny: p.deny,
    allow: p.allow,
    warnOnly: p.warnOnly,
    exemptPrefixes: p.exempt,
    verdictLifetimes: { ...p.verdictLifetimeSeconds },
  };
}

/** The core's rate-limit options from the config's (tableSize → maxEntries). */
function rateLimitOf(config: CollectorConfig): NonNullable<CollectorOptions['rateLimit']> {
  const r = config.rateLimit;
  return {
    ratePerSecond: r.ratePerSecond,
    burst: r.burst,
    ipv4PrefixLength: r.ipv4PrefixLength,
    ipv6PrefixLength: r.ipv6PrefixLength,
    slip: r.slip,
    retryAfterSeconds: r.retryAfterSeconds,
    maxEntries: r.tableSize,
  };
}

async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : `cannot read (${code ?? 'error'})`;
    throw new Error(`${path}: ${what}: ${problem}; check the path and permissions`, { cause: err });
  }
}

interface Loaded {
  readonly key: PrivateKey;
  readonly certificate: Uint8Array;
  readonly root: Root;
  readonly rootBytes: Uint8Array;
  readonly feed: LoadedFeed;
}

/** A verified feed and, for a URL feed, where it came from and the validators of its response. */
interface LoadedFeed {
  readonly bundle: VerifiedBundle;
  readonly url?: string;
  readonly validators?: FeedValidators;
}

/** Reads (file) or fetches (URL, unconditionally) the feed bundle and verifies it; errors name the file or URL. */
async function loadFeed(
  config: CollectorConfig,
  root: Root,
  nowMs: number,
  fetchDeps: FeedFetchDeps,
): Promise<LoadedFeed> {
  const source = config.feed.source;
  const where = source.kind === 'url' ? source.url : source.path;
  let bytes: Uint8Array;
  let validators: FeedValidators | undefined;
  if (source.kind === 'url') {
    const fetched = await fetchFeed(source.url, undefined, fetchDeps);
    if (fetched.kind !== 'fetched')
      throw new Error(
        `${source.url}: HTTP 304 to an unconditional request; the server must send the bundle`,
      );
    bytes = fetched.bytes;
    validators = fetched.validators;
  } else {
    bytes = await readBytes(source.path, 'feed bundle');
  }
  const verified = verifyBundle(bytes, root, { nowSeconds: Math.floor(nowMs / 1000) });
  if (!verified.ok)
    throw new Error(`${where}: feed bundle refused (${verified.reason}: ${verified.message})`);
  return source.kind === 'url' && validators !== undefined
    ? { bundle: verified.bundle, url: source.url, validators }
    : { bundle: verified.bundle };
}

/** Reads and checks every file the config names, then loads the feed; each error names its file or URL. */
async function loadFiles(
  config: CollectorConfig,
  nowMs: number,
  fetchDeps: FeedFetchDeps,
): Promise<Loaded> {
  // Local files first: a missing key is reported without a network round trip.
  const key = await readPrivateKeyFile(config.keyPath);
  const certificate = await readBytes(config.certificatePath, 'collector certificate');
  const root = await readRootFile(config.feed.rootPath);
  const rootBytes = await readBytes(config.feed.rootPath, 'root document');
  const feed = await loadFeed(config, root.value, nowMs, fetchDeps);
  return { key, certificate, root: root.value, rootBytes, feed };
}

/** Same version and same content digests: the bundle already served (a server without validators). */
function sameBundle(a: BundleManifest, b: BundleManifest): boolean {
  return (
    a.feedVersion === b.feedVersion &&
    equalBytes(a.recordsDigest, b.recordsDigest) &&
    equalBytes(a.pagesDigest, b.pagesDigest)
  );
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function bind(socket: Socket, address: string, port: number, exclusive: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      const code = (err as NodeJS.ErrnoException).code;
      const hint =
        code === 'EADDRINUSE'
          ? 'the port is in use; stop the other process or change listen[].port'
          : code === 'EADDRNOTAVAIL'
            ? 'the address is not configured on this host'
            : code === 'EACCES'
              ? 'permission denied; ports below 1024 need CAP_NET_BIND_SERVICE'
              : 'cannot bind';
      reject(
        new Error(
          `listen ${address.includes(':') ? `[${address}]` : address}:${port}: ${code ?? 'error'}: ${hint}`,
          { cause: err },
        ),
      );
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/**
 * Receive buffer asked of the kernel for each socket: 4 MiB holds ~3,400 padded requests, so a
 * burst or a pause of a few milliseconds (GC, a feed swap) loses nothing. The default (~208 KiB
 * here) held ~90 and lost datagrams under load in bench:collector. Linux caps the request at
 * net.core.rmem_max; raise that sysctl to get the full size.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function setReceiveBuffer(socket: Socket): void {
  try {
    socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
  } catch {
    // Refused (a sandbox without the permission): the kernel default stays; serving goes on.
  }
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => {
        resolve();
      });
    } catch {
      resolve(); // already closed
    }
  });
}

/** The 4- or 16-byte address of a socket's text address (any IPv6 zone id is dropped). */
function addressBytes(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%');
  return parseIp(zone === -1 ? text : text.slice(0, zone));
}

/**
 * Loads every file the config names (and fetches a URL feed once), binds every listen address and
 * serves; a URL feed is then pulled every `feed.pullInterval` ± 10 % with a conditional request,
 * and a newer verified bundle swapped in. Rejects, naming the file, URL or address, on an
 * unreadable key or certificate, a bad, expired or unreachable feed, a port in use.
 * @example const collector = await startCollector(await loadCollectorConfig(file), {});
 */
export async function startCollector(
  config: CollectorConfig,
  deps: CollectorDeps = {},
): Promise<RunningCollector> {
  const now = deps.now ?? Date.now;
  const log: LogSink = deps.log ?? createLogSink({ format: 'json', name: 'tattler-collector' });
  // Aborts an in-flight pull on close.
  const closing = new AbortController();
  const fetchDeps: FeedFetchDeps = {
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.feedTimeoutMs === undefined ? {} : { timeoutMs: deps.feedTimeoutMs }),
  };
  const loaded = await loadFiles(config, now(), fetchDeps);
  let state: CollectorState;
  try {
    state = createCollectorState({
      operator: config.operator,
      key: loaded.key,
      certificate: loaded.certificate,
      policy: policyOf(config),
      rateLimit: rateLimitOf(config),
      roots: [loaded.rootBytes],
      feed: loaded.feed.bundle,
      notify: config.privacy.notify.enabled,
    });
  } catch (err) {
    throw new Error(
      `${config.file}: cannot serve with key ${config.keyPath}, certificate ${config.certificatePath}: ${describeError(err)}`,
      { cause: err },
    );
  }
  let current = config;
  // The feed as last swapped in, the root that verifies the next one, and the URL feed's validators.
  let feedManifest: BundleManifest = loaded.feed.bundle.manifest;
  let feedRoot: Root = loaded.root;
  let feedUrl: string | undefined = loaded.feed.url;
  let validators: FeedValidators | undefined = loaded.feed.validators;
  let sink: NotifySink = deps.worker?.notifySink ?? openNotifySink(config.privacy.notify, now());
  const telemetry = new Telemetry();
  const events = new EventEmitter();
  const bump = (code: string): void => {
    telemetry.drop(code);
  };

  const sockets: { socket: Socket; destination: Uint8Array }[] = [];
  const perform = (
    socket: Socket,
    datagram: Datagram,
    peer: RemoteInfo,
    effects: readonly Effect[],
    nowMs: number,
  ): void => {
    const notify: NotifyEvent[] = [];
    let replied = false;
    for (const effect of effects) {
      switch (effect.kind) {
        case 'reply':
          // At most one answer per request, never larger than it: checked again here ([P-3-2]).
          if (replied) {
            bump('EXTRA_REPLY');
          } else if (effect.bytes.byteLength > datagram.bytes.byteLength) {
            bump('OVERSIZE_ANSWER');
          } else {
            replied = true;
            telemetry.reply(effect.answer, effect.bytes.byteLength, effect.signatures);
            socket.send(effect.bytes, peer.port, peer.address, (err) => {
              if (err) bump('SEND_ERROR');
            });
          }
          break;
        case 'drop':
          bump(effect.code);
          break;
        case 'count':
          telemetry.count(effect.counter, effect.labels);
          break;
        case 'notify':
          notify.push(effect);
          break;
      }
    }
    if (notify.length > 0) sink.record(notify, nowMs);
  };

  const handler = (socket: Socket, destination: Uint8Array) => {
    // Read once: getsockname() per datagram cost ~5 % of the CPU under load (--cpu-prof).
    const local: Endpoint = { address: destination, port: socket.address().port };
    return (bytes: Buffer, peer: RemoteInfo): void => {
      const started = process.hrtime.bigint();
      telemetry.received(bytes.byteLength);
      try {
        const address = addressBytes(peer.address);
        if (address === undefined) {
          bump('BAD_SOURCE');
          return;
        }
        const nowMs = now();
        const datagram: Datagram = {
          bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          source: { address, port: peer.port },
          destination: local,
        };
        perform(socket, datagram, peer, onDatagram(state, datagram, nowMs), nowMs);
      } catch {
        // A bug, never the peer's doing: count it and keep serving (the peer gets nothing).
        bump('INTERNAL');
      } finally {
        telemetry.decided(Number(process.hrtime.bigint() - started) / 1e9);
        events.emit('handled');
      }
    };
  };

  try {
    for (const listen of config.listen) {
      const socket = createSocket({ type: listen.family === 4 ? 'udp4' : 'udp6' });
      const destination = addressBytes(listen.address);
      if (destination === undefined)
        throw new Error(`${config.file}: listen address ${listen.address} is not an IP literal`);
      sockets.push({ socket, destination });
      // In a cluster the primary binds once and every worker receives from the same socket.
      await bind(socket, listen.address, listen.port, deps.worker === undefined);
      setReceiveBuffer(socket);
      socket.on('message', handler(socket, destination));
      socket.on('error', (err) => {
        bump('SOCKET_ERROR');
        log('error', 'socket_error', `socket ${listen.address}: ${err.message}`);
      });
    }
  } catch (err) {
    await Promise.all(sockets.map((s) => closeSocket(s.socket)));
    sink.close();
    throw err;
  }

  /**
   * One conditional pull of a URL feed onto `base`: the state with the newer feed swapped in, or
   * `base` unchanged (304, the same bundle, or any failure: one log line says why). Never rejects.
   */
  const pullFeed = async (
    base: CollectorState,
    config: CollectorConfig,
    why: 'pull' | 'reload',
  ): Promise<CollectorState> => {
    const source = config.feed.source;
    if (source.kind !== 'url') return base;
    const running = base.feed?.feedVersion;
    const keep = (reason: string): CollectorState => {
      log('warn', 'feed_kept', `${why}: feed not updated, keeping feed version ${running ?? '(none)'}: ${reason}`,
      );
      return base;
    };
    try {
      const fetched = await fetchFeed(source.url, source.url === feedUrl ? validators : undefined, {
        ...fetchDeps,
        signal: closing.signal,
      });
      if (fetched.kind === 'unchanged') return base;
      const verified = verifyBundle(fetched.bytes, feedRoot, {
        nowSeconds: Math.floor(now() / 1000),
      });
      if (!verified.ok)
        return keep(`${source.url}: feed bundle refused (${verified.reason}: ${verified.message})`);
      const manifest = verified.bundle.manifest;
      if (sameBundle(manifest, feedManifest) && source.url === feedUrl) {
        validators = fetched.validators;
        return base;
      }
      if (running !== undefined && manifest.feedVersion <= running) {
        return keep(
          `${source.url}: feed version ${manifest.feedVersion} is not above the running ${running}; a feed never goes back`,
        );
      }
      const next = withFeed(base, verified.bundle);
      feedManifest = manifest;
      feedUrl = source.url;
      validators = fetched.validators;
      log('info', 'feed_updated', `${why}: feed version ${manifest.feedVersion} from ${source.url}`);
      return next;
    } catch (err) {
      if (closed) return base; // aborted by close(): nothing to say
      return keep(describeError(err));
    }
  };

  // Every change of `state` after start-up runs here, one at a time (a pull and a SIGHUP may overlap).
  let queue: Promise<void> = Promise.resolve();
  const serial = (task: () => Promise<void>): Promise<void> => {
    const run = queue.then(task);
    queue = run.catch(() => undefined);
    return run;
  };

  const schedule =
    deps.schedule ??
    ((pull: () => Promise<void>, ms: number): (() => void) => {
      const timer = setTimeout(() => void pull(), ms);
      timer.unref(); // the sockets keep the process alive, never the pull timer
      return () => {
        clearTimeout(timer);
      };
    });
  const random = deps.random ?? Math.random;
  let closed = false;
  let cancelPull: (() => void) | undefined;
  /** Schedules the next pull of a URL feed, if none is pending: pullInterval ± 10 %. */
  const armPull = (): void => {
    if (closed || cancelPull !== undefined || current.feed.source.kind !== 'url') return;
    const ms = Math.round(
      current.feed.pullIntervalSeconds * 1000 * (1 - PULL_JITTER + 2 * PULL_JITTER * random()),
    );
    cancelPull = schedule(async () => {
      cancelPull = undefined;
      await serial(async () => {
        if (!closed) state = await pullFeed(state, current, 'pull');
      });
      armPull();
    }, ms);
  };

  const reloadNow = async (): Promise<void> => {
    let next: CollectorConfig;
    try {
      next = await loadCollectorConfig(current.file);
    } catch (err) {
      log('warn', 'config_kept', `reload: config not reloaded, keeping the running one: ${describeError(err)}`,
      );
      return;
    }
    const changed = (key: keyof CollectorConfig): boolean =>
      JSON.stringify(next[key]) !== JSON.stringify(current[key]);
    const restartOnly = (['listen', 'workers', 'metrics', 'stats'] as const).filter(changed);
    if (restartOnly.length > 0)
      log('warn', 'restart_needed', `reload: ${restartOnly.join(', ')} changed; these take effect on restart only`,
      );
    let updated = state;
    try {
      updated = withPolicy(updated, policyOf(next));
    } catch (err) {
      log('warn', 'policy_kept', `reload: policy not reloaded, keeping the running one: ${describeError(err)}`,
      );
    }
    try {
      // Operator, rate limit and notify switch in place; a changed rate limit starts an empty table.
      // A worker's notify events go to the primary's store, which the primary reopens itself.
      const reopen = changed('privacy') && deps.worker === undefined;
      const opened = reopen ? openNotifySink(next.privacy.notify, now()) : undefined;
      try {
        updated = withSettings(updated, {
          ...(changed('operator') ? { operator: next.operator } : {}),
          ...(changed('rateLimit') ? { rateLimit: rateLimitOf(next) } : {}),
          notify: next.privacy.notify.enabled,
        });
      } catch (err) {
        opened?.close();
        throw err;
      }
      if (opened !== undefined) {
        sink.close();
        sink = opened;
      }
    } catch (err) {
      log('warn', 'settings_kept', `reload: operator, rate limit and privacy not reloaded, keeping the running ones: ${describeError(err)}`,
      );
    }
    try {
      const key = await readPrivateKeyFile(next.keyPath);
      const certificate = await readBytes(next.certificatePath, 'collector certificate');
      updated = withKey(updated, key, certificate);
    } catch (err) {
      log('warn', 'key_kept', `reload: key and certificate not reloaded, keeping the running ones: ${describeError(err)}`,
      );
    }
    try {
      const root = await readRootFile(next.feed.rootPath);
      feedRoot = root.value;
      if (next.feed.source.kind === 'url') {
        updated = await pullFeed(updated, next, 'reload');
      } else {
        const feed = await loadFeed(next, root.value, now(), fetchDeps);
        updated = withFeed(updated, feed.bundle);
        feedManifest = feed.bundle.manifest;
        feedUrl = undefined;
        validators = undefined;
      }
    } catch (err) {
      log('warn', 'feed_kept', `reload: feed not reloaded, keeping feed version ${state.feed?.feedVersion ?? '(none)'}: ${describeError(err)}`,
      );
    }
    state = updated;
    current = next;
    log('info', 'reloaded', `reloaded ${next.file}; feed version ${state.feed?.feedVersion ?? '(none)'}`,
    );
  };
  const reload = async (): Promise<void> => {
    await serial(reloadNow);
    armPull(); // the reloaded config may have switched to a URL feed
  };
  armPull();

  // The certificate's expiry, parsed once per certificate (checkedCertificate already decoded it).
  let certificateSeen: Uint8Array | undefined;
  let certificateNotAfter: number | undefined;
  const status = (): ServingStatus => {
    if (state.certificate !== certificateSeen) {
      certificateSeen = state.certificate;
      certificateNotAfter = readKeyCertificate(decodeCbor(state.certificate)).value.notAfter;
    }
    const feed = state.feed;
    const rows = sink.size();
    return {
      ...(feed === undefined
        ? {}
        : { feed: { version: feed.feedVersion, issuedAt: feedManifest.issuedAt, expiresAt: feed.expiresAt } }),
      ...(certificateNotAfter === undefined ? {} : { certificateNotAfter }),
      ...(rows === undefined ? {} : { notifyRows: rows }),
    };
  };
  const registry = createCollectorRegistry({
    telemetry,
    status,
    nowSeconds: () => Math.floor(now() / 1000),
    ...(deps.worker === undefined ? {} : { worker: deps.worker.id }),
  });
  const nowSeconds = (): number => Math.floor(now() / 1000);
  const vendorReport = (input: VendorReportRequest): VendorReport => {
    const feed = state.feed;
    const records = feed === undefined ? [] : [...feed.records.values()].flatMap((list) => list.map((r) => r.record));
    return buildVendorReport({ ...input, records, feedVersion: feed?.feedVersion ?? null });
  };
  // The dashboard and the stats store read the very JSON /metrics is rendered from.
  const readMetrics = (): Promise<MetricsJson> => registry.getMetricsAsJSON();
  let ops: OpsServer | undefined;
  let dashboard: RunningDashboard | undefined;
  if (config.metrics !== null && deps.worker === undefined) {
    try {
      if (config.metrics.dashboard.enabled) {
        dashboard = startDashboard(config.metrics.dashboard, {
          read: async () => ({ metrics: await readMetrics(), status: status() }),
          vendorReport: (input) => Promise.resolve(vendorReport(input)),
          nowSeconds,
        });
      }
      ops = await startOpsServer(config.metrics, {
        metrics: () => registry.metrics(),
        status,
        nowSeconds,
        ...(dashboard === undefined ? {} : { dashboard }),
      });
    } catch (err) {
      dashboard?.close();
      closed = true;
      cancelPull?.();
      await Promise.all(sockets.map((s) => closeSocket(s.socket)));
      sink.close();
      throw err;
    }
  }
  // A worker's counts reach the store through the primary's scrape (cluster.ts).
  const stats: StatsRecorder | undefined =
    config.stats !== null && deps.worker === undefined
      ? startStatsRecorder(config.stats, { read: readMetrics, nowSeconds, log })
      : undefined;

  return {
    addresses: () =>
      sockets.map(({ socket }) => {
        const a = socket.address();
        return { address: a.address, port: a.port };
      }),
    counters: () => telemetry.flat(),
    registry,
    status,
    opsAddress: () => ops?.address,
    vendorReport,
    events,
    reload,
    close: async () => {
      closed = true;
      cancelPull?.();
      cancelPull = undefined;
      closing.abort();
      await queue;
      await Promise.all(sockets.map((s) => closeSocket(s.socket)));
      dashboard?.close();
      await ops?.close();
      // After the sockets: the last record holds every datagram counted.
      await stats?.close();
      sink.close();
    },
  };
}

/** `192.0.2.53:5683` or `[2001:db8::53]:5683`. */
export function formatListen(address: { address: string; port: number }): string {
  const bytes = addressBytes(address.address);
  const text = bytes === undefined ? address.address : formatIp(bytes);
  return text.includes(':') ? `[${text}]:${address.port}` : `${text}:${address.port}`;
}
