/**
 * The device agent's pure core: events and clock readings in, plain-data effects out (send,
 * timers, quarantine, lift, persist, status, log). It decides when to announce, verifies answers
 * with the acceptance rule and keeps the quarantine state; the shell performs the effects.
 * @module
 */
import { equalBytes, fromHex, importPublicKey, toHex } from '../crypto/index.ts';
import {
  MAX_BOOK_ENTRIES,
  MAX_OUTSTANDING_REQUESTS,
  MAX_SIGNATURE_CHECKS_PER_WINDOW,
  SignatureBudget,
  VerificationMemo,
  acceptAnswer,
  acceptCertificate,
  addQuery,
  addRequest,
  bookEntries,
  bootTimeFloor,
  bucketPrefix,
  combinePrivatePages,
  decodeCbor,
  decodeResponse,
  encodeCbor,
  encodeRequest,
  findQuery,
  findRequest,
  formatIp,
  isCanonicalName,
  isProtocolError,
  modelHash,
  openNonceBook,
  effectiveNow,
  raiseTimeFloor,
  readKeyCertificate,
  remainingSeconds,
  settleNonceBook,
  timeViewAt,
  type Accepted,
  type DecodedResponse,
  type DeviceIdentity,
  type KeyCertificate,
  type NonceBook,
  type Request,
  type Signed,
  type TimeFloor,
  type TimeView,
  type TrustAnchors,
  type VerifiedSignature,
} from '../protocol/index.ts';
import {
  SCHEDULE,
  networkAnnounceAtMs,
  periodicDelayMs,
  renewDelayMs,
  retryDelayMs,
  unansweredDelayMs,
  type RandomBytes,
  type Schedule,
} from './schedule.ts';
import {
  MAX_STATE_CERTIFICATES,
  MAX_STATE_FIXED_VERSIONS,
  STATE_VERSION,
  encodeState,
  type AnswerProblem,
  type PersistedExchange,
  type PersistedState,
} from './state.ts';

/** The CoAP port collectors listen on by default ([P-3-1]). */
export const DEFAULT_COLLECTOR_PORT = 5683;

/**
 * Certificate queries per answer window ([P-8.7-3]): one per kid, and at most 4 kids — one per
 * collector key a window can meet (2 destinations, and anycast may move one to another node
 * between attempts), rounded up. Each may hold one answer for re-evaluation.
 */
export const MAX_CERTIFICATE_QUERIES_PER_WINDOW = 4;

/**
 * Bucket page sets per answer window ([P-8.5-7]): one per feed version met. The IPv4 and IPv6
 * collectors may serve two feed versions while a new feed rolls out; a third is ignored.
 */
export const MAX_BUCKET_SETS = 2;

/** A collector's anycast address (4 or 16 bytes) and UDP port. */
export interface CollectorEndpoint {
  readonly address: Uint8Array;
  readonly port: number;
}

/** What the device says about itself; names canonical ([P-4.1-1]). */
export interface AgentDevice {
  readonly vendor: string;
  readonly model: string;
  readonly swName: string;
  readonly swVersion: string;
  readonly hwVersion?: string;
}

/** The agent's configuration; the shell loads it, the core never changes it. */
export interface AgentConfig {
  /** `off`: nothing is sent and nothing is ever quarantined ([P-3-7]). */
  readonly mode: 'identified' | 'private' | 'off';
  /** False: announce and verify, record the would-be quarantine, never emit `quarantine`. */
  readonly enforcement: boolean;
  readonly device: AgentDevice;
  /** Every collector address; each attempt goes to all of them ([P-3-6]). */
  readonly collectors: readonly CollectorEndpoint[];
  readonly anchors: TrustAnchors;
  /**
   * Key certificates of collector keys the device ships with; further ones are fetched with
   * certificate queries and kept in {@link AgentState.certificates} ([P-8.7-3]).
   */
  readonly certificates: readonly Signed<KeyCertificate>[];
  /** The vendor's update hosts for a private FAIL: bucket entries carry none ([P-6.3-4]). */
  readonly remediationHosts?: readonly string[];
  readonly answerWindowMs?: number;
  readonly schedule?: Schedule;
}

/** Clock readings and randomness for one step. */
export interface AgentClock {
  readonly monotonicMs: number;
  /** The wall clock only when trusted (battery RTC or authenticated sync, [P-8.3-4]). */
  readonly trustedWallSeconds?: number;
  readonly random: RandomBytes;
}

/** The agent's timers; setting one replaces the pending timer of the same id. */
export type TimerId = 'announce' | 'retry' | 'window' | 'lapse' | 'override' | 'checkpoint';

/** What the owner channels show. */
export type AgentStatus =
  'starting' | 'off' | 'clear' | 'quarantined' | 'overridden' | 'would-quarantine';

/** Why a quarantine is lifted. */
export type LiftReason = 'fixed' | 'override' | 'lapsed' | 'disabled';

/** Codes of the core's log effects (besides every acceptance {@link AnswerProblem}). */
export type AgentLogCode =
  | AnswerProblem
  | 'ANNOUNCE'
  | 'ACCEPTED'
  | 'DUPLICATE'
  | 'CONFLICTING_ANSWERS'
  | 'SCOPE_ADVISORY'
  | 'UNANSWERED'
  | 'BUSY'
  | 'UNSOLICITED'
  | 'EXCHANGE_OPEN'
  | 'PASS_SAME_VERSION'
  | 'PARTIAL_BUCKET'
  | 'BUCKET_PAGE'
  | 'CERTIFICATE_QUERY'
  | 'CERTIFICATE_KEPT'
  | 'CERTIFICATE_NOT_FOUND'
  | 'BAD_STATE_CERTIFICATE'
  | 'WOULD_QUARANTINE';

/** Inputs of {@link onEvent}. */
export type AgentEvent =
  | {
      readonly kind: 'network';
      readonly hasDefaultRoute: boolean;
      readonly addresses: readonly Uint8Array[];
      readonly wanIpv4?: Uint8Array;
    }
  | { readonly kind: 'timer'; readonly id: TimerId }
  | { readonly kind: 'answer'; readonly bytes: Uint8Array; readonly from: CollectorEndpoint }
  | { readonly kind: 'announceNow' }
  | { readonly kind: 'override'; readonly reason: string; readonly forSeconds?: number }
  | { readonly kind: 'resume' };

/** What to keep reachable during a quarantine; the shell resolves the names and adds its DNS resolvers. */
export interface QuarantineHosts {
  /** Collector addresses, as text. */
  readonly addresses: readonly string[];
  /** Remediation host names (the vendor's update hosts). */
  readonly names: readonly string[];
}

