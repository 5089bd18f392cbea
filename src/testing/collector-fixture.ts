/**
 * Fixtures for the collector core's tests (tests only): feed bundles built with the real
 * publisher over an in-memory reader, request datagrams, and a device-side acceptance context.
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePrivateKeyPem } from '../crypto/index.ts';
import { encodeBundle, verifyBundle, type VerifiedBundle } from '../feed/bundle.ts';
import { planFeed, signFeedPlan } from '../feed/publish.ts';
import { EMPTY_PUBLISHER_POLICY } from '../feed/publisher-policy.ts';
import type { ProductMatchRow } from '../feed/types.ts';
import {
  bucketPrefix,
  decodeCbor,
  encodeCbor,
  encodeRequest,
  modelHash,
  readKeyCertificate,
  signRoot,
  trustAnchorsOf,
  type AcceptanceContext,
  type IdentifiedAnnouncement,
  type Request,
} from '../protocol/index.ts';
import { addRequest, openNonceBook } from '../protocol/nonce-book.ts';
import { SignatureBudget } from '../protocol/signature-budget.ts';
import { ListFeedReader, testRow } from './memory-feed-reader.ts';
import { TRUST_KEYS } from './trust-keys.ts';
import { COLLECTOR_ADDRESS, DEVICE, DEVICE_ADDRESS, NONCE, NOW, ROOT, T0_MS, TOKEN, collectorCertificate } from './trust-fixture.ts';

export { COLLECTOR_ADDRESS, DEVICE, DEVICE_ADDRESS, NONCE, NOW, ROOT, TOKEN };

/** "Now" of the collector tests in epoch milliseconds (the trust fixture's NOW). */
export const NOW_MS = NOW * 1000;
/** Expiry of the test feeds: a week after NOW. */
export const FEED_EXPIRES = NOW + 7 * 86_400;

/**
 * The test feed: the DIR-859 in KEV (eligible, CVSS 9.8, versions below 2.0), a Hikvision camera
 * not in KEV (not eligible: WARN), and a KEV-listed TP-Link with a low CVSS (eligible, 5.0).
 */
export function testFeedRows(): ProductMatchRow[] {
  return [
    testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'CVE-2019-17621', cvss: 9.8 }, { kev: true }),
    testRow({ vendor: 'hikvision', model: 'ds2cd2032i' }, { id: 'CVE-2021-36260' }),
    testRow({ vendor: 'tplink', model: 'archerc7' }, { id: 'CVE-2020-10882', cvss: 5.0 }, { kev: true }),
  ];
}

/** The signed bundle bytes of `rows` (default {@link testFeedRows}), signed by the root's feed key. */
export function testBundleBytes(options: { feedVersion?: number; rows?: readonly ProductMatchRow[]; issuedAt?: number; expiresAt?: number } = {}): Uint8Array {
  const feedVersion = options.feedVersion ?? 42;
  const issuedAt = options.issuedAt ?? NOW - 3_600;
  const expiresAt = options.expiresAt ?? FEED_EXPIRES;
  const plan = planFeed(new ListFeedReader(options.rows ?? testFeedRows()), { policy: EMPTY_PUBLISHER_POLICY, feedVersion, issuedAt, expiresAt, vendorAliasesOf: () => [] });
  // The feed key that ROOT authorises.
  return encodeBundle(TRUST_KEYS.feed, { feedVersion, issuedAt, expiresAt, ...signFeedPlan(TRUST_KEYS.feed, plan) });
}

/** A verified bundle of `rows` (default {@link testFeedRows}) signed by the root's feed key. */
export function testBundle(options: { feedVersion?: number; rows?: readonly ProductMatchRow[]; issuedAt?: number; expiresAt?: number } = {}): VerifiedBundle {
  const verified = verifyBundle(testBundleBytes(options), ROOT, { nowSeconds: options.issuedAt ?? NOW - 3_600 });
  if (!verified.ok) throw new Error(`test bundle: ${verified.reason}: ${verified.message}`);
  return verified.bundle;
}

/** The collector's certificate bytes (registry-signed, scope 2001:db8:1::/48 and 192.0.2.0/24). */
export function certificateBytes(options: Parameters<typeof collectorCertificate>[0] = {}): Uint8Array {
  return encodeCbor(collectorCertificate(options));
}

/** The device's identified announcement (DIR-859 1.05B03, hardware A1) with overrides. */
export function identifiedRequest(overrides: Partial<Omit<IdentifiedAnnouncement, 'kind'>> = {}): IdentifiedAnnouncement {
  return {
    kind: 'identified',
    nonce: NONCE,
    vendor: DEVICE.vendor,
    model: DEVICE.model,
    swName: 'firmware',
    swVersion: { version: DEVICE.swVersion },
    hwVersion: { version: DEVICE.hwVersion },
    quarantined: false,
    ...overrides,
  };
}

