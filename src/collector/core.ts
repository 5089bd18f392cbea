/**
 * The collector's pure core: one datagram and the time in, plain-data effects out (reply, drop,
 * count, notify). Cheapest checks first ([P-5-5]); never an answer larger than its request.
 * @module
 */
import { equalBytes, type PrivateKey } from '../crypto/index.ts';
import type { BundleRecord, VerifiedBundle } from '../feed/bundle.ts';
import {
  COAP_CODE,
  MAX_CERTIFICATE_BYTES,
  MAX_ROOT_BYTES,
  MAX_VERDICT_LIFETIME_SECONDS,
  bucketIndex,
  decodeCbor,
  decodeRequest,
  encodeCbor,
  encodeResponse,
  encodeUnsignedVerdict,
  isProtocolError,
  readFeedRecord,
  readKeyCertificate,
  readRoot,
  signPolicy,
  signVerdict,
  type DecodedRequest,
  type IdentifiedAnnouncement,
  type Policy,
  type PrivateAnnouncement,
  type ProtocolErrorCode,
  type ResponseBody,
  type Status,
  type Verdict,
} from '../protocol/index.ts';
import { bucketPage, buildFeedIndex, isListedModel, lookupVerdict, type FeedIndex } from './feed-index.ts';
import {
  COLLECTOR_POLICY_DEFAULTS,
  applyPolicy,
  assertCollectorPolicy,
  needsResign,
  policyDocument,
  type CollectorPolicy,
  type PolicyDecision,
} from './policy.ts';
import { checkRate, createRateLimiter, type RateLimitOptions, type RateLimiter } from './rate-limit.ts';

/** One end of a UDP exchange: a 4- or 16-byte address and a port. */
export interface Endpoint {
  readonly address: Uint8Array;
  readonly port: number;
}

/** A received datagram: its UDP payload, where it came from and the local address it reached. */
export interface Datagram {
  readonly bytes: Uint8Array;
  readonly source: Endpoint;
  readonly destination: Endpoint;
}

/** Reasons of the collector's own for not answering, beside the wire's {@link ProtocolErrorCode}s. */
export const COLLECTOR_DROP_CODES = ['RATE_LIMITED', 'OVERSIZE_ANSWER', 'NOT_FOUND', 'NO_FEED', 'FEED_EXPIRED'] as const;
/** Why a datagram got no answer: a wire refusal code or a collector reason. */
export type DropCode = ProtocolErrorCode | (typeof COLLECTOR_DROP_CODES)[number];

/** Aggregate counters the core emits; their labels never name an address. */
export type CounterName = 'identified' | 'private' | 'certificate' | 'root' | 'rate_limited';

/** What the shell must do; the core does nothing itself. */
export type Effect =
  | {
      readonly kind: 'reply';
      readonly to: Endpoint;
      readonly bytes: Uint8Array;
      /** What the answer is, for the shell's counters. */
      readonly answer: ResponseBody['kind'];
      /** Signatures computed for it (a verdict, or a policy document re-signed): 0 or 1. */
      readonly signatures: number;
    }
  | { readonly kind: 'drop'; readonly code: DropCode }
  | { readonly kind: 'count'; readonly counter: CounterName; readonly labels: Readonly<Record<string, string>> }
  | {
      readonly kind: 'notify';
      readonly address: Uint8Array;
      readonly status: 'fail' | 'warn';
      readonly advisories: readonly string[];
      readonly atMs: number;
    };

/** The signed policy document in use; replaced only when it changes or nears expiry. */
interface PolicyCache {
  document: Policy | undefined;
  bytes: Uint8Array;
}

/**
 * Everything the core decides with. Immutable except two bounded parts `onDatagram` updates in
 * place: the rate-limit table and the cached signed policy (re-signed at most once per policy
 * lifetime). Feed, key and policy change only through `withFeed`, `withKey`, `withPolicy`.
 */
export interface CollectorState {
  readonly operator: string;
  readonly policy: CollectorPolicy;
  readonly key: PrivateKey;
  /** The collector key's current certificate: tagged COSE_Sign1 bytes, served unchanged. */
  readonly certificate: Uint8Array;
  readonly feed: FeedIndex | undefined;
  /** Root documents by version: tagged COSE_Sign bytes, served unchanged. */
  readonly roots: ReadonlyMap<number, Uint8Array>;
  /** Emit `notify` effects for FAIL and WARN answers (off by default: nothing per address). */
  readonly notify: boolean;
  readonly limiter: RateLimiter;
  readonly signedPolicy: PolicyCache;
}