/** What the shell must do, in order. */
export type AgentEffect =
  | { readonly kind: 'send'; readonly to: CollectorEndpoint; readonly bytes: Uint8Array }
  | { readonly kind: 'setTimer'; readonly id: TimerId; readonly atMonotonicMs: number }
  | { readonly kind: 'cancelTimer'; readonly id: TimerId }
  | {
      readonly kind: 'quarantine';
      readonly hosts: QuarantineHosts;
      readonly advisories: readonly string[];
    }
  | { readonly kind: 'lift'; readonly reason: LiftReason }
  | { readonly kind: 'persist'; readonly state: PersistedState }
  | {
      readonly kind: 'status';
      readonly old: AgentStatus;
      readonly new: AgentStatus;
      readonly reason: string;
    }
  | {
      readonly kind: 'log';
      readonly level: 'debug' | 'info' | 'warn';
      readonly code: AgentLogCode;
      readonly message: string;
    };

/** The FAIL in force, timed on this boot's monotonic clock. */
export interface FailInForce {
  readonly mode: 'identified' | 'private';
  readonly advisories: readonly string[];
  readonly remediationHosts: readonly string[];
  readonly swVersion: string;
  readonly endsAtMs: number;
  /** Seconds left at the last checkpoint (the persisted value). */
  readonly checkpointSeconds: number;
  /** The owner's facts from the signed record or matched bucket entries ({@link PersistedFail}). */
  readonly cvss10?: number;
  readonly kev?: boolean;
  readonly fixedVersions?: readonly string[];
  /** When the FAIL was first accepted (time floor or trusted wall time), epoch seconds. */
  readonly sinceSeconds?: number;
}

/** The owner's override in force. */
export interface OverrideInForce {
  readonly reason: string;
  readonly advisories: readonly string[];
  readonly swVersion: string;
  readonly endsAtMs?: number;
  readonly checkpointSeconds?: number;
}

/** An answer refused `NO_CERTIFICATE` / `CERT_EXPIRED`, kept to decide again once the certificate is in. */
export interface HeldAnswer {
  /** The collector key whose certificate was asked for. */
  readonly kid: Uint8Array;
  readonly bytes: Uint8Array;
  readonly from: CollectorEndpoint;
  /** A signed FAIL verdict: it replaces a held non-FAIL of the same kid ([P-8.4-5]). */
  readonly fail: boolean;
}

/** The accepted pages of one bucket (one feed version and page count) in an answer window. */
export interface BucketSet {
  readonly feedVersion: number;
  readonly pages: number;
  /** The collector that sent the set's first page: further pages are asked of it. */
  readonly source: CollectorEndpoint;
  /** Accepted pages, one per page number, in arrival order. */
  readonly accepted: readonly Accepted[];
  /** Pages asked for in the current attempt. */
  readonly requested: readonly number[];
}

/** One answer window in progress. */
export interface Exchange {
  readonly book: NonceBook;
  readonly attempt: number;
  readonly signatureChecksUsed: number;
  readonly refusals: Readonly<Partial<Record<AnswerProblem, number>>>;
  /** Signatures verified in this window: the same signed bytes are charged once ([P-8.6-2]). */
  readonly verified: readonly VerifiedSignature[];
  /** Kids whose certificate was fetched and kept in this window. */
  readonly fetched: readonly Uint8Array[];
  /** At most one answer per queried kid ([P-8.7-3]). */
  readonly held: readonly HeldAnswer[];
  /** Private mode: bucket pages collected so far, at most {@link MAX_BUCKET_SETS} sets. */
  readonly buckets: readonly BucketSet[];
  readonly accepted?: {
    readonly status: Accepted['status'];
    readonly scopeCheck: Accepted['scopeCheck'];
  };
}

/** The network as the shell last reported it. */
export interface NetworkView {
  readonly hasDefaultRoute: boolean;
  readonly addresses: readonly Uint8Array[];
  readonly wanIpv4?: Uint8Array;
}

/** Why an exchange starts. */
export type AnnounceReason = 'start' | 'network' | 'periodic' | 'renew' | 'retry-later' | 'owner';

/** The core's whole state: plain data, never mutated (each step returns a new one). */
export interface AgentState {
  readonly config: AgentConfig;
  /** Key certificates fetched with certificate queries, newest expiry first, at most 4; persisted. */
  readonly certificates: readonly Signed<KeyCertificate>[];
  readonly floor: TimeFloor;
  readonly unanswered: number;
  readonly fail?: FailInForce;
  readonly override?: OverrideInForce;
  readonly lastExchange?: PersistedExchange;
  readonly network: NetworkView;
  readonly exchange?: Exchange;
  /** Pending timers by id: monotonic ms. */
  readonly timers: Readonly<Partial<Record<TimerId, number>>>;
  readonly announceReason?: AnnounceReason;
  /** An exchange wanted while the network was down or a window was open. */
  readonly pending?: AnnounceReason;
  readonly lastNetworkExchangeMs?: number;
  /** The quarantine the shell was last told to apply: its key, `none`, or `unknown` (at boot). */
  readonly applied: string;
  readonly status: AgentStatus;
  /** The last persisted state, encoded: a persist effect is emitted only when it changes. */
  readonly persistedText: string;
}

/** The result of one step. */
export interface AgentStep {
  readonly state: AgentState;
  readonly effects: readonly AgentEffect[];
}

/** A step in progress: a private, local draft (the caller's state is never mutated). */
interface Run {
  state: AgentState;
  readonly effects: AgentEffect[];
  readonly clock: AgentClock;
  reason: string;
  liftReason: LiftReason;
}

function scheduleOf(state: AgentState): Schedule {
  return state.config.schedule ?? SCHEDULE;
}

function log(
  run: Run,
  level: 'debug' | 'info' | 'warn',
  code: AgentLogCode,
  message: string,
): void {
  run.effects.push({ kind: 'log', level, code, message });
}

function update(run: Run, patch: Partial<AgentState>): void {
  run.state = { ...run.state, ...patch };
}

function withoutKey<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const copy = { ...value };
  Reflect.deleteProperty(copy, key);
  return copy;
}

function clear(
  run: Run,
  key: 'fail' | 'override' | 'exchange' | 'pending' | 'announceReason',
): void {
  run.state = withoutKey(run.state, key);
}

function setTimer(run: Run, id: TimerId, atMs: number | undefined): void {
  const timers = { ...run.state.timers };
  if (atMs === undefined) Reflect.deleteProperty(timers, id);
  else timers[id] = atMs;
  update(run, { timers });
}

/** Schedules an exchange at `atMs` unless one is already due earlier. */
function wantAnnounce(run: Run, atMs: number, reason: AnnounceReason): void {
  const current = run.state.timers.announce;
  if (current !== undefined && current <= atMs) return;
  setTimer(run, 'announce', atMs);
  update(run, { announceReason: reason });
}