/** The device's private announcement (its own bucket prefix), page `page`. */
export function privateRequest(page = 0): Request {
  return { kind: 'private', nonce: NONCE, prefix: bucketPrefix(modelHash(DEVICE.vendor, DEVICE.model)), page };
}

/** A 1232-byte request datagram with the scenario token. */
export function requestBytes(request: Request, messageId = 7): Uint8Array {
  return encodeRequest(request, { messageId, token: TOKEN });
}

/** The acceptance context of the device that sent the scenario request through the collector. */
export function deviceContext(options: {
  mode: 'identified' | 'private';
  quarantined?: boolean;
  certificate?: Uint8Array;
  swVersion?: string;
  /** Where the request went and the answer comes from; default {@link COLLECTOR_ADDRESS}. */
  collector?: Uint8Array;
  /** The source address of the answer; default `collector`. */
  from?: Uint8Array;
  /** The device's scope address; default the fixture device's. */
  scopeAddress?: Uint8Array;
  /** Wall-clock "now" in epoch seconds; default the fixtures' NOW. */
  nowSeconds?: number;
}): AcceptanceContext {
  const collector = options.collector ?? COLLECTOR_ADDRESS;
  const now = options.nowSeconds ?? NOW;
  const book = addRequest(openNonceBook(T0_MS), { attempt: 0, destination: collector, token: TOKEN, nonce: NONCE, mode: options.mode, quarantined: options.quarantined ?? false });
  return {
    from: options.from ?? collector,
    nowMs: T0_MS + 200,
    time: { floorSeconds: now - 86_400, wallSeconds: now },
    book,
    anchors: trustAnchorsOf(ROOT),
    certificates: [readKeyCertificate(decodeCbor(options.certificate ?? certificateBytes()))],
    device: { ...DEVICE, ...(options.swVersion === undefined ? {} : { swVersion: options.swVersion }), ...(options.scopeAddress === undefined ? {} : { scopeAddress: options.scopeAddress }) },
    budget: new SignatureBudget(),
  };
}

/** The files {@link writeCollectorDir} writes: config, key, certificate, root and feed. */
export const COLLECTOR_DIR_FILES = ['collector.yaml', 'collector.key', 'collector.cert.cbor', 'root.cbor', 'bundle.cbor'] as const;

/** The certificate scope of a live collector's files: the fixture's prefixes and loopback. */
export const LIVE_SCOPE = ['2001:db8:1::/48', '192.0.2.0/24', '127.0.0.0/8', '::1/128'] as const;

/** Options of {@link writeCollectorDir}. */
export interface CollectorDirOptions {
  /**
   * Wall-clock "now" (epoch seconds) the certificate and feed are valid around; default the
   * fixtures' NOW. A collector started as a separate process runs on the real clock: pass
   * `Math.floor(Date.now() / 1000)`.
   */
  readonly nowSeconds?: number;
}

/**
 * Writes a live collector's files into `dir` (listening on 127.0.0.1, port 0, the test feed, a
 * certificate whose scope covers loopback ({@link LIVE_SCOPE}), a rate limit wide enough for a
 * flood from one prefix) and returns the config path. `extraYaml` lines are appended to the
 * config (e.g. a `privacy:` section).
 */
export async function writeCollectorDir(dir: string, extraYaml: readonly string[] = [], options: CollectorDirOptions = {}): Promise<string> {
  const now = options.nowSeconds ?? NOW;
  const [r0, r1] = TRUST_KEYS.root;
  if (r0 === undefined || r1 === undefined) throw new Error('trust keys: two root keys expected');
  await writeFile(join(dir, 'collector.key'), encodePrivateKeyPem(TRUST_KEYS.collector), { mode: 0o600 });
  await writeFile(join(dir, 'collector.cert.cbor'), certificateBytes({ scope: [...LIVE_SCOPE], notBefore: now - 86_400, notAfter: now + 6 * 86_400 }));
  await writeFile(join(dir, 'root.cbor'), encodeCbor(signRoot([r0, r1], { ...ROOT, issuedAt: Math.min(ROOT.issuedAt, now - 365 * 86_400) })));
  await writeFile(join(dir, 'bundle.cbor'), testBundleBytes({ issuedAt: now - 3_600, expiresAt: now + 7 * 86_400 }));
  const config = join(dir, 'collector.yaml');
  await writeFile(
    config,
    [
      'listen: [{address: 127.0.0.1, port: 0}]',
      'feed: {file: bundle.cbor, root: root.cbor}',
      'key: collector.key',
      'certificate: collector.cert.cbor',
      'operator: Example ISP',
      'rateLimit: {ratePerSecond: 1000000, burst: 1000000}',
      ...extraYaml,
      '',
    ].join('\n'),
  );
  return config;
}