/** What {@link createCollectorState} needs; the shell loads and verifies each part. */
export interface CollectorOptions {
  /** Operator name in the policy document (≤ 64 bytes). */
  readonly operator: string;
  readonly key: PrivateKey;
  readonly certificate: Uint8Array;
  readonly policy?: Partial<CollectorPolicy>;
  readonly rateLimit?: Partial<RateLimitOptions>;
  /** Root documents (tagged COSE_Sign bytes) to serve to root queries. */
  readonly roots?: readonly Uint8Array[];
  readonly feed?: VerifiedBundle;
  readonly notify?: boolean;
}

// A time whose issue and expiry both encode as 5-byte CBOR uints, as every time until 2106 does:
// signing a document at it checks the size limit any real signing time will meet.
const SIZE_CHECK_SECONDS = 0xffffffff;

function emptyPolicyCache(): PolicyCache {
  return { document: undefined, bytes: new Uint8Array(0) };
}

function checkedPolicy(policy: CollectorPolicy, operator: string, key: PrivateKey): CollectorPolicy {
  assertCollectorPolicy(policy);
  // Throws ProtocolError('TOO_LARGE') now, at configuration time, rather than on a request.
  signPolicy(key, policyDocument(policy, { operator, nowSeconds: SIZE_CHECK_SECONDS - policy.policyLifetimeSeconds }));
  return policy;
}

function checkedCertificate(key: PrivateKey, certificate: Uint8Array): Uint8Array {
  if (certificate.byteLength > MAX_CERTIFICATE_BYTES) throw new RangeError(`certificate: ${certificate.byteLength} bytes, at most ${MAX_CERTIFICATE_BYTES}`);
  const parsed = readKeyCertificate(decodeCbor(certificate));
  if (!equalBytes(parsed.value.subject, key.publicKey.raw)) throw new RangeError('certificate: its subject is not the collector key');
  return certificate.slice();
}

function rootTable(roots: readonly Uint8Array[]): Map<number, Uint8Array> {
  const table = new Map<number, Uint8Array>();
  for (const bytes of roots) {
    if (bytes.byteLength > MAX_ROOT_BYTES) throw new RangeError(`root document: ${bytes.byteLength} bytes, at most ${MAX_ROOT_BYTES}`);
    const version = readRoot(decodeCbor(bytes)).value.version;
    if (table.has(version)) throw new RangeError(`root documents: version ${version} given twice`);
    table.set(version, bytes.slice());
  }
  return table;
}

/**
 * A collector state. Throws `RangeError` (or `ProtocolError` for an undecodable certificate or
 * root) on a configuration the collector cannot serve: the shell exits non-zero.
 * @example const state = createCollectorState({ operator: 'Example ISP', key, certificate, feed: verified.bundle });
 */
export function createCollectorState(options: CollectorOptions): CollectorState {
  const policy = checkedPolicy({ ...COLLECTOR_POLICY_DEFAULTS, ...options.policy }, options.operator, options.key);
  return {
    operator: options.operator,
    policy,
    key: options.key,
    certificate: checkedCertificate(options.key, options.certificate),
    feed: options.feed === undefined ? undefined : buildFeedIndex(options.feed),
    roots: rootTable(options.roots ?? []),
    notify: options.notify ?? false,
    limiter: createRateLimiter(options.rateLimit),
    signedPolicy: emptyPolicyCache(),
  };
}

/**
 * The state with a new verified feed swapped in. Throws `RangeError` for a feed version below the
 * current one (versions never go back); rate limits and the signed policy carry over.
 */
export function withFeed(state: CollectorState, bundle: VerifiedBundle): CollectorState {
  const current = state.feed?.feedVersion;
  if (current !== undefined && bundle.manifest.feedVersion < current) {
    throw new RangeError(`feed version ${bundle.manifest.feedVersion}: below the current ${current}`);
  }
  return { ...state, feed: buildFeedIndex(bundle) };
}

/**
 * The state with a reloaded collector key and its certificate; the policy document is re-signed
 * with the new key on its next use. Throws `RangeError` if the certificate is not for this key.
 */
export function withKey(state: CollectorState, key: PrivateKey, certificate: Uint8Array): CollectorState {
  return { ...state, key, certificate: checkedCertificate(key, certificate), signedPolicy: emptyPolicyCache() };
}

/** The state with a reloaded policy; its document is re-signed on its next use only if it changed. */
export function withPolicy(state: CollectorState, policy: CollectorPolicy): CollectorState {
  return { ...state, policy: checkedPolicy(policy, state.operator, state.key), signedPolicy: { ...state.signedPolicy } };
}

/**
 * The state with the settings a SIGHUP may change beside feed, key and policy: the operator name
 * (the policy document is re-signed on its next use when it changed), the rate limit (a new, empty
 * table: a reload forgives every limited source) and whether `notify` effects are emitted.
 * A setting left `undefined` carries over unchanged, the rate-limit table with it.
 */