// RFC 4291 §2.5.5.2: a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
function plainAddress(address: Uint8Array): Uint8Array {
  if (address.byteLength !== 16) return address;
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return address;
  return address[10] === 0xff && address[11] === 0xff ? address.subarray(12) : address;
}

/** True for a global unicast IPv6 address (2000::/3, RFC 4291 §2.4). */
function isGlobalIpv6(address: Uint8Array): boolean {
  return address.byteLength === 16 && ((address[0] ?? 0) & 0xe0) === 0x20;
}

/** [P-8.5-4] the address the certificate scope must cover for an answer from `collector`. */
function scopeAddressFor(network: NetworkView, collector: Uint8Array): Uint8Array | undefined {
  if (collector.byteLength === 4) return network.wanIpv4;
  return network.addresses.find(isGlobalIpv6);
}

function isCovered(fail: FailInForce, override: OverrideInForce | undefined): boolean {
  return (
    override !== undefined &&
    override.swVersion === fail.swVersion &&
    fail.advisories.every((a) => override.advisories.includes(a))
  );
}

function statusOf(state: AgentState): AgentStatus {
  if (state.config.mode === 'off') return 'off';
  const fail = state.fail;
  if (fail === undefined) return 'clear';
  if (isCovered(fail, state.override)) return 'overridden';
  return state.config.enforcement ? 'quarantined' : 'would-quarantine';
}

function quarantineOf(
  state: AgentState,
): { hosts: QuarantineHosts; advisories: readonly string[] } | undefined {
  const fail = state.fail;
  if (statusOf(state) !== 'quarantined' || fail === undefined) return undefined;
  return {
    hosts: {
      addresses: state.config.collectors.map((c) => formatIp(c.address)),
      names: fail.remediationHosts,
    },
    advisories: fail.advisories,
  };
}

/** The JSON-safe state to persist: a function of the state alone (lifetimes as checkpoints). */
export function persistedStateOf(state: AgentState): PersistedState {
  const { fail, override, lastExchange } = state;
  return {
    version: STATE_VERSION,
    timeFloorSeconds: state.floor.floorSeconds,
    unanswered: state.unanswered,
    ...(fail === undefined
      ? {}
      : {
          fail: {
            mode: fail.mode,
            advisories: fail.advisories,
            remediationHosts: fail.remediationHosts,
            swVersion: fail.swVersion,
            remainingSeconds: fail.checkpointSeconds,
            ...(fail.cvss10 === undefined ? {} : { cvss10: fail.cvss10 }),
            ...(fail.kev === undefined ? {} : { kev: fail.kev }),
            ...(fail.fixedVersions === undefined ? {} : { fixedVersions: fail.fixedVersions }),
            ...(fail.sinceSeconds === undefined ? {} : { sinceSeconds: fail.sinceSeconds }),
          },
        }),
    ...(override === undefined
      ? {}
      : {
          override: {
            reason: override.reason,
            advisories: override.advisories,
            swVersion: override.swVersion,
            ...(override.checkpointSeconds === undefined
              ? {}
              : { remainingSeconds: override.checkpointSeconds }),
          },
        }),
    ...(lastExchange === undefined ? {} : { lastExchange }),
    ...(state.certificates.length === 0
      ? {}
      : { certificates: state.certificates.map((c) => toHex(encodeCbor(c.tag))) }),
  };
}

/**
 * Ends a step: derives the lifetime timers, reconciles the quarantine and the status (their
 * effects go first, so the shell quarantines before it sends), diffs the timers against
 * `before`, and persists when the persisted state changed.
 */
function finish(run: Run, before: AgentState | undefined): AgentStep {
  const now = run.clock.monotonicMs;
  const schedule = scheduleOf(run.state);
  setTimer(run, 'lapse', run.state.fail?.endsAtMs);
  setTimer(run, 'override', run.state.override?.endsAtMs);
  const needsCheckpoint =
    run.state.fail !== undefined || run.state.override?.endsAtMs !== undefined;
  if (!needsCheckpoint) setTimer(run, 'checkpoint', undefined);
  else if (run.state.timers.checkpoint === undefined)
    setTimer(run, 'checkpoint', now + schedule.checkpointMs);

  const front: AgentEffect[] = [];
  const quarantine = quarantineOf(run.state);
  const key = quarantine === undefined ? 'none' : JSON.stringify(quarantine);
  if (quarantine !== undefined && key !== run.state.applied)
    front.push({ kind: 'quarantine', ...quarantine });
  if (quarantine === undefined && run.state.applied !== 'none')
    front.push({ kind: 'lift', reason: run.liftReason });
  const status = statusOf(run.state);
  if (status !== run.state.status)
    front.push({ kind: 'status', old: run.state.status, new: status, reason: run.reason });
  update(run, { applied: key, status });

  const timerEffects: AgentEffect[] = [];
  const ids = new Set<TimerId>([
    ...(Object.keys(run.state.timers) as TimerId[]),
    ...(Object.keys(before?.timers ?? {}) as TimerId[]),
  ]);
  for (const id of ids) {
    const at = run.state.timers[id];
    if (at === before?.timers[id]) continue;
    timerEffects.push(
      at === undefined ? { kind: 'cancelTimer', id } : { kind: 'setTimer', id, atMonotonicMs: at },
    );
  }
  const persisted = persistedStateOf(run.state);
  const text = encodeState(persisted);
  const tail: AgentEffect[] = [];
  if (text !== run.state.persistedText) {
    tail.push({ kind: 'persist', state: persisted });
    update(run, { persistedText: text });
  }
  return { state: run.state, effects: [...front, ...run.effects, ...timerEffects, ...tail] };
}

function assertConfig(config: AgentConfig): void {
  const schedule = config.schedule ?? SCHEDULE;
  if (config.mode === 'off') return;
  for (const [field, name] of [
    ['vendor', config.device.vendor],
    ['model', config.device.model],
  ] as const) {
    if (!isCanonicalName(name))
      throw new RangeError(
        `device.${field}: "${name}" is not a canonical name (docs/protocol.md §4.1)`,
      );
  }
  if (config.collectors.length === 0)
    throw new RangeError('collectors: expected at least one collector address');
  if (config.collectors.length * schedule.maxAttempts > MAX_OUTSTANDING_REQUESTS) {
    throw new RangeError(
      `collectors: ${config.collectors.length} addresses × ${schedule.maxAttempts} attempts exceed the ${MAX_OUTSTANDING_REQUESTS} requests of an answer window`,
    );
  }
  for (const c of config.collectors) {
    if (c.address.byteLength !== 4 && c.address.byteLength !== 16)
      throw new RangeError(
        `collectors: expected 4- or 16-byte addresses, got ${c.address.byteLength}`,
      );
    if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65_535)
      throw new RangeError(`collectors: port ${c.port} out of range`);
  }
}

