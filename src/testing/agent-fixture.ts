/**
 * Fixtures for the device agent core's tests (tests only): a configuration, reproducible
 * randomness, a simulator that fires the core's timers in order, and a real collector core.
 * @module
 */
import assert from 'node:assert/strict';
import {
  createAgent,
  onEvent,
  type AgentClock,
  type AgentConfig,
  type AgentEffect,
  type AgentEvent,
  type AgentState,
  type CollectorEndpoint,
  type TimerId,
} from '../agent/core.ts';
import type { RandomBytes } from '../agent/schedule.ts';
import type { PersistedState } from '../agent/state.ts';
import { createCollectorState, onDatagram, type CollectorState } from '../collector/core.ts';
import type { ProductMatchRow } from '../feed/types.ts';
import {
  COAP_CODE,
  bucketPrefix,
  bucketTag,
  decodeCbor,
  decodeRequest,
  modelHash,
  signBucket,
  signPolicy,
  encodeCbor,
  encodeResponse,
  encodeUnsignedVerdict,
  parseIp,
  readFeedRecord,
  readKeyCertificate,
  signFeedRecord,
  signVerdict,
  trustAnchorsOf,
  type BucketEntry,
  type CborTag,
  type DecodedResponse,
  type FeedRecord,
  type Status,
} from '../protocol/index.ts';
import {
  COLLECTOR_ADDRESS,
  DEVICE,
  DEVICE_ADDRESS,
  NONCE,
  NOW,
  NOW_MS,
  ROOT,
  TOKEN,
  certificateBytes,
  testBundle,
  testFeedRows,
} from './collector-fixture.ts';
import { createRng } from './prng.ts';
import { deviceRecord, scenarioPolicy } from './trust-fixture.ts';
import { TRUST_KEYS } from './trust-keys.ts';

const TIMER_IDS: readonly TimerId[] = [
  'announce',
  'retry',
  'window',
  'lapse',
  'override',
  'checkpoint',
];

function ip(text: string): Uint8Array {
  const address = parseIp(text);
  if (address === undefined) throw new RangeError(text);
  return address;
}

/** The IPv4 anycast collector address of the tests (TEST-NET-2). */
export const COLLECTOR_V4 = ip('198.51.100.1');
/** The device's WAN IPv4 address, inside the certificate's scope 192.0.2.0/24. */
export const DEVICE_WAN_V4 = ip('192.0.2.7');
/** The IPv6 and IPv4 collectors, port 5683. */
export const COLLECTORS: readonly CollectorEndpoint[] = [
  { address: COLLECTOR_ADDRESS, port: 5683 },
  { address: COLLECTOR_V4, port: 5683 },
];
/** Remediation hosts of the test feed's DIR-859 record. */
export const DIR859_HOSTS = ['support.dlink.com'] as const;

/** Seeded random bytes (mulberry32): reproducible and distinct enough for nonces and tokens. */
export function seededRandom(seed = 1): RandomBytes {
  const rng = createRng(seed);
  return (byteCount) => Uint8Array.from({ length: byteCount }, () => Math.floor(rng() * 256));
}

/**
 * Random bytes that make the agent's first request use the trust fixture's NONCE and TOKEN, so
 * that the acceptance scenarios' answers answer it; every other draw comes from {@link seededRandom}.
 */
export function scenarioRandom(seed = 1): RandomBytes {
  const rest = seededRandom(seed);
  let nonceGiven = false;
  let tokenGiven = false;
  return (byteCount) => {
    if (byteCount === 16 && !nonceGiven) {
      nonceGiven = true;
      return NONCE.slice();
    }
    if (byteCount === 8 && !tokenGiven) {
      tokenGiven = true;
      return TOKEN.slice();
    }
    return rest(byteCount);
  };
}

/** The test agent: the DIR-859 on 1.05B03, identified, enforcing, both collectors. */
export function agentConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    mode: 'identified',
    enforcement: true,
    device: {
      vendor: DEVICE.vendor,
      model: DEVICE.model,
      swName: 'firmware',
      swVersion: DEVICE.swVersion,
      hwVersion: DEVICE.hwVersion,
    },
    collectors: COLLECTORS,
    anchors: trustAnchorsOf(ROOT),
    certificates: [readKeyCertificate(decodeCbor(certificateBytes()))],
    remediationHosts: ['update.example.net'],
    ...overrides,
  };
}

/** The network of the tests: a default route, the device's global IPv6 address, its WAN IPv4. */
export const NETWORK_UP: AgentEvent = {
  kind: 'network',
  hasDefaultRoute: true,
  addresses: [DEVICE_ADDRESS],
  wanIpv4: DEVICE_WAN_V4,
};

/** The test feed with remediation URLs on the DIR-859 (their hosts become the record's hosts). */
export function agentFeedRows(): ProductMatchRow[] {
  return testFeedRows().map((row) =>
    row.product.model === 'dir859'
      ? {
          ...row,
          advisory: {
            ...row.advisory,
            remediationUrls: DIR859_HOSTS.map((h) => `https://${h}/firmware`),
          },
        }
      : row,
  );
}

