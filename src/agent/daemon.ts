/**
 * The device agent's shell (docs/agent.md): performs the pure core's effects. UDP sockets send
 * announcements and feed every datagram back as `answer` events; timers run on the monotonic
 * clock; quarantine and lift go to an injected route layer; `persist` writes state.json
 * atomically; a network monitor reports the default route and addresses; an optional nftables
 * start-up window holds general traffic until the first verdict.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LogSink } from '../logging/log.ts';
import { createNotifier, type Notifier, type NotifierDeps } from '../owner/notifier.ts';
import { startStatusPage, type StatusPage } from '../owner/status-page.ts';
import type { OwnerStatus } from '../owner/types.ts';
import { REFUSAL_CODES, formatIp, parseIp } from '../protocol/index.ts';
import {
  loadAgentConfig,
  loadAgentTrust,
  coreConfigOf,
  type AgentSettings,
  type AgentTrust,
} from './config.ts';
import {
  createAgent,
  onEvent,
  persistedStateOf,
  type AgentClock,
  type AgentEffect,
  type AgentEvent,
  type AgentState,
  type AgentStatus,
  type QuarantineHosts,
  type TimerId,
} from './core.ts';
import { createNetworkMonitor, type NetworkMonitor, type NetworkView } from './network-monitor.ts';
import { logWanOutcome, withWanAddress } from './wan-address.ts';
import { OwnerRequestError, takeOwnerRequest, type OwnerRequest } from './owner-request.ts';
import { ownerStatusOf } from './owner-view.ts';
import {
  applyQuarantine,
  createIpExec,
  liftQuarantine,
  resolveAllowList,
  type AddressResolver,
  type AllowList,
  type IpExec,
} from './routes.ts';
import type { RandomBytes, Schedule } from './schedule.ts';
import {
  createNftStartupWindow,
  isNftAvailable,
  type StartupWindowLayer,
} from './startup-window.ts';
import {
  ensureStateDir,
  findRunningAgent,
  readStateFile,
  readStatusFile,
  removePidFile,
  STATE_FILES,
  type OwnerRequestOutcome,
  writePidFile,
  writeStateFile,
  writeStatusFile,
  type StateFs,
} from './state-file.ts';

/** What the daemon needs from the routing layer (routes.ts in production; a recorder in tests). */
export interface RouteLayer {
  /** Installs or updates the quarantine for `allow` (idempotent). */
  apply(allow: AllowList): Promise<void>;
  /** Removes it (idempotent). */
  lift(): Promise<void>;
  /**
   * Optional: removes a quarantine of ours that no state accounts for (left by a crash between
   * installing it and persisting it); resolves true when there was one. Run once at start when
   * the persisted state holds no quarantine.
   */
  clearLeftovers?(): Promise<boolean>;
}

/** The policy-routing layer of routes.ts with the configured table and priorities. */
export function createIpRouteLayer(
  settings: AgentSettings,
  exec: IpExec = createIpExec(),
): RouteLayer {
  const options = {
    table: settings.quarantine.table,
    lookupPriority: settings.quarantine.priority,
    unreachablePriority: settings.quarantine.priority + 1,
  };
  return {
    async apply(allow) {
      await applyQuarantine(exec, allow, options);
    },
    async lift() {
      await liftQuarantine(exec, options);
    },
    async clearLeftovers() {
      return (await liftQuarantine(exec, options)).changed;
    },
  };
}

/** Shell timings; tests shorten them. */
export const DAEMON_DEFAULTS = Object.freeze({
  /** First retry of a failed route operation; doubles up to the cap. */
  routeRetryMs: 5_000,
  routeRetryCapMs: 300_000,
  /** The start-up window closes at the latest this long after start, announced or not. */
  startupWindowCapMs: 60_000,
  /** DNS for the allow-list: per try, and tries (node:dns Resolver options). */
  dnsTimeoutMs: 3_000,
  dnsTries: 2,
});

// setTimeout's delay is a signed 32-bit number of ms (~24.8 days); the periodic announcement is
// 30 days away, so longer timers are re-armed in steps.
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Injected I/O; everything has a production default. */
export interface AgentDaemonDeps {
  readonly log: LogSink;
  readonly routes?: RouteLayer;
  readonly network?: NetworkMonitor;
  readonly resolver?: AddressResolver;
  /** `null`: no start-up window whatever the config says; default nftables when `nft` runs. */
  readonly startupWindow?: StartupWindowLayer | null;
  /** Nameservers when `dns` is not configured; default those of /etc/resolv.conf. */
  readonly systemResolvers?: () => Promise<string[]>;
  readonly schedule?: Schedule;
  /** The core's answer window (default 30 s, [P-8.4-2]); tests shorten it. */
  readonly answerWindowMs?: number;
  readonly monotonicMs?: () => number;
  readonly wallMs?: () => number;
  readonly random?: RandomBytes;
  readonly stateFs?: StateFs;
  readonly pid?: number;
  readonly routeRetryMs?: number;
  readonly startupWindowCapMs?: number;
  /** The status page's port instead of `owner.page.port` (tests: 0 picks a free one). */
  readonly ownerPagePort?: number;
  /** Notification channel knobs (tests: webhook retries, fetch). */
  readonly notifier?: Omit<NotifierDeps, 'log'>;
  /**
   * Receives the owner secret generated at the first start, once; the CLI writes it to stderr.
   * Default: process.stderr. The secret never goes to the log.
   */
  readonly onOwnerSecret?: (secret: string) => void;
}