/** Why a quarantine left by an earlier boot is lifted at start, if it is. */
function startLiftReason(initial: AgentState): LiftReason {
  if (initial.applied === 'unknown' && initial.fail === undefined) return 'lapsed';
  if (
    initial.config.mode !== 'off' &&
    initial.fail !== undefined &&
    isCovered(initial.fail, initial.override)
  )
    return 'override';
  return 'disabled';
}

/**
 * Starts the agent from its configuration and the persisted state (or none). Its first effects
 * re-apply a quarantine that is still in force, before any announcement; the first exchange
 * starts once the shell reports a network with a default route. Throws `RangeError` on a
 * configuration the agent cannot run.
 * @example const { state, effects } = createAgent(config, decodeState(text), { monotonicMs, random });
 */
export function createAgent(
  config: AgentConfig,
  persisted: PersistedState | undefined,
  clock: AgentClock,
): AgentStep {
  assertConfig(config);
  const now = clock.monotonicMs;
  // [P-8.2-5] the current root verified, so its issued_at is a floor too.
  const floor = bootTimeFloor(
    Math.max(persisted?.timeFloorSeconds ?? 0, config.anchors.root.issuedAt),
    now,
  );
  const fail = persisted?.fail;
  const override = persisted?.override;
  const certificates: Signed<KeyCertificate>[] = [];
  let badCertificates = 0;
  for (const hex of (persisted?.certificates ?? []).slice(0, MAX_STATE_CERTIFICATES)) {
    try {
      certificates.push(readKeyCertificate(decodeCbor(fromHex(hex))));
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      badCertificates++;
    }
  }
  const initial: AgentState = {
    config,
    certificates,
    floor,
    unanswered: persisted?.unanswered ?? 0,
    network: { hasDefaultRoute: false, addresses: [] },
    timers: {},
    // [P-8.3-6] lifetimes resume from the last checkpoint: a reboot never shortens them.
    ...(fail === undefined || fail.remainingSeconds === 0
      ? {}
      : {
          fail: {
            ...withoutKey(fail, 'remainingSeconds'),
            endsAtMs: now + fail.remainingSeconds * 1000,
            checkpointSeconds: fail.remainingSeconds,
          },
        }),
    ...(override === undefined || override.remainingSeconds === 0
      ? {}
      : {
          override: {
            ...withoutKey(override, 'remainingSeconds'),
            ...(override.remainingSeconds === undefined
              ? {}
              : {
                  endsAtMs: now + override.remainingSeconds * 1000,
                  checkpointSeconds: override.remainingSeconds,
                }),
          },
        }),
    ...(persisted?.lastExchange === undefined ? {} : { lastExchange: persisted.lastExchange }),
    pending: 'start',
    // Whatever an earlier boot left in place is unknown: reconcile either way.
    applied: fail === undefined ? 'none' : 'unknown',
    status: 'starting',
    persistedText: persisted === undefined ? '' : encodeState(persisted),
  };
  const run: Run = {
    state: initial,
    effects: [],
    clock,
    reason: 'start',
    liftReason: startLiftReason(initial),
  };
  if (badCertificates > 0)
    log(
      run,
      'warn',
      'BAD_STATE_CERTIFICATE',
      `${badCertificates} kept certificate(s) did not decode: dropped`,
    );
  return finish(run, undefined);
}

function requestFor(state: AgentState, nonce: Uint8Array, quarantined: boolean): Request {
  const device = state.config.device;
  if (state.config.mode === 'private') {
    // Page 0; its `pages` says which further pages to ask for ([P-5.2-1], requestPages).
    return {
      kind: 'private',
      nonce,
      prefix: bucketPrefix(modelHash(device.vendor, device.model)),
      page: 0,
    };
  }
  return {
    kind: 'identified',
    nonce,
    vendor: device.vendor,
    model: device.model,
    swName: device.swName,
    swVersion: { version: device.swVersion },
    ...(device.hwVersion === undefined ? {} : { hwVersion: { version: device.hwVersion } }),
    quarantined,
  };
}

/** Sends attempt `exchange.attempt` to every collector, each with its own nonce and token ([P-8.4-1]). */
function sendAttempt(run: Run, exchange: Exchange): void {
  const { state, clock } = run;
  const mode = state.config.mode === 'private' ? 'private' : 'identified';
  // [P-5.1] a device holding a FAIL asks for a signed answer: only that may lift it.
  const quarantined = state.fail !== undefined;
  let book = exchange.book;
  for (const collector of state.config.collectors) {
    // Announcements fit (assertConfig); pages and queries take only what is left ([P-8.4-2]).
    if (bookEntries(book) >= MAX_BOOK_ENTRIES) break;
    const nonce = clock.random(16).slice(0, 16);
    const token = clock.random(8).slice(0, 8);
    const id = clock.random(2);
    const messageId = ((id[0] ?? 0) << 8) | (id[1] ?? 0);
    book = addRequest(book, {
      attempt: exchange.attempt,
      destination: collector.address,
      token,
      nonce,
      mode,
      quarantined,
    });
    run.effects.push({
      kind: 'send',
      to: collector,
      bytes: encodeRequest(requestFor(state, nonce, quarantined), { messageId, token }),
    });
  }
  update(run, { exchange: { ...exchange, book } });
  scheduleRetry(run, exchange.attempt, book);
}

function scheduleRetry(run: Run, attempt: number, book: NonceBook): void {
  const { clock } = run;
  const schedule = scheduleOf(run.state);
  const next = attempt + 1;
  const retryAt = clock.monotonicMs + retryDelayMs(next, clock.random, schedule);
  setTimer(
    run,
    'retry',
    next < schedule.maxAttempts && retryAt < book.closesAtMs ? retryAt : undefined,
  );
}

function startExchange(run: Run, reason: AnnounceReason): void {
  const state = run.state;
  if (state.config.mode === 'off') return;
  if (!state.network.hasDefaultRoute || state.exchange !== undefined) {
    if (state.exchange !== undefined)
      log(
        run,
        'debug',
        'EXCHANGE_OPEN',
        `announcement (${reason}) deferred: an answer window is open`,
      );
    update(run, { pending: reason });
    return;
  }
  const now = run.clock.monotonicMs;
  clear(run, 'pending');
  const book = openNonceBook(
    now,
    state.config.answerWindowMs === undefined
      ? {}
      : { answerWindowMs: state.config.answerWindowMs },
  );
  if (reason === 'network' || reason === 'start') update(run, { lastNetworkExchangeMs: now });
  log(
    run,
    'info',
    'ANNOUNCE',
    `announcing (${reason}) to ${state.config.collectors.length} collector address(es)`,
  );
  sendAttempt(run, {
    book,
    attempt: 0,
    signatureChecksUsed: 0,
    refusals: {},
    verified: [],
    fetched: [],
    held: [],
    buckets: [],
  });
  setTimer(run, 'window', book.closesAtMs);
}