export function withSettings(
  state: CollectorState,
  settings: { readonly operator?: string; readonly rateLimit?: Partial<RateLimitOptions>; readonly notify?: boolean },
): CollectorState {
  const operator = settings.operator ?? state.operator;
  return {
    ...state,
    operator,
    policy: operator === state.operator ? state.policy : checkedPolicy(state.policy, operator, state.key),
    limiter: settings.rateLimit === undefined ? state.limiter : createRateLimiter(settings.rateLimit),
    notify: settings.notify ?? state.notify,
    signedPolicy: { ...state.signedPolicy },
  };
}

/** The signed policy bytes for `nowSeconds`, re-signing only when {@link needsResign} says so. */
export function currentPolicyBytes(state: CollectorState, nowSeconds: number): Uint8Array {
  const cache = state.signedPolicy;
  const context = { operator: state.operator, nowSeconds };
  if (needsResign(cache.document, state.policy, context)) {
    const document = policyDocument(state.policy, context);
    cache.bytes = encodeCbor(signPolicy(state.key, document));
    cache.document = document;
  }
  return cache.bytes;
}

// RFC 4291 §2.5.5.2: a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the verdict and
// the rate limit use the 4-byte address the device itself knows.
function plainAddress(address: Uint8Array): Uint8Array {
  if (address.byteLength === 4) return address;
  if (address.byteLength !== 16) throw new RangeError(`address: expected 4 or 16 bytes, got ${address.byteLength}`);
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return address;
  return address[10] === 0xff && address[11] === 0xff ? address.subarray(12) : address;
}

type Answer =
  | { readonly body: ResponseBody; readonly effects: readonly Effect[]; readonly signatures?: number }
  | { readonly drop: DropCode };

interface Exchange {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly nowMs: number;
}

function count(counter: CounterName, labels: Record<string, string>): Effect {
  return { kind: 'count', counter, labels };
}

/**
 * The record's exact signed bytes as a tag that encodes back to them (strict CBOR), decoded once
 * per record: re-decoding it for every FAIL cost ~4 % of the CPU of an all-FAIL load (--cpu-prof).
 * A cache keyed by the record object: it goes when the feed that holds the record goes.
 */
const signedRecords = new WeakMap<BundleRecord, ReturnType<typeof readFeedRecord>>();
function signedRecord(record: BundleRecord): ReturnType<typeof readFeedRecord> {
  let tag = signedRecords.get(record);
  if (tag === undefined) {
    tag = readFeedRecord(decodeCbor(record.bytes));
    signedRecords.set(record, tag);
  }
  return tag;
}

function lifetimeOf(state: CollectorState, status: Status, feedValidSeconds: number | undefined): number {
  const configured = Math.min(state.policy.verdictLifetimes[status], MAX_VERDICT_LIFETIME_SECONDS);
  return feedValidSeconds === undefined ? configured : Math.min(configured, feedValidSeconds);
}

function answerIdentified(state: CollectorState, request: IdentifiedAnnouncement, exchange: Exchange): Answer {
  const nowSeconds = Math.floor(exchange.nowMs / 1000);
  const feed = state.feed;
  // [P-6.1-2] an expired feed never yields a FAIL: everything is UNKNOWN until a new one arrives.
  const live = feed !== undefined && feed.expiresAt > nowSeconds ? feed : undefined;
  const decision: PolicyDecision = live === undefined ? { status: 'unknown' } : applyPolicy(lookupVerdict(live, request), { policy: state.policy, source: exchange.source });
  const record = decision.record;
  const verdict: Verdict = {
    nonce: request.nonce,
    status: decision.status,
    destination: exchange.destination,
    source: exchange.source,
    lifetimeSeconds: lifetimeOf(state, decision.status, live === undefined ? undefined : live.expiresAt - nowSeconds),
    feedVersion: feed?.feedVersion ?? 0,
    ...(record === undefined ? {} : { record: signedRecord(record) }),
  };
  // [P-5.1-4] sign FAIL and WARN always, anything when the device says it is quarantined.
  const mustSign = decision.status === 'fail' || decision.status === 'warn' || request.quarantined;
  const body: ResponseBody = mustSign
    ? { kind: 'verdict', signed: encodeCbor(signVerdict(state.key, verdict)) }
    : { kind: 'unsigned-verdict', verdict: encodeUnsignedVerdict(verdict) };
  // Labels name a model only when the feed lists it, so devices cannot grow the label set.
  const listed = feed !== undefined && isListedModel(feed, request.vendor, request.model);
  const effects: Effect[] = [count('identified', { vendor: listed ? request.vendor : '(unlisted)', model: listed ? request.model : '(unlisted)', status: decision.status })];
  if (state.notify && (decision.status === 'fail' || decision.status === 'warn')) {
    effects.push({ kind: 'notify', address: exchange.source.slice(), status: decision.status, advisories: record?.record.advisories ?? [], atMs: exchange.nowMs });
  }
  return { body, effects, signatures: mustSign ? 1 : 0 };
}