/** A running agent. */
export interface RunningAgent {
  /**
   * `effect` (each effect, before it is performed), `performed` (after), `routes` (`applied` |
   * `lifted` | `failed`), `startup-window` (`opened` | `closed`), `idle` (queue drained):
   * tests await these instead of sleeping.
   */
  readonly events: EventEmitter;
  /** The core's current state. */
  state(): AgentState;
  /** The local UDP ports, by family. */
  localPorts(): { family: 4 | 6; port: number }[];
  /** SIGUSR1: announce now. */
  announceNow(): void;
  /** SIGHUP: re-read the config and restart the core with it, keeping the state. Never rejects. */
  reload(): Promise<void>;
  /** SIGTERM: stop; a quarantine stays in place (it is state, not process). */
  close(): Promise<void>;
  /** Resolves once every queued event and task is done. */
  idle(): Promise<void>;
  /** What the owner sees now (the status page and notifications show this). */
  ownerStatus(): OwnerStatus;
  /**
   * The owner overrides the quarantine in force (its advisories, this software version), for
   * `forSeconds` or until resumed. Rejects with {@link OwnerRequestError} `NOT_QUARANTINED` or
   * `NOT_COVERED`.
   */
  override(reason: string, forSeconds?: number): Promise<OwnerStatus>;
  /** Ends the owner's override; rejects with {@link OwnerRequestError} `NOT_OVERRIDDEN`. */
  resume(): Promise<OwnerStatus>;
  /** SIGUSR2: takes owner-request.json, acts on it and writes the outcome to status.json. */
  handleOwnerRequest(): void;
  /** Where the status page listens, when it runs. */
  ownerPageAddress(): { address: string; port: number } | undefined;
  /** Resolves once the status page has started (or failed to), with its address if it runs. */
  ownerPageStarted(): Promise<{ address: string; port: number } | undefined>;
}

type Job =
  | { readonly kind: 'event'; readonly event: AgentEvent }
  | { readonly kind: 'task'; readonly name: string; readonly run: () => Promise<void> };

type RouteWanted =
  | { readonly kind: 'quarantine'; readonly hosts: QuarantineHosts; readonly advisories: readonly string[] }
  | { readonly kind: 'lift' };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Nameservers of a resolv.conf text (IP literals; scope ids dropped). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = m?.[1]?.split('%')[0];
    if (address !== undefined && isIP(address) !== 0 && !out.includes(address)) out.push(address);
  }
  return out;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/**
 * The system's resolvers: /etc/resolv.conf, or, when it lists only a local stub
 * (systemd-resolved's 127.0.0.53), the upstream servers the stub uses.
 */
async function systemResolvers(): Promise<string[]> {
  const read = async (path: string): Promise<string[]> => {
    try {
      return parseResolvConf(await readFile(path, 'utf8'));
    } catch {
      return [];
    }
  };
  const servers = await read('/etc/resolv.conf');
  if (servers.length > 0 && servers.every(isLoopback)) {
    const upstream = await read('/run/systemd/resolve/resolv.conf');
    if (upstream.length > 0) return upstream;
  }
  return servers;
}

/**
 * Starts the agent: reads the persisted state, creates the core (its first effects re-apply a
 * quarantine still in force before anything else), opens the sockets, writes agent.pid, opens
 * the start-up window if configured, and starts watching the network. Rejects on a state
 * directory it cannot use, another running agent, or sockets it cannot open.
 * @example const agent = await startAgentDaemon(settings, trust, { log });
 */