function sameNetwork(a: NetworkView, b: NetworkView): boolean {
  const list = (n: NetworkView): string =>
    n.addresses
      .map((x) => formatIp(x))
      .sort()
      .join(',');
  const wan = (n: NetworkView): string => (n.wanIpv4 === undefined ? '' : formatIp(n.wanIpv4));
  return a.hasDefaultRoute === b.hasDefaultRoute && list(a) === list(b) && wan(a) === wan(b);
}

function onNetwork(run: Run, event: Extract<AgentEvent, { kind: 'network' }>): void {
  const next: NetworkView = {
    hasDefaultRoute: event.hasDefaultRoute,
    addresses: event.addresses.map((a) => a.slice()),
    ...(event.wanIpv4 === undefined ? {} : { wanIpv4: event.wanIpv4.slice() }),
  };
  const previous = run.state.network;
  if (sameNetwork(previous, next)) return;
  update(run, { network: next });
  if (run.state.config.mode === 'off' || !next.hasDefaultRoute) return;
  // Up, or the route or an address changed: one exchange after the settle delay, rate-limited.
  const reason: AnnounceReason = run.state.pending === 'start' ? 'start' : 'network';
  clear(run, 'pending');
  wantAnnounce(
    run,
    networkAnnounceAtMs(
      run.clock.monotonicMs,
      run.state.lastNetworkExchangeMs,
      run.clock.random,
      scheduleOf(run.state),
    ),
    reason,
  );
}

function countRefusal(run: Run, exchange: Exchange, code: AnswerProblem, detail: string): void {
  const refusals = { ...exchange.refusals, [code]: (exchange.refusals[code] ?? 0) + 1 };
  update(run, { exchange: { ...exchange, refusals } });
  log(run, 'warn', code, detail);
}

function scheduleAfterAnswer(run: Run): void {
  const now = run.clock.monotonicMs;
  const fail = run.state.fail;
  // The window's own announce timer was consumed when it opened: one present now was asked for
  // during the window (a network change, the owner) and still stands if it is earlier.
  if (fail !== undefined)
    wantAnnounce(run, now + renewDelayMs(fail.endsAtMs - now, scheduleOf(run.state)), 'renew');
  else
    wantAnnounce(run, now + periodicDelayMs(run.clock.random, scheduleOf(run.state)), 'periodic');
}

/** The owner's facts of an accepted FAIL: the record's, or the worst of the matched entries. */
function failFactsOf(accepted: Accepted): Pick<FailInForce, 'cvss10' | 'kev' | 'fixedVersions'> {
  const sources: readonly { cvss10: number | null; kev: boolean; fixed: readonly string[] }[] =
    accepted.record !== undefined ? [accepted.record] : (accepted.entries ?? []);
  if (sources.length === 0) return {};
  const scores = sources.flatMap((s) => (s.cvss10 === null ? [] : [s.cvss10]));
  const fixed = [...new Set(sources.flatMap((s) => s.fixed))].slice(0, MAX_STATE_FIXED_VERSIONS);
  return {
    ...(scores.length === 0 ? {} : { cvss10: Math.max(...scores) }),
    kev: sources.some((s) => s.kev),
    ...(fixed.length === 0 ? {} : { fixedVersions: fixed }),
  };
}

function applyAccepted(run: Run, accepted: Accepted): void {
  const now = run.clock.monotonicMs;
  const { config } = run.state;
  if (accepted.status === 'fail') {
    const advisories = accepted.record?.advisories ?? [
      ...new Set((accepted.entries ?? []).flatMap((e) => e.advisories)),
    ];
    const remediationHosts = accepted.record?.remediationHosts ?? config.remediationHosts ?? [];
    const previous = run.state.fail;
    const renewed = previous !== undefined;
    const facts = failFactsOf(accepted);
    // A renewal of the same advisories keeps when it began; a different FAIL starts anew.
    const sameFail =
      previous !== undefined &&
      previous.advisories.length === advisories.length &&
      previous.advisories.every((a) => advisories.includes(a));
    const sinceSeconds =
      sameFail && previous.sinceSeconds !== undefined
        ? previous.sinceSeconds
        : effectiveNow(timeViewOf(run));
    update(run, {
      fail: {
        mode: accepted.mode,
        advisories,
        remediationHosts: remediationHosts.slice(0, 4),
        swVersion: config.device.swVersion,
        endsAtMs: now + accepted.lifetimeSeconds * 1000,
        checkpointSeconds: accepted.lifetimeSeconds,
        ...facts,
        ...(sinceSeconds > 0 ? { sinceSeconds } : {}),
      },
    });
    run.reason = `${renewed ? 'renewed' : 'accepted'} FAIL (${advisories.join(', ')})`;
    if (!config.enforcement)
      log(
        run,
        'warn',
        'WOULD_QUARANTINE',
        `enforcement is off: not quarantining for ${advisories.join(', ')}`,
      );
  } else if (accepted.status === 'pass' && accepted.signed && run.state.fail !== undefined) {
    // A private PASS reaches here only for a complete bucket ([P-8.5-7]).
    if (run.state.fail.swVersion !== config.device.swVersion) {
      clear(run, 'fail');
      run.reason = `signed PASS for software ${config.device.swVersion}`;
      run.liftReason = 'fixed';
    } else {
      log(
        run,
        'info',
        'PASS_SAME_VERSION',
        'signed PASS for the quarantined software version: the FAIL lapses unless renewed',
      );
    }
  }
}

/** The window in progress; only called while one is. */
function currentExchange(run: Run): Exchange {
  const exchange = run.state.exchange;
  if (exchange === undefined) throw new RangeError('agent core: no answer window is open');
  return exchange;
}

function timeViewOf(run: Run): TimeView {
  return timeViewAt(run.state.floor, {
    monotonicMs: run.clock.monotonicMs,
    ...(run.clock.trustedWallSeconds === undefined
      ? {}
      : { trustedWallSeconds: run.clock.trustedWallSeconds }),
  });
}

function raiseFloor(run: Run, signedSeconds: number | undefined): void {
  if (signedSeconds === undefined) return;
  update(run, {
    floor: raiseTimeFloor(run.state.floor, {
      signedSeconds,
      monotonicMs: run.clock.monotonicMs,
    }),
  });
}

/**
 * The certificates the acceptance rule may use: the configured and the fetched ones, one per kid
 * (the one that expires last), so a fetched renewal supersedes an expired configured one.
 */
function certificatesOf(state: AgentState): Signed<KeyCertificate>[] {
  const byKid = new Map<string, Signed<KeyCertificate>>();
  for (const c of [...state.certificates, ...state.config.certificates]) {
    const kid = toHex(importPublicKey(c.value.subject).kid);
    const held = byKid.get(kid);
    if (held === undefined || c.value.notAfter > held.value.notAfter) byKid.set(kid, c);
  }
  return [...byKid.values()];
}