let defaultCollector: CollectorState | undefined;

/** A real collector core serving `rows` (default {@link agentFeedRows}, built once: signing a feed takes ~1 s). */
export function testCollector(rows?: readonly ProductMatchRow[]): CollectorState {
  const create = (feedRows: readonly ProductMatchRow[]): CollectorState =>
    createCollectorState({
      operator: 'Example ISP',
      key: TRUST_KEYS.collector,
      certificate: certificateBytes(),
      feed: testBundle({ rows: feedRows }),
    });
  if (rows !== undefined) return create(rows);
  defaultCollector ??= create(agentFeedRows());
  return defaultCollector;
}

/** The sends among `effects`. */
export function sendsOf(effects: readonly AgentEffect[]): Extract<AgentEffect, { kind: 'send' }>[] {
  return effects.filter((e) => e.kind === 'send');
}

/** The effects of one kind. */
export function effectsOf<K extends AgentEffect['kind']>(
  effects: readonly AgentEffect[],
  kind: K,
): Extract<AgentEffect, { kind: K }>[] {
  return effects.filter((e): e is Extract<AgentEffect, { kind: K }> => e.kind === kind);
}

/** The collector's answer to one send, as the device would receive it (from the address it sent to). */
export function collectorAnswer(
  collector: CollectorState,
  send: Extract<AgentEffect, { kind: 'send' }>,
): AgentEvent {
  const source = send.to.address.byteLength === 4 ? DEVICE_WAN_V4 : DEVICE_ADDRESS;
  const effects = onDatagram(
    collector,
    { bytes: send.bytes, source: { address: source, port: 40_000 }, destination: send.to },
    NOW_MS,
  );
  const reply = effects.find((e) => e.kind === 'reply');
  assert.ok(reply?.kind === 'reply', `collector did not answer: ${JSON.stringify(effects)}`);
  return { kind: 'answer', bytes: reply.bytes, from: send.to };
}

/** A signed identified answer to the scenario request (NONCE, TOKEN, the IPv6 collector). */
export function scenarioVerdict(options: {
  status: Status;
  record?: Partial<FeedRecord>;
  lifetimeSeconds?: number;
}): AgentEvent {
  const record =
    options.record === undefined
      ? undefined
      : readFeedRecord(signFeedRecord(TRUST_KEYS.feed, deviceRecord(options.record)));
  const tag = signVerdict(TRUST_KEYS.collector, {
    nonce: NONCE,
    status: options.status,
    destination: COLLECTOR_ADDRESS,
    source: DEVICE_ADDRESS,
    lifetimeSeconds: options.lifetimeSeconds ?? 86_400,
    feedVersion: 42,
    ...(record === undefined ? {} : { record }),
  });
  const bytes = encodeResponse(
    { messageId: 7, token: TOKEN },
    { kind: 'verdict', signed: encodeCbor(tag) },
    COAP_CODE.POST,
  );
  return { kind: 'answer', bytes, from: { address: COLLECTOR_ADDRESS, port: 5683 } };
}

/** A persisted state holding a FAIL for the DIR-859 with `remainingSeconds` left. */
export function persistedFail(
  overrides: Partial<PersistedState> = {},
  remainingSeconds = 6 * 86_400,
): PersistedState {
  return {
    version: 1,
    timeFloorSeconds: NOW - 3_600,
    unanswered: 0,
    fail: {
      mode: 'identified',
      advisories: ['CVE-2019-17621'],
      remediationHosts: [...DIR859_HOSTS],
      swVersion: DEVICE.swVersion,
      remainingSeconds,
    },
    ...overrides,
  };
}

/**
 * Drives the core like a shell would: a fake monotonic clock, a trusted wall clock at the trust
 * fixture's NOW, and timers fired in time order. Every effect is also appended to `log`.
 */
export class AgentSim {
  state: AgentState;
  nowMs: number;
  readonly random: RandomBytes;
  readonly log: AgentEffect[] = [];
  readonly first: readonly AgentEffect[];

  constructor(
    options: {
      config?: AgentConfig;
      persisted?: PersistedState;
      nowMs?: number;
      random?: RandomBytes;
    } = {},
  ) {
    this.nowMs = options.nowMs ?? 1_000_000;
    this.random = options.random ?? seededRandom();
    const step = createAgent(options.config ?? agentConfig(), options.persisted, this.clock());
    this.state = step.state;
    this.first = step.effects;
    this.log.push(...step.effects);
  }

  /** The clock of the current instant. */
  clock(): AgentClock {
    return { monotonicMs: this.nowMs, trustedWallSeconds: NOW, random: this.random };
  }

  /** Handles one event now and returns its effects. */
  step(event: AgentEvent): readonly AgentEffect[] {
    const result = onEvent(this.state, event, this.clock());
    this.state = result.state;
    this.log.push(...result.effects);
    return result.effects;
  }