export async function startAgentDaemon(
  initialSettings: AgentSettings,
  initialTrust: AgentTrust,
  deps: AgentDaemonDeps,
): Promise<RunningAgent> {
  const log = deps.log;
  const monotonicMs = deps.monotonicMs ?? ((): number => performance.now());
  const wallMs = deps.wallMs ?? Date.now;
  const random: RandomBytes = deps.random ?? ((n) => new Uint8Array(randomBytes(n)));
  const pid = deps.pid ?? process.pid;
  const routeRetryMs = deps.routeRetryMs ?? DAEMON_DEFAULTS.routeRetryMs;
  const events = new EventEmitter();
  let settings = initialSettings;
  const stateDir = settings.stateDir;

  await ensureStateDir(stateDir);
  const other = await findRunningAgent(stateDir);
  if (other !== undefined && other !== pid)
    throw new Error(
      `another tattler agent (pid ${other}) uses ${stateDir}; stop it first, or give this one its own stateDir`,
    );
  const read = await readStateFile(stateDir, { nowMs: wallMs() });
  if (read.kind === 'corrupt')
    log(
      'error',
      'state_corrupt',
      `state.json refused (${read.error.code}: ${read.error.message}); ${read.movedTo === undefined ? `could not move it aside (${read.moveError ?? '?'})` : `moved to ${read.movedTo}`}; starting fresh`,
      { code: read.error.code },
    );

  const previous = await readStatusFile(stateDir);
  const routes = deps.routes ?? createIpRouteLayer(settings);
  const resolver: AddressResolver =
    deps.resolver ??
    ((): AddressResolver => {
      const r = new Resolver({ timeout: DAEMON_DEFAULTS.dnsTimeoutMs, tries: DAEMON_DEFAULTS.dnsTries });
      if (settings.dns !== null) r.setServers([...settings.dns]);
      return r;
    })();
  // WAN address hook ([P-8.5-4], src/agent/wan-address.ts): views with a default route carry the
  // IPv4 gateway's answer (PCP / NAT-PMP / UPnP IGD) as wanIpv4; `wan_address` logs each outcome once.
  const network =
    deps.network ??
    withWanAddress(
      createNetworkMonitor({
        onError: (text) => {
          log('warn', 'network_error', text);
        },
      }),
      {
        onOutcome: (outcome) => {
          logWanOutcome(log, outcome);
        },
      },
    );

  function coreOptions(): { schedule?: Schedule; answerWindowMs?: number } {
    return {
      ...(deps.schedule === undefined ? {} : { schedule: deps.schedule }),
      ...(deps.answerWindowMs === undefined ? {} : { answerWindowMs: deps.answerWindowMs }),
    };
  }

  function clock(): AgentClock {
    return {
      monotonicMs: monotonicMs(),
      ...(settings.clock.trusted ? { trustedWallSeconds: Math.floor(wallMs() / 1000) } : {}),
      random,
    };
  }

  // ---- the queue: one event or task at a time, effects performed in order ----------------
  const queue: Job[] = [];
  let pumping: Promise<void> | undefined;
  let closed = false;
  let state: AgentState;
  let status: AgentStatus = 'starting';
  let lastView: NetworkView | undefined;

  function enqueue(job: Job): void {
    if (closed) return;
    queue.push(job);
    pumping ??= pump().finally(() => {
      pumping = undefined;
      events.emit('idle');
    });
  }

  async function pump(): Promise<void> {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      try {
        if (job.kind === 'task') await job.run();
        else {
          const step = onEvent(state, job.event, clock());
          state = step.state;
          await perform(step.effects);
        }
      } catch (err) {
        // A bug, not the environment: say so loudly and carry on with the next event.
        log('error', 'internal_error', `${job.kind === 'task' ? job.name : job.event.kind}: ${message(err)}`);
      }
    }
  }

  // ---- timers ------------------------------------------------------------------------------
  const timers = new Map<TimerId, NodeJS.Timeout>();
  function setTimer(id: TimerId, atMonotonicMs: number): void {
    cancelTimer(id);
    const arm = (): void => {
      const delay = atMonotonicMs - monotonicMs();
      if (delay > MAX_TIMEOUT_MS) {
        timers.set(id, setTimeout(arm, MAX_TIMEOUT_MS));
        return;
      }
      timers.set(
        id,
        setTimeout(
          () => {
            timers.delete(id);
            enqueue({ kind: 'event', event: { kind: 'timer', id } });
          },
          // +1: setTimeout may fire a fraction of a ms early against performance.now().
          Math.max(0, Math.ceil(delay)) + 1,
        ),
      );
    };
    arm();
  }
  function cancelTimer(id: TimerId): void {
    const handle = timers.get(id);
    if (handle !== undefined) clearTimeout(handle);
    timers.delete(id);
  }

  // ---- UDP -----------------------------------------------------------------------------------
  let sockets = new Map<4 | 6, Socket>();
  async function openSockets(): Promise<void> {
    const families = new Set(settings.collectors.map((c) => c.family));
    const next = new Map<4 | 6, Socket>();
    for (const family of families) {
      const socket = createSocket(
        family === 4 ? { type: 'udp4' } : { type: 'udp6', ipv6Only: true },
      );
      socket.on('message', (bytes, peer) => {
        const address = parseIp(peer.address.split('%')[0] ?? '');
        if (address === undefined) return;
        enqueue({
          kind: 'event',
          event: {
            kind: 'answer',
            bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
            from: { address, port: peer.port },
          },
        });
      });
      socket.on('error', (err) => {
        log('warn', 'socket_error', `IPv${family} socket: ${err.message}`);
      });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ port: 0, address: family === 4 ? '0.0.0.0' : '::' }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        next.set(family, socket);
      } catch (err) {
        socket.close();
        // A device without IPv6 (or IPv4) still announces on the other family.
        log('warn', 'socket_error', `cannot open an IPv${family} socket: ${message(err)}`);
      }
    }
    if (next.size === 0) throw new Error('cannot open any UDP socket for the collectors');
    sockets = next;
  }
  function closeSockets(): void {
    for (const socket of sockets.values()) socket.close();
    sockets = new Map();
  }

  async function send(effect: Extract<AgentEffect, { kind: 'send' }>): Promise<void> {
    const family = effect.to.address.byteLength === 4 ? 4 : 6;
    const socket = sockets.get(family);
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      socket.send(effect.bytes, effect.to.port, formatIp(effect.to.address), (err) => {
        // ENETUNREACH and friends: the exchange's retries and the window handle it (fail-open).
        if (err !== null) log('debug', 'send_failed', `IPv${family}: ${err.message}`);
        resolve();
      });
    });
    if (window.state === 'open' && window.firstSendMs === undefined) {
      window.firstSendMs = monotonicMs();
      const timeoutMs = settings.startupWindow.timeoutSeconds * 1000;
      window.timer = setTimeout(() => {
        enqueue({ kind: 'task', name: 'startup-window', run: () => closeWindow('timeout') });
      }, timeoutMs);
    }
  }

  // ---- routes: the wanted state, applied with retries ------------------------------------------
  let routeWanted: RouteWanted | undefined;
  let resolvedNames: { key: string; addresses: readonly string[] } | undefined;
  let resolvers: string[] = [];
  let routeFailures = 0;
  let routeRetry: NodeJS.Timeout | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;

  function allowOf(wanted: Extract<RouteWanted, { kind: 'quarantine' }>): AllowList {
    const key = wanted.hosts.names.join(',');
    return {
      collectors: [...wanted.hosts.addresses],
      resolvers: resolvers.filter((r) => !isLoopback(r)),
      remediationHosts: resolvedNames?.key === key ? resolvedNames.addresses : [],
    };
  }

  async function reconcileRoutes(): Promise<void> {
    const wanted = routeWanted;
    if (wanted === undefined || closed) return;
    if (routeRetry !== undefined) clearTimeout(routeRetry);
    routeRetry = undefined;
    try {
      if (wanted.kind === 'lift') await routes.lift();
      else await routes.apply(allowOf(wanted));
      routeFailures = 0;
      events.emit('routes', wanted.kind === 'lift' ? 'lifted' : 'applied');
    } catch (err) {
      routeFailures += 1;
      const delayMs = Math.min(
        routeRetryMs * 2 ** (routeFailures - 1),
        DAEMON_DEFAULTS.routeRetryCapMs,
      );
      log(
        'error',
        'route_error',
        `${wanted.kind === 'lift' ? 'lifting' : 'applying'} the quarantine failed (${message(err)}); retrying in ${Math.round(delayMs / 1000)} s`,
        { failures: routeFailures },
      );
      events.emit('routes', 'failed');
      routeRetry = setTimeout(() => {
        enqueue({ kind: 'task', name: 'routes', run: reconcileRoutes });
      }, delayMs);
    }
  }

  /** Resolves the remediation host names (after the quarantine is in: DNS stays reachable). */
  function resolveNames(wanted: Extract<RouteWanted, { kind: 'quarantine' }>): void {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    refreshTimer = undefined;
    if (wanted.hosts.names.length === 0) return;
    const key = wanted.hosts.names.join(',');
    void resolveAllowList(
      { collectors: [], resolvers: [], remediationHosts: wanted.hosts.names },
      { resolver },
    ).then(
      (result) => {
        if (closed || routeWanted !== wanted) return;
        if (result.unresolved.length > 0)
          log('warn', 'dns_unresolved', `remediation hosts not resolved: ${result.unresolved.join(', ')}; retrying`, {
            count: result.unresolved.length,
          });
        enqueue({
          kind: 'task',
          name: 'routes',
          run: async () => {
            resolvedNames = { key, addresses: result.allow.remediationHosts };
            await reconcileRoutes();
          },
        });
        // Re-resolve on the TTL DNS gave (bounded by routes.ts RESOLVE_DEFAULTS).
        refreshTimer = setTimeout(() => {
          if (routeWanted === wanted) resolveNames(wanted);
        }, result.refreshAfterMs);
      },
      (err: unknown) => {
        log('warn', 'dns_unresolved', `resolving remediation hosts failed: ${message(err)}`);
      },
    );
  }

  // ---- the start-up window ------------------------------------------------------------------------
  const window: {
    state: 'none' | 'open' | 'closed';
    layer?: StartupWindowLayer;
    openedMs?: number;
    firstSendMs?: number;
    timer?: NodeJS.Timeout;
    cap?: NodeJS.Timeout;
  } = { state: 'none' };

  async function openWindow(): Promise<void> {
    if (!settings.startupWindow.enabled || settings.mode === 'off') return;
    let layer = deps.startupWindow;
    if (layer === null) return;
    if (layer === undefined) {
      if (!(await isNftAvailable())) {
        log(
          'error',
          'startup_window_unavailable',
          'startupWindow.enabled is true but nft is not installed (Debian/Ubuntu: apt-get install nftables); starting without the window',
        );
        return;
      }
      layer = createNftStartupWindow();
    }
    try {
      await layer.open({ collectors: settings.collectors, onLink: lastView?.onLink ?? [] });
    } catch (err) {
      log('error', 'startup_window_error', `opening the start-up window failed: ${message(err)}; starting without it`);
      return;
    }
    window.state = 'open';
    window.layer = layer;
    window.openedMs = monotonicMs();
    window.cap = setTimeout(() => {
      enqueue({ kind: 'task', name: 'startup-window', run: () => closeWindow('cap') });
    }, deps.startupWindowCapMs ?? DAEMON_DEFAULTS.startupWindowCapMs);
    log('info', 'startup_window_opened', 'start-up window open: only DHCP, DNS, NTP, the collectors and the LAN until the first verdict');
    events.emit('startup-window', 'opened');
  }

  async function closeWindow(reason: 'verdict' | 'timeout' | 'cap' | 'stop'): Promise<void> {
    if (window.state !== 'open' || window.layer === undefined) return;
    window.state = 'closed';
    if (window.timer !== undefined) clearTimeout(window.timer);
    if (window.cap !== undefined) clearTimeout(window.cap);
    try {
      await window.layer.close();
    } catch (err) {
      log('error', 'startup_window_error', `removing the start-up window failed: ${message(err)}; remove it with: nft delete table inet tattler_startup`);
    }
    const elapsedMs = Math.round(monotonicMs() - (window.openedMs ?? 0));
    log('info', 'startup_window_closed', `start-up window closed (${reason}) after ${elapsedMs} ms`, {
      reason,
      elapsedMs,
    });
    events.emit('startup-window', 'closed', { reason, elapsedMs });
  }

  // ---- effects -----------------------------------------------------------------------------------------
  let lastAcceptedIso: string | undefined = previous?.lastAcceptedIso;
  let statusSince = new Date(wallMs()).toISOString();
  let statusReason = 'start';
  let lastOwnerRequest: OwnerRequestOutcome | undefined;

  async function writeStatus(): Promise<void> {
    try {
      await writeStatusFile(stateDir, {
        version: 1,
        mode: settings.mode,
        enforcement: settings.enforcement,
        status,
        sinceIso: statusSince,
        reason: statusReason,
        ...(lastAcceptedIso === undefined ? {} : { lastAcceptedIso }),
        ...(lastOwnerRequest === undefined ? {} : { ownerRequest: lastOwnerRequest }),
      });
    } catch (err) {
      log('error', 'state_error', `writing status.json failed: ${message(err)}`);
    }
  }

  function logCore(effect: Extract<AgentEffect, { kind: 'log' }>): void {
    if (effect.code === 'ANNOUNCE') {
      log('info', 'announce', effect.message, { mode: settings.mode });
      return;
    }
    if (effect.code === 'ACCEPTED') {
      // The core's sentence names the collector; the fields say what operators alert on.
      const accepted = state.exchange?.accepted ?? state.lastExchange;
      log('info', 'accepted', effect.message, {
        status: accepted?.status ?? null,
        signed: /^signed /.test(effect.message),
        scopeCheck: accepted?.scopeCheck ?? null,
      });
      return;
    }
    if (isRefusal(effect.code)) {
      log('warn', 'refused', effect.message, { code: effect.code });
      return;
    }
    log(effect.level, effect.code.toLowerCase(), effect.message, { code: effect.code });
  }

  async function perform(effects: readonly AgentEffect[]): Promise<void> {
    let accepted = false;
    for (const effect of effects) {
      events.emit('effect', effect);
      switch (effect.kind) {
        case 'quarantine': {
          const wanted: RouteWanted = { kind: 'quarantine', hosts: effect.hosts, advisories: effect.advisories };
          routeWanted = wanted;
          await reconcileRoutes();
          log('warn', 'quarantined', `quarantined for ${effect.advisories.join(', ')}: only the LAN, DNS, the collectors and ${effect.hosts.names.length} remediation host(s) stay reachable`, {
            advisories: effect.advisories.join(','),
            hosts: effect.hosts.addresses.length + effect.hosts.names.length + resolvers.length,
          });
          resolveNames(wanted);
          break;
        }
        case 'lift':
          routeWanted = { kind: 'lift' };
          if (refreshTimer !== undefined) clearTimeout(refreshTimer);
          await reconcileRoutes();
          log('info', 'lifted', `quarantine lifted (${effect.reason})`, { reason: effect.reason });
          break;
        case 'send':
          await send(effect);
          break;
        case 'setTimer':
          setTimer(effect.id, effect.atMonotonicMs);
          break;
        case 'cancelTimer':
          cancelTimer(effect.id);
          break;
        case 'persist':
          try {
            await writeStateFile(stateDir, effect.state, deps.stateFs === undefined ? {} : { fs: deps.stateFs });
          } catch (err) {
            // The state stays in memory; the next persist tries again.
            log('error', 'state_error', `writing state.json failed: ${message(err)}`);
          }
          break;
        case 'status': {
          status = effect.new;
          // A restart in the same status keeps when, and why, that status began.
          const carried = effect.old === 'starting' && previous?.status === effect.new;
          statusSince = carried ? previous.sinceIso : new Date(wallMs()).toISOString();
          statusReason = carried ? previous.reason : effect.reason;
          log(effect.new === 'quarantined' ? 'warn' : 'info', 'status', `status ${effect.old} → ${effect.new}: ${effect.reason}`, {
            old: effect.old,
            new: effect.new,
          });
          await writeStatus();
          tellOwner(effect, carried);
          break;
        }
        case 'log':
          if (effect.code === 'ACCEPTED') {
            accepted = true;
            lastAcceptedIso = new Date(wallMs()).toISOString();
          }
          logCore(effect);
          break;
      }
      events.emit('performed', effect);
    }
    if (accepted) {
      await writeStatus();
      await closeWindow('verdict');
    }
  }

  // ---- the owner: status page, notifications, override and resume ------------------------------
  const notifier: Notifier = createNotifier(settings.owner.notify, { log, ...deps.notifier });
  let page: StatusPage | undefined;

  function ownerView(): OwnerStatus {
    return ownerStatusOf(settings, state, {
      wallMs: wallMs(),
      monotonicMs: monotonicMs(),
      statusSinceIso: statusSince,
    });
  }

  /** Sends a status change to every channel; never throws, never waits (the notifier queues). */
  function tellOwner(effect: Extract<AgentEffect, { kind: 'status' }>, carried: boolean): void {
    // A restart in the same status, or a first start into clear/off, is no news for the owner.
    if (carried) return;
    if (effect.old === 'starting' && previous === undefined && (effect.new === 'clear' || effect.new === 'off'))
      return;
    try {
      notifier.notify({
        previous: effect.old,
        current: ownerView(),
        at: new Date(wallMs()).toISOString(),
        reason: effect.reason,
      });
    } catch (err) {
      log('error', 'notify_failed', `queueing the status change failed: ${message(err)}`);
    }
  }

  /** Acts on an owner request; runs inside the queue (a task), so the state cannot change under it. */
  async function actForOwner(
    request: { action: 'override'; reason: string; forSeconds?: number } | { action: 'resume' },
  ): Promise<OwnerStatus> {
    if (request.action === 'override') {
      if (state.status !== 'quarantined')
        throw new OwnerRequestError(
          'NOT_QUARANTINED',
          `nothing to override: the device is ${state.status}, not quarantined`,
        );
      const step = onEvent(
        state,
        {
          kind: 'override',
          reason: request.reason,
          ...(request.forSeconds === undefined ? {} : { forSeconds: request.forSeconds }),
        },
        clock(),
      );
      state = step.state;
      await perform(step.effects);
      if (state.status !== 'overridden')
        throw new OwnerRequestError(
          'NOT_COVERED',
          `the override does not cover the FAIL in force (${state.fail?.advisories.join(', ') ?? 'none'}); the device stays ${state.status}`,
        );
      return ownerView();
    }
    if (state.status !== 'overridden')
      throw new OwnerRequestError(
        'NOT_OVERRIDDEN',
        `nothing to resume: the device is ${state.status}, no override is in force`,
      );
    const step = onEvent(state, { kind: 'resume' }, clock());
    state = step.state;
    await perform(step.effects);
    return ownerView();
  }

  /** Queues an owner request behind whatever the agent is doing, and resolves with its outcome. */
  function ownerAct(
    request: { action: 'override'; reason: string; forSeconds?: number } | { action: 'resume' },
  ): Promise<OwnerStatus> {
    if (closed) return Promise.reject(new OwnerRequestError('STOPPED', 'the agent is stopping'));
    return new Promise((resolve, reject) => {
      enqueue({
        kind: 'task',
        name: `owner ${request.action}`,
        run: () => actForOwner(request).then(resolve, reject),
      });
    });
  }

  async function takeRequest(): Promise<void> {
    let request: OwnerRequest | 'invalid' | undefined;
    try {
      request = await takeOwnerRequest(stateDir);
    } catch (err) {
      log('error', 'owner_request_error', `reading ${STATE_FILES.ownerRequest} failed: ${message(err)}`);
      return;
    }
    if (request === undefined) return;
    if (request === 'invalid') {
      log('warn', 'owner_request_invalid', `${STATE_FILES.ownerRequest} was not a request (removed)`);
      return;
    }
    try {
      const view = await actForOwner(request);
      lastOwnerRequest = { id: request.id, ok: true, message: `the device is ${view.status}` };
      log('info', 'owner_request', `owner ${request.action} from the command line: the device is ${view.status}`, {
        action: request.action,
      });
    } catch (err) {
      if (!(err instanceof OwnerRequestError)) throw err;
      lastOwnerRequest = { id: request.id, ok: false, message: err.message };
      log('warn', 'owner_request_refused', `owner ${request.action} refused: ${err.message}`, { code: err.code });
    }
    await writeStatus();
  }

  async function startPage(): Promise<void> {
    const options = settings.owner.page;
    if (!options.enabled) return;
    try {
      page = await startStatusPage(
        {
          address: options.address,
          port: deps.ownerPagePort ?? options.port,
          allowedHosts: options.allowedHosts,
          public: options.public,
          secretPath: join(stateDir, STATE_FILES.ownerSecret),
        },
        {
          status: ownerView,
          override: (reason, forSeconds) =>
            ownerAct({ action: 'override', reason, ...(forSeconds === undefined ? {} : { forSeconds }) }),
          resume: () => ownerAct({ action: 'resume' }),
          clock: { monotonicMs },
          log,
        },
      );
    } catch (err) {
      // The page is for people; the quarantine never waits for it.
      log('error', 'owner_page_error', `the status page did not start: ${message(err)}; the agent runs without it`);
      return;
    }
    if (page.newSecret !== undefined) {
      // The secret goes to stderr once, never to the (JSON) log: logs are shipped and kept.
      log('warn', 'owner_secret_new', `a new owner secret for the status page was generated and printed once on stderr; its hash is in ${join(stateDir, STATE_FILES.ownerSecret)}`);
      const show = deps.onOwnerSecret ?? ((secret: string): void => {
        process.stderr.write(`tattler agent: owner secret for the status page (shown once, write it down): ${secret}\n`);
      });
      show(page.newSecret);
    }
  }

  // ---- network -------------------------------------------------------------------------------------------
  function onNetwork(view: NetworkView): void {
    const changed = lastView !== undefined;
    lastView = view;
    enqueue({
      kind: 'event',
      event: {
        kind: 'network',
        hasDefaultRoute: view.hasDefaultRoute,
        addresses: view.addresses,
        ...(view.wanIpv4 === undefined ? {} : { wanIpv4: view.wanIpv4 }),
      },
    });
    enqueue({
      kind: 'task',
      name: 'network',
      run: async () => {
        // A link that went down took our routes with it: apply again (idempotent).
        // (The first view is no change: the start-up effects have just applied it.)
        if (changed && routeWanted?.kind === 'quarantine') await reconcileRoutes();
        if (window.state === 'open' && window.layer !== undefined)
          await window.layer.updateOnLink(view.onLink).catch((err: unknown) => {
            log('warn', 'startup_window_error', `updating the LAN prefixes failed: ${message(err)}`);
          });
      },
    });
  }

  // ---- start -------------------------------------------------------------------------------------------
  async function loadResolvers(): Promise<void> {
    resolvers = settings.dns === null ? await (deps.systemResolvers ?? systemResolvers)() : [...settings.dns];
  }
  await loadResolvers();
  await openSockets();
  await writePidFile(stateDir, pid);
  const persisted = read.kind === 'ok' ? read.state : undefined;
  const first = createAgent(
    coreConfigOf(settings, initialTrust, coreOptions()),
    persisted,
    clock(),
  );
  state = first.state;
  log('info', 'started', `agent started (mode ${settings.mode}, ${settings.collectors.length} collector address(es), enforcement ${settings.enforcement ? 'on' : 'off'})`, {
    mode: settings.mode,
    enforcement: settings.enforcement,
    persisted: persisted !== undefined,
  });
  // The first effects (re-apply a quarantine) run before any network event is looked at.
  enqueue({
    kind: 'task',
    name: 'start',
    run: async () => {
      await perform(first.effects);
      // A crash between installing a quarantine and persisting it leaves our rules behind a
      // state that says clear: when the core wants no quarantine, remove whatever of ours is
      // left (only rules and routes marked with our protocol). Best effort, once.
      if (routeWanted === undefined && routes.clearLeftovers !== undefined) {
        try {
          if (await routes.clearLeftovers()) {
            log('warn', 'leftover_lifted', 'removed a quarantine that no saved state accounted for (the agent had stopped before saving it)');
          }
        } catch (err) {
          log('error', 'route_error', `removing a leftover quarantine failed (${message(err)}); the next lift or apply retries`);
        }
      }
    },
  });
  enqueue({ kind: 'task', name: 'startup-window', run: openWindow });
  // Not awaited: the page (a scrypt hash at the first start) never delays the core or start-up.
  const pageStarted = startPage();
  await network.start(onNetwork);

  function idle(): Promise<void> {
    return pumping === undefined
      ? Promise.resolve()
      : new Promise((resolve) => events.once('idle', () => void idle().then(resolve)));
  }

  return {
    events,
    state: () => state,
    localPorts: () =>
      [...sockets.entries()].map(([family, socket]) => ({ family, port: socket.address().port })),
    announceNow() {
      enqueue({ kind: 'event', event: { kind: 'announceNow' } });
    },
    async reload() {
      let next: AgentSettings;
      let trust: AgentTrust;
      try {
        next = await loadAgentConfig(settings.file);
        trust = await loadAgentTrust(next);
      } catch (err) {
        log('error', 'reload_failed', `config not reloaded, running as before: ${message(err)}`);
        return;
      }
      const kept = [
        next.stateDir !== settings.stateDir ? 'stateDir' : null,
        next.quarantine.table !== settings.quarantine.table ||
        next.quarantine.priority !== settings.quarantine.priority
          ? 'quarantine'
          : null,
        JSON.stringify(next.owner) !== JSON.stringify(settings.owner) ? 'owner' : null,
      ].filter((x) => x !== null);
      if (kept.length > 0)
        log('warn', 'reload_partial', `${kept.join(' and ')} take effect on restart only`);
      await new Promise<void>((resolve) => {
        enqueue({
          kind: 'task',
          name: 'reload',
          run: async () => {
            try {
              const keep = persistedStateOf(state);
              for (const id of [...timers.keys()]) cancelTimer(id);
              settings = {
                ...next,
                stateDir: settings.stateDir,
                quarantine: settings.quarantine,
                owner: settings.owner,
              };
              await loadResolvers();
              closeSockets();
              await openSockets();
              const step = createAgent(
                coreConfigOf(settings, trust, coreOptions()),
                keep,
                clock(),
              );
              state = step.state;
              await perform(step.effects);
              log('info', 'reloaded', `config reloaded (mode ${settings.mode})`, { mode: settings.mode });
              if (lastView !== undefined) onNetwork(lastView);
            } catch (err) {
              log('error', 'reload_failed', `reloading failed: ${message(err)}`);
            } finally {
              resolve();
            }
          },
        });
      });
    },
    async close() {
      if (closed) return;
      network.stop();
      await idle();
      closed = true;
      for (const id of [...timers.keys()]) cancelTimer(id);
      if (routeRetry !== undefined) clearTimeout(routeRetry);
      if (refreshTimer !== undefined) clearTimeout(refreshTimer);
      await closeWindow('stop');
      closeSockets();
      await pageStarted;
      await page?.close();
      await notifier.close();
      await removePidFile(stateDir, pid).catch(() => undefined);
      log('info', 'stopped', `agent stopped (status ${status}; a quarantine stays in place)`, { status });
    },
    idle,
    ownerStatus: ownerView,
    override: (reason, forSeconds) =>
      ownerAct({ action: 'override', reason, ...(forSeconds === undefined ? {} : { forSeconds }) }),
    resume: () => ownerAct({ action: 'resume' }),
    handleOwnerRequest() {
      enqueue({ kind: 'task', name: 'owner request', run: takeRequest });
    },
    ownerPageAddress: () => page?.address,
    ownerPageStarted: () => pageStarted.then(() => page?.address),
  };
}

const REFUSALS: ReadonlySet<string> = new Set([...REFUSAL_CODES, 'MALFORMED']);

/** True for a code the acceptance rule refuses answers with (or MALFORMED). */
function isRefusal(code: string): boolean {
  return REFUSALS.has(code);
}