/** The configured endpoint of a collector address (the port it was sent to), else the answer's. */
function endpointOf(
  state: AgentState,
  address: Uint8Array,
  fallback: CollectorEndpoint,
): CollectorEndpoint {
  return state.config.collectors.find((c) => equalBytes(c.address, address)) ?? fallback;
}

/** A fresh token and message id. */
function frameOf(run: Run): { token: Uint8Array; messageId: number } {
  const token = run.clock.random(8).slice(0, 8);
  const id = run.clock.random(2);
  return { token, messageId: ((id[0] ?? 0) << 8) | (id[1] ?? 0) };
}

/**
 * [P-8.7-3] asks the collector that answered for the certificate of `kid` — once per kid and
 * window, at most {@link MAX_CERTIFICATE_QUERIES_PER_WINDOW} kids — and holds the refused answer.
 */
function askCertificate(run: Run, kid: Uint8Array, held: HeldAnswer): void {
  const exchange = currentExchange(run);
  // The kept certificate itself was refused (CERT_EXPIRED): nothing better to ask for now.
  if (exchange.fetched.some((k) => equalBytes(k, kid))) return;
  const queries = exchange.book.queries ?? [];
  const queried = queries.some((q) => equalBytes(q.kid, kid));
  if (
    !queried &&
    (queries.length >= MAX_CERTIFICATE_QUERIES_PER_WINDOW ||
      bookEntries(exchange.book) >= MAX_BOOK_ENTRIES)
  ) {
    log(run, 'warn', 'CERTIFICATE_QUERY', 'no room for another certificate query in this window');
    return;
  }
  const previous = exchange.held.find((h) => equalBytes(h.kid, kid));
  const keep = previous === undefined || (held.fail && !previous.fail);
  const heldList = keep ? [...exchange.held.filter((h) => h !== previous), held] : exchange.held;
  let book = exchange.book;
  if (!queried) {
    const frame = frameOf(run);
    book = addQuery(book, {
      attempt: exchange.attempt,
      destination: held.from.address,
      token: frame.token,
      kid,
    });
    run.effects.push({
      kind: 'send',
      to: held.from,
      bytes: encodeRequest({ kind: 'certificate', kid }, frame),
    });
    log(
      run,
      'info',
      'CERTIFICATE_QUERY',
      `asking ${formatIp(held.from.address)} for the certificate of key ${toHex(kid)}`,
    );
  }
  update(run, { exchange: { ...exchange, book, held: heldList } });
}

/** Asks the set's collector for every page not yet accepted nor asked for in this attempt. */
function requestPages(run: Run, index: number): void {
  const exchange = currentExchange(run);
  const set = exchange.buckets[index];
  if (set === undefined) return;
  let book = exchange.book;
  const requested = [...set.requested];
  for (let page = 0; page < set.pages; page++) {
    if (requested.includes(page) || set.accepted.some((a) => a.page === page)) continue;
    if (bookEntries(book) >= MAX_BOOK_ENTRIES) {
      log(run, 'warn', 'PARTIAL_BUCKET', `no room to ask for bucket page ${page} in this window`);
      break;
    }
    const nonce = run.clock.random(16).slice(0, 16);
    const frame = frameOf(run);
    const device = run.state.config.device;
    book = addRequest(book, {
      attempt: exchange.attempt,
      destination: set.source.address,
      token: frame.token,
      nonce,
      mode: 'private',
      quarantined: run.state.fail !== undefined,
      page,
    });
    requested.push(page);
    run.effects.push({
      kind: 'send',
      to: set.source,
      bytes: encodeRequest(
        {
          kind: 'private',
          nonce,
          prefix: bucketPrefix(modelHash(device.vendor, device.model)),
          page,
        },
        frame,
      ),
    });
  }
  const buckets = exchange.buckets.map((b, i) => (i === index ? { ...b, requested } : b));
  update(run, { exchange: { ...exchange, book, buckets } });
}

/**
 * [P-8.5-7] adds an accepted page (not a FAIL) of a multi-page bucket to its set; returns the
 * decision once the set is complete, else asks for the missing pages and returns `undefined`.
 */
function collectPage(run: Run, page: Accepted, from: CollectorEndpoint): Accepted | undefined {
  const exchange = currentExchange(run);
  if (exchange.book.settled !== undefined) {
    countRefusal(
      run,
      exchange,
      'ALREADY_SETTLED',
      `bucket page ${page.page ?? 0}: the window is already settled`,
    );
    return undefined;
  }
  let index = exchange.buckets.findIndex(
    (b) => b.feedVersion === page.feedVersion && b.pages === page.pages,
  );
  if (index < 0) {
    if (exchange.buckets.length >= MAX_BUCKET_SETS) {
      log(
        run,
        'warn',
        'PARTIAL_BUCKET',
        `bucket page of a third feed version (${page.feedVersion ?? 0}) in one window: ignored`,
      );
      return undefined;
    }
    const set: BucketSet = {
      feedVersion: page.feedVersion ?? 0,
      pages: page.pages ?? 1,
      source: from,
      accepted: [],
      requested: [],
    };
    update(run, { exchange: { ...exchange, buckets: [...exchange.buckets, set] } });
    index = exchange.buckets.length;
  }
  const current = currentExchange(run);
  const set = current.buckets[index];
  if (set === undefined) return undefined;
  if (set.accepted.some((a) => a.page === page.page)) {
    log(
      run,
      'debug',
      'DUPLICATE',
      `bucket page ${page.page ?? 0} of feed ${set.feedVersion} again: nothing new`,
    );
    return undefined;
  }
  const accepted = [...set.accepted, page];
  const buckets = current.buckets.map((b, i) => (i === index ? { ...b, accepted } : b));
  update(run, { exchange: { ...current, buckets } });
  const decision = combinePrivatePages(accepted);
  if (decision !== undefined) return decision;
  log(
    run,
    'info',
    'BUCKET_PAGE',
    `bucket page ${page.page ?? 0} of ${set.pages} (feed ${set.feedVersion}) accepted: ${accepted.length} of ${set.pages} held`,
  );
  requestPages(run, index);
  return undefined;
}