  /** Moves the clock to `targetMs`, firing every timer due on the way in order; returns their effects. */
  advanceTo(targetMs: number): AgentEffect[] {
    const effects: AgentEffect[] = [];
    for (;;) {
      let next: { id: TimerId; atMs: number } | undefined;
      for (const id of TIMER_IDS) {
        const atMs = this.state.timers[id];
        if (atMs !== undefined && atMs <= targetMs && (next === undefined || atMs < next.atMs))
          next = { id, atMs };
      }
      if (next === undefined) break;
      this.nowMs = Math.max(this.nowMs, next.atMs);
      effects.push(...this.step({ kind: 'timer', id: next.id }));
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
    return effects;
  }

  /** Moves the clock forward by `ms`. */
  advanceBy(ms: number): AgentEffect[] {
    return this.advanceTo(this.nowMs + ms);
  }
}

/** The datagram of a decoded answer, re-encoded from its signed documents' exact bytes. */
export function datagramOf(answer: DecodedResponse): Uint8Array {
  const r = answer.response;
  const frame = answer.frame;
  switch (r.kind) {
    case 'verdict':
      return encodeResponse(
        frame,
        { kind: 'verdict', signed: encodeCbor(r.verdict.tag) },
        COAP_CODE.POST,
      );
    case 'unsigned-verdict':
      return encodeResponse(
        frame,
        { kind: 'unsigned-verdict', verdict: encodeUnsignedVerdict(r.verdict) },
        COAP_CODE.POST,
      );
    case 'private':
      return encodeResponse(
        frame,
        {
          kind: 'private',
          nonce: r.nonce,
          bucket: encodeCbor(r.bucket.tag),
          policy: encodeCbor(r.policy.tag),
        },
        COAP_CODE.POST,
      );
    case 'certificate':
    case 'root':
    case 'not-found':
    case 'busy':
      throw new RangeError(`datagramOf: ${r.kind} answers are not needed by the agent tests`);
  }
}

/** A bucket entry for the test device's model: eligible, in KEV, versions below 1.06b01. */
export function deviceBucketEntry(model: string = DEVICE.model): BucketEntry {
  return {
    tag: bucketTag(modelHash(DEVICE.vendor, model)),
    eligible: true,
    kev: true,
    cvss10: 98,
    hwVersions: [],
    ranges: {
      scheme: 0,
      intervals: [
        {
          kind: 'range',
          lower: null,
          lowerInclusive: false,
          upper: '1.06b01',
          upperInclusive: false,
        },
      ],
    },
    fixed: ['1.06B01'],
    advisories: ['CVE-2019-17621'],
  };
}

/**
 * The signed pages of the device's bucket, signed by the feed key: `pages` pages of feed
 * `feedVersion`, the device's entry on `devicePage` (none: the device is listed nowhere) and an
 * entry for another model on every other page.
 */
export function bucketPages(options: {
  pages: number;
  devicePage?: number;
  feedVersion?: number;
}): CborTag[] {
  return Array.from({ length: options.pages }, (_, page) =>
    signBucket(TRUST_KEYS.feed, {
      feedVersion: options.feedVersion ?? 42,
      prefix: bucketPrefix(modelHash(DEVICE.vendor, DEVICE.model)),
      page,
      pages: options.pages,
      issuedAt: NOW - 3_600,
      expiresAt: NOW + 86_400,
      entries: [deviceBucketEntry(page === options.devicePage ? DEVICE.model : 'dir860l')],
    }),
  );
}

/**
 * The answer to a private request `send` (an announcement or a page request) with the page it
 * asked for taken from `pages` (or `page` to send another one), echoing its nonce and token.
 */
export function pageAnswer(
  send: Extract<AgentEffect, { kind: 'send' }>,
  pages: readonly CborTag[],
  page?: number,
): AgentEvent {
  const { frame, request } = decodeRequest(send.bytes);
  assert.ok(request.kind === 'private', `expected a private request, got ${request.kind}`);
  const bucket = pages[page ?? request.page];
  assert.ok(bucket !== undefined, `no page ${page ?? request.page}`);
  const policy = signPolicy(TRUST_KEYS.collector, scenarioPolicy());
  const bytes = encodeResponse(
    frame,
    {
      kind: 'private',
      nonce: request.nonce,
      bucket: encodeCbor(bucket),
      policy: encodeCbor(policy),
    },
    COAP_CODE.POST,
  );
  return { kind: 'answer', bytes, from: send.to };
}

/** A certificate answer to the certificate query `send`, carrying `certificate` (encoded tag). */
export function certificateAnswer(
  send: Extract<AgentEffect, { kind: 'send' }>,
  certificate: Uint8Array,
): AgentEvent {
  const { frame, request } = decodeRequest(send.bytes);
  assert.ok(request.kind === 'certificate', `expected a certificate query, got ${request.kind}`);
  const bytes = encodeResponse(frame, { kind: 'certificate', certificate }, COAP_CODE.GET);
  return { kind: 'answer', bytes, from: send.to };
}