function answerPrivate(state: CollectorState, request: PrivateAnnouncement, nowMs: number): Answer {
  const feed = state.feed;
  if (feed === undefined) return { drop: 'NO_FEED' };
  const nowSeconds = Math.floor(nowMs / 1000);
  // Its pages expire with it: a device would refuse them (RECORD_EXPIRED), so send nothing.
  if (feed.expiresAt <= nowSeconds) return { drop: 'FEED_EXPIRED' };
  const bucket = bucketIndex(request.prefix);
  const page = bucketPage(feed, bucket, request.page);
  if (page === undefined) return { drop: 'NOT_FOUND' };
  const cached = state.signedPolicy.document;
  const policy = currentPolicyBytes(state, nowSeconds);
  return {
    body: { kind: 'private', nonce: request.nonce, bucket: page, policy },
    effects: [count('private', { bucket: bucket.toString(16).padStart(3, '0') })],
    signatures: state.signedPolicy.document === cached ? 0 : 1,
  };
}

function answer(state: CollectorState, decoded: DecodedRequest, exchange: Exchange): Answer {
  const request = decoded.request;
  switch (request.kind) {
    case 'identified':
      return answerIdentified(state, request, exchange);
    case 'private':
      return answerPrivate(state, request, exchange.nowMs);
    case 'certificate': {
      const found = equalBytes(request.kid, state.key.publicKey.kid);
      return {
        body: found ? { kind: 'certificate', certificate: state.certificate } : { kind: 'not-found' },
        effects: [count('certificate', { result: found ? 'found' : 'not-found' })],
      };
    }
    case 'root': {
      const root = state.roots.get(request.version);
      return {
        body: root === undefined ? { kind: 'not-found' } : { kind: 'root', root },
        effects: [count('root', { result: root === undefined ? 'not-found' : 'found' })],
      };
    }
  }
}

function methodOf(decoded: DecodedRequest): number {
  const kind = decoded.request.kind;
  return kind === 'certificate' || kind === 'root' ? COAP_CODE.GET : COAP_CODE.POST;
}

/**
 * Encodes the answer and checks it against the request's length at the last moment ([P-3-2]):
 * an answer larger than its request is never emitted, only counted as `OVERSIZE_ANSWER`.
 */
function reply(datagram: Datagram, decoded: DecodedRequest, body: ResponseBody, effects: readonly Effect[], signatures = 0): Effect[] {
  let bytes: Uint8Array;
  try {
    bytes = encodeResponse(decoded.frame, body, methodOf(decoded));
  } catch (err) {
    if (isProtocolError(err) && err.code === 'TOO_LARGE') return [{ kind: 'drop', code: 'OVERSIZE_ANSWER' }];
    throw err;
  }
  if (bytes.byteLength > datagram.bytes.byteLength) return [{ kind: 'drop', code: 'OVERSIZE_ANSWER' }];
  return [{ kind: 'reply', to: datagram.source, bytes, answer: body.kind, signatures }, ...effects];
}

/**
 * Handles one datagram at `nowMs` (epoch milliseconds) and returns what to do: at most one
 * `reply`, or one `drop` with its code, plus aggregate `count`s (and `notify` when enabled).
 * Checks run cheapest first ([P-5-5]): length, CoAP, version, CBOR and fields (decodeRequest),
 * then the rate limit, then matching and policy, then signing. Malformed input gets no answer.
 * @example for (const effect of onDatagram(state, { bytes, source, destination }, Date.now())) perform(effect);
 */
export function onDatagram(state: CollectorState, datagram: Datagram, nowMs: number): Effect[] {
  let decoded: DecodedRequest;
  try {
    decoded = decodeRequest(datagram.bytes);
  } catch (err) {
    // [P-2.2-1] a refused datagram gets nothing; the shell counts the code.
    if (isProtocolError(err)) return [{ kind: 'drop', code: err.code }];
    throw err;
  }
  const source = plainAddress(datagram.source.address);
  const destination = plainAddress(datagram.destination.address);
  switch (checkRate(state.limiter, source, nowMs)) {
    case 'drop':
      return [{ kind: 'drop', code: 'RATE_LIMITED' }];
    case 'slip':
      // [P-3.5-1] 5.03 with Max-Age and no payload: 16 bytes against the request's 1232.
      return reply(datagram, decoded, { kind: 'busy', retryAfterSeconds: state.limiter.options.retryAfterSeconds }, [count('rate_limited', { action: 'slip' })]);
    case 'allow':
      break;
  }
  const result = answer(state, decoded, { source, destination, nowMs });
  if ('drop' in result) return [{ kind: 'drop', code: result.drop }];
  return reply(datagram, decoded, result.body, result.effects, result.signatures);
}