/** Acts on an accepted decision: settles the window, applies it, schedules the next exchange. */
function decide(run: Run, result: Accepted, from: Uint8Array): void {
  const exchange = currentExchange(run);
  const settled = settleNonceBook(exchange.book, { status: result.status, token: result.token });
  if (settled.action === 'none') {
    countRefusal(run, exchange, 'ALREADY_SETTLED', `duplicate ${result.status}: no second action`);
    return;
  }
  if (settled.overrode !== undefined) {
    // [P-8.4-5] a valid FAIL wins over an earlier PASS / WARN / UNKNOWN; log both.
    log(
      run,
      'warn',
      'CONFLICTING_ANSWERS',
      `conflicting answers in one window: ${settled.overrode.status}, then ${result.status}; the FAIL wins`,
    );
  }
  if (result.scopeCheck === 'advisory')
    log(
      run,
      'warn',
      'SCOPE_ADVISORY',
      `the device's ${from.byteLength === 4 ? 'WAN IPv4' : 'global IPv6'} address is unknown: certificate scope not checked`,
    );
  const pages = result.pages !== undefined && result.pages > 1 ? `, ${result.pages} pages` : '';
  log(
    run,
    'info',
    'ACCEPTED',
    `${result.signed ? 'signed' : 'unsigned'} ${result.status} (${result.mode}${pages}) from ${formatIp(from)}, lifetime ${result.lifetimeSeconds} s`,
  );
  const accepted = { status: result.status, scopeCheck: result.scopeCheck };
  update(run, {
    exchange: { ...exchange, book: settled.book, accepted },
    unanswered: 0,
    lastExchange: { outcome: 'accepted', ...accepted, refusals: exchange.refusals },
  });
  raiseFloor(run, result.signedTimeSeconds);
  setTimer(run, 'retry', undefined);
  applyAccepted(run, result);
  scheduleAfterAnswer(run);
}

/** A certificate answer (or a 4.04) to one of the window's certificate queries ([P-8.7-4]). */
function onCertificateAnswer(run: Run, answer: DecodedResponse, from: Uint8Array): void {
  const exchange = currentExchange(run);
  const query = findQuery(exchange.book, answer.frame.token);
  if (answer.response.kind === 'not-found') {
    if (query !== undefined && equalBytes(query.destination, from))
      log(
        run,
        'warn',
        'CERTIFICATE_NOT_FOUND',
        `the collector has no certificate for key ${toHex(query.kid)}`,
      );
    else countRefusal(run, exchange, 'UNKNOWN_TOKEN', '4.04 for no outstanding query');
    return;
  }
  if (query !== undefined && exchange.fetched.some((k) => equalBytes(k, query.kid))) {
    countRefusal(
      run,
      exchange,
      'ALREADY_SETTLED',
      `certificate for key ${toHex(query.kid)} already kept in this window`,
    );
    return;
  }
  const budget = new SignatureBudget(
    Math.max(0, MAX_SIGNATURE_CHECKS_PER_WINDOW - exchange.signatureChecksUsed),
  );
  const memo = new VerificationMemo(exchange.verified);
  const result = acceptCertificate(answer, {
    from,
    nowMs: run.clock.monotonicMs,
    time: timeViewOf(run),
    book: exchange.book,
    anchors: run.state.config.anchors,
    budget,
    memo,
  });
  const charged: Exchange = {
    ...exchange,
    signatureChecksUsed: exchange.signatureChecksUsed + budget.used,
    verified: memo.entries,
  };
  if (!result.accept) {
    countRefusal(run, charged, result.reason, `certificate answer: ${result.detail}`);
    return;
  }
  // Keep it: it replaces one of the same kid; the bound evicts the one that expires first.
  const certificates = [
    result.certificate,
    ...run.state.certificates.filter(
      (c) => !equalBytes(importPublicKey(c.value.subject).kid, result.kid),
    ),
  ]
    .sort((a, b) => b.value.notAfter - a.value.notAfter)
    .slice(0, MAX_STATE_CERTIFICATES);
  const held = charged.held.filter((h) => equalBytes(h.kid, result.kid));
  update(run, {
    certificates,
    exchange: {
      ...charged,
      fetched: [...charged.fetched, result.kid],
      held: charged.held.filter((h) => !held.includes(h)),
    },
  });
  raiseFloor(run, result.signedTimeSeconds);
  log(
    run,
    'info',
    'CERTIFICATE_KEPT',
    `kept the certificate of key ${toHex(result.kid)} (${result.certificate.value.operator}, until ${result.certificate.value.notAfter})`,
  );
  // Decide again on the answer that was waiting for it; the window's budget still applies.
  for (const h of held) onAnswer(run, { kind: 'answer', bytes: h.bytes, from: h.from });
}

function onAnswer(run: Run, event: Extract<AgentEvent, { kind: 'answer' }>): void {
  const state = run.state;
  if (state.config.mode === 'off') return;
  const exchange = state.exchange;
  if (exchange === undefined) {
    log(run, 'debug', 'UNSOLICITED', 'answer outside any answer window');
    return;
  }
  let answer: DecodedResponse;
  try {
    answer = decodeResponse(event.bytes);
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    countRefusal(run, exchange, 'MALFORMED', `answer does not decode: ${err.code}`);
    return;
  }
  const from = plainAddress(event.from.address);
  const response = answer.response;
  const now = run.clock.monotonicMs;
  if (response.kind === 'busy') {
    const request = findRequest(exchange.book, answer.frame.token);
    if (request === undefined || !equalBytes(request.destination, from)) {
      countRefusal(run, exchange, 'UNKNOWN_TOKEN', '5.03 for no outstanding request');
      return;
    }
    // [P-3.5-1] no retry before Max-Age.
    const retryAt = Math.max(state.timers.retry ?? 0, now + response.retryAfterSeconds * 1000);
    setTimer(
      run,
      'retry',
      state.timers.retry === undefined || retryAt >= exchange.book.closesAtMs ? undefined : retryAt,
    );
    log(run, 'info', 'BUSY', `collector busy: no retry for ${response.retryAfterSeconds} s`);
    return;
  }
  if (
    response.kind === 'certificate' ||
    (response.kind === 'not-found' && findQuery(exchange.book, answer.frame.token) !== undefined)
  ) {
    onCertificateAnswer(run, answer, from);
    return;
  }
  const scopeAddress = scopeAddressFor(state.network, from);
  const device: DeviceIdentity = {
    vendor: state.config.device.vendor,
    model: state.config.device.model,
    swVersion: state.config.device.swVersion,
    ...(state.config.device.hwVersion === undefined
      ? {}
      : { hwVersion: state.config.device.hwVersion }),
    ...(scopeAddress === undefined ? {} : { scopeAddress }),
  };
  const budget = new SignatureBudget(
    Math.max(0, MAX_SIGNATURE_CHECKS_PER_WINDOW - exchange.signatureChecksUsed),
  );
  const memo = new VerificationMemo(exchange.verified);
  const result = acceptAnswer(answer, {
    from,
    nowMs: now,
    time: timeViewOf(run),
    book: exchange.book,
    anchors: state.config.anchors,
    certificates: certificatesOf(state),
    device,
    budget,
    memo,
  });
  const charged: Exchange = {
    ...exchange,
    signatureChecksUsed: exchange.signatureChecksUsed + budget.used,
    verified: memo.entries,
  };
  if (!result.accept) {
    countRefusal(run, charged, result.reason, result.detail);
    if (result.kid !== undefined)
      askCertificate(run, result.kid, {
        kid: result.kid,
        bytes: event.bytes.slice(),
        from: endpointOf(state, from, event.from),
        fail: response.kind === 'verdict' && response.verdict.value.status === 'fail',
      });
    return;
  }
  update(run, { exchange: charged });
  if (result.mode === 'private' && (result.pages ?? 1) > 1 && result.status !== 'fail') {
    // [P-8.5-7] a PASS or WARN of one page decides nothing: collect the whole bucket first.
    raiseFloor(run, result.signedTimeSeconds);
    const decision = collectPage(run, result, endpointOf(state, from, event.from));
    if (decision !== undefined) decide(run, decision, from);
    return;
  }
  decide(run, result, from);
}

function onWindowClosed(run: Run): void {
  const exchange = run.state.exchange;
  if (exchange === undefined) return;
  const now = run.clock.monotonicMs;
  const schedule = scheduleOf(run.state);
  clear(run, 'exchange');
  setTimer(run, 'retry', undefined);
  if (exchange.accepted === undefined) {
    for (const set of exchange.buckets)
      log(
        run,
        'info',
        'PARTIAL_BUCKET',
        `window closed with ${set.accepted.length} of ${set.pages} bucket pages (feed ${set.feedVersion}): no decision`,
      );
    // Fail-open: no valid answer changes nothing; it is recorded and retried later with backoff.
    const unanswered = run.state.unanswered + 1;
    update(run, {
      unanswered,
      lastExchange: { outcome: 'unanswered', refusals: exchange.refusals },
    });
    log(
      run,
      'info',
      'UNANSWERED',
      `answer window closed without an accepted answer (${unanswered} in a row)`,
    );
    wantAnnounce(
      run,
      now + unansweredDelayMs(unanswered, run.clock.random, schedule),
      'retry-later',
    );
    const fail = run.state.fail;
    if (fail !== undefined)
      wantAnnounce(run, now + renewDelayMs(fail.endsAtMs - now, schedule), 'renew');
  } else {
    update(run, {
      lastExchange: { outcome: 'accepted', ...exchange.accepted, refusals: exchange.refusals },
    });
  }
  const pending = run.state.pending;
  if (pending !== undefined) {
    clear(run, 'pending');
    wantAnnounce(
      run,
      pending === 'network'
        ? networkAnnounceAtMs(now, run.state.lastNetworkExchangeMs, run.clock.random, schedule)
        : now,
      pending,
    );
  }
}

function onCheckpoint(run: Run): void {
  const now = run.clock.monotonicMs;
  const { fail, override } = run.state;
  if (fail !== undefined)
    update(run, {
      fail: {
        ...fail,
        checkpointSeconds: remainingSeconds({ endsAtMonotonicMs: fail.endsAtMs }, now),
      },
    });
  if (override?.endsAtMs !== undefined)
    update(run, {
      override: {
        ...override,
        checkpointSeconds: remainingSeconds({ endsAtMonotonicMs: override.endsAtMs }, now),
      },
    });
  setTimer(run, 'checkpoint', now + scheduleOf(run.state).checkpointMs);
}

function onTimer(run: Run, id: TimerId): void {
  const due = run.state.timers[id];
  // A timer the core no longer holds, or one fired early, is stale: nothing happens.
  if (due === undefined || due > run.clock.monotonicMs) return;
  setTimer(run, id, undefined);
  switch (id) {
    case 'announce': {
      const reason = run.state.announceReason ?? 'periodic';
      clear(run, 'announceReason');
      startExchange(run, reason);
      return;
    }
    case 'retry': {
      const exchange = run.state.exchange;
      if (exchange === undefined || exchange.accepted !== undefined) return;
      const attempt = exchange.attempt + 1;
      if (exchange.buckets.length === 0) {
        sendAttempt(run, { ...exchange, attempt });
        return;
      }
      // A bucket page came: the collector answers, so ask again only for the missing pages.
      update(run, {
        exchange: {
          ...exchange,
          attempt,
          buckets: exchange.buckets.map((b) => ({ ...b, requested: [] })),
        },
      });
      exchange.buckets.forEach((_, index) => {
        requestPages(run, index);
      });
      scheduleRetry(run, attempt, currentExchange(run).book);
      return;
    }
    case 'window':
      onWindowClosed(run);
      return;
    case 'lapse':
      // [P-8.3-5] timed on the monotonic clock: no wall-clock change lifts it.
      clear(run, 'fail');
      run.reason = 'the FAIL lapsed without renewal';
      run.liftReason = 'lapsed';
      return;
    case 'override':
      clear(run, 'override');
      run.reason = "the owner's override ended";
      return;
    case 'checkpoint':
      onCheckpoint(run);
      return;
  }
}

function onOverride(run: Run, event: Extract<AgentEvent, { kind: 'override' }>): void {
  const forSeconds = event.forSeconds;
  if (forSeconds !== undefined && (!Number.isSafeInteger(forSeconds) || forSeconds <= 0))
    throw new RangeError(`override.forSeconds: expected a positive integer, got ${forSeconds}`);
  const now = run.clock.monotonicMs;
  const fail = run.state.fail;
  // Scoped to the advisories in force: a new, different FAIL is not covered.
  update(run, {
    override: {
      reason: event.reason,
      advisories: fail?.advisories ?? [],
      swVersion: run.state.config.device.swVersion,
      ...(forSeconds === undefined
        ? {}
        : { endsAtMs: now + forSeconds * 1000, checkpointSeconds: forSeconds }),
    },
  });
  run.reason = `owner override: ${event.reason}`;
  run.liftReason = 'override';
}

/**
 * Handles one event and returns the new state and the effects to perform, in order. Throws
 * only on misuse (`RangeError`); untrusted answers are refused, counted and logged.
 * @example ({ state, effects } = onEvent(state, { kind: 'answer', bytes, from }, { monotonicMs, random }));
 */
export function onEvent(state: AgentState, event: AgentEvent, clock: AgentClock): AgentStep {
  const run: Run = { state, effects: [], clock, reason: event.kind, liftReason: 'disabled' };
  switch (event.kind) {
    case 'network':
      onNetwork(run, event);
      break;
    case 'timer':
      onTimer(run, event.id);
      break;
    case 'answer':
      onAnswer(run, event);
      break;
    case 'announceNow':
      run.reason = 'owner asked to announce';
      startExchange(run, 'owner');
      break;
    case 'override':
      onOverride(run, event);
      break;
    case 'resume':
      clear(run, 'override');
      run.reason = 'owner resumed: the override ended';
      break;
  }
  return finish(run, state);
}
