/**
 * The feed bundle file (docs/feed.md §5): one signed, versioned, expiring file holding every
 * signed feed record and bucket page of a feed version, so a collector verifies it once and then
 * serves pages as cached bytes and looks records up by (vendor, model).
 * @module
 */
import { equalBytes, sha256, verify, type PrivateKey, type PublicKey } from '../crypto/index.ts';
import {
  BUCKET_COUNT,
  COSE_TYP,
  decodeSign1,
  signSign1,
  MAX_BUCKET_PAGES,
  ProtocolError,
  asArray,
  asBytes,
  asMap,
  asUint,
  checkKeys,
  decodeCbor,
  encodeCbor,
  isProtocolError,
  keyByKid,
  prefixOfBucket,
  readBucket,
  readFeedRecord,
  sign1ToBeSigned,
  trustAnchorsOf,
  verifySign1,
  type Bucket,
  type CborKey,
  type CborValue,
  type FeedRecord,
  type Root,
  type Signed,
} from '../protocol/index.ts';

/**
 * `typ` of the bundle manifest's COSE_Sign1: the next CoAP Content-Format number of the
 * experimental range after the protocol's 65101–65106 (docs/protocol.md §2.5). To be moved into
 * COSE_TYP (src/protocol/cose.ts) by the protocol owner.
 */
export const COSE_TYP_FEED_BUNDLE = COSE_TYP.FEED_BUNDLE;
/** The bundle format version this code writes and reads. */
export const BUNDLE_FORMAT_VERSION = 1;
/** Most records in one bundle: 2^21, ~10× the NVD-scale set with aliases; bounds decoding. */
export const MAX_BUNDLE_RECORDS = 1 << 21;
/** Most pages in one bundle: every bucket at its 16-page maximum. */
export const MAX_BUNDLE_PAGES = BUCKET_COUNT * MAX_BUCKET_PAGES;
/** Default tolerance for a publisher clock ahead of the verifier's: 5 minutes. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 300;

/** The signed summary of a bundle. Times are seconds since the Unix epoch. */
export interface BundleManifest {
  readonly feedVersion: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly recordCount: number;
  readonly pageCount: number;
  /** SHA-256 of the records section (the content of the second array element, as received). */
  readonly recordsDigest: Uint8Array;
  /** SHA-256 of the pages section. */
  readonly pagesDigest: Uint8Array;
  /** Key id of the feed key that signed the manifest. */
  readonly kid: Uint8Array;
}

/** Every reason {@link verifyBundle} refuses a bundle, cheapest check first. */
export const BUNDLE_REFUSAL_CODES = [
  'MALFORMED',
  'BAD_VERSION',
  'KEY_NOT_AUTHORISED',
  'BAD_SIGNATURE',
  'EXPIRED',
  'NOT_YET_VALID',
  'RECORDS_DIGEST_MISMATCH',
  'PAGES_DIGEST_MISMATCH',
  'COUNT_MISMATCH',
  'RECORD_MALFORMED',
  'RECORD_KEY_NOT_AUTHORISED',
  'RECORD_BAD_SIGNATURE',
  'RECORD_MISMATCH',
  'PAGE_MALFORMED',
  'PAGE_KEY_NOT_AUTHORISED',
  'PAGE_BAD_SIGNATURE',
  'PAGE_MISMATCH',
  'BUCKETS_INCOMPLETE',
] as const;
/** A code from {@link BUNDLE_REFUSAL_CODES}. */
export type BundleRefusalCode = (typeof BUNDLE_REFUSAL_CODES)[number];

/** One record of a verified bundle: its content and its signed bytes, served unchanged. */
export interface BundleRecord {
  readonly record: FeedRecord;
  readonly bytes: Uint8Array;
}

/** A bundle whose every signature and digest verified. */
export interface VerifiedBundle {
  readonly manifest: BundleManifest;
  readonly records: readonly BundleRecord[];
  /** Signed page bytes of each bucket 0..4095, in page order. */
  readonly pages: readonly (readonly Uint8Array[])[];
  /** Records naming exactly this canonical vendor and model (every alias has its own records). */
  recordsFor(vendor: string, model: string): readonly BundleRecord[];
}

/** The outcome of {@link verifyBundle}. */
export type BundleVerification =
  | { readonly ok: true; readonly bundle: VerifiedBundle }
  | { readonly ok: false; readonly reason: BundleRefusalCode; readonly message: string };

/** A bundle that cannot be built as asked. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  readonly code: 'VERSION_NOT_INCREASING' | 'BAD_OPTIONS';
  constructor(code: 'VERSION_NOT_INCREASING' | 'BAD_OPTIONS', message: string) {
    super(message);
    this.code = code;
  }
}

const K = { FORMAT: 1, FEED_VERSION: 2, ISSUED: 3, EXPIRES: 4, RECORDS: 5, PAGES: 6, RECORDS_DIGEST: 7, PAGES_DIGEST: 8 } as const;
const DIGEST_BYTES = 32;

function encodeSection(documents: readonly Uint8Array[]): Uint8Array {
  return encodeCbor([...documents]);
}

/** What goes into a bundle: the signed documents of one feed version. */
export interface BundleContent {
  readonly feedVersion: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Signed feed records (tagged COSE_Sign1 bytes). */
  readonly records: readonly Uint8Array[];
  /** Signed bucket pages: bucket 0's pages in order, then bucket 1's, … 4095's. */
  readonly pages: readonly Uint8Array[];
}

/**
 * Builds a bundle file: `[manifest COSE_Sign1, records section, pages section]`. Refuses
 * (`BundleError('VERSION_NOT_INCREASING')`) a feed version not above `previous`'s.
 * @example const bytes = encodeBundle(feedKey, { feedVersion, issuedAt, expiresAt, ...signFeedPlan(feedKey, plan) }, { previous })
 */
export function encodeBundle(key: PrivateKey, content: BundleContent, options: { previous?: BundleManifest } = {}): Uint8Array {
  const previous = options.previous;
  if (previous !== undefined && content.feedVersion <= previous.feedVersion) {
    throw new BundleError('VERSION_NOT_INCREASING', `feed version ${content.feedVersion}: not above the previous bundle's ${previous.feedVersion}; versions strictly increase`);
  }
  if (!Number.isSafeInteger(content.feedVersion) || content.feedVersion < 0) throw new BundleError('BAD_OPTIONS', `feed version ${content.feedVersion}: expected an unsigned integer`);
  if (!(content.expiresAt > content.issuedAt)) throw new BundleError('BAD_OPTIONS', `expires at ${content.expiresAt}: must be after issued at ${content.issuedAt}`);
  const records = encodeSection(content.records);
  const pages = encodeSection(content.pages);
  const payload = encodeCbor(
    new Map<CborKey, CborValue>([
      [K.FORMAT, BUNDLE_FORMAT_VERSION],
      [K.FEED_VERSION, content.feedVersion],
      [K.ISSUED, content.issuedAt],
      [K.EXPIRES, content.expiresAt],
      [K.RECORDS, content.records.length],
      [K.PAGES, content.pages.length],
      [K.RECORDS_DIGEST, sha256(records)],
      [K.PAGES_DIGEST, sha256(pages)],
    ]),
  );
  return encodeCbor([signSign1(key, { typ: COSE_TYP.FEED_BUNDLE, payload }), records, pages]);
}

interface ParsedBundle {
  readonly manifest: BundleManifest;
  readonly protectedBytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly records: Uint8Array;
  readonly pages: Uint8Array;
}

function parseBundle(bytes: Uint8Array): ParsedBundle {
  const parts = asArray(decodeCbor(bytes, { maxDepth: 8, maxItems: 8, viewByteStrings: true }), 'bundle', { min: 3, max: 3 });
  const first = parts[0];
  if (first === undefined) throw new ProtocolError('MISSING_FIELD', 'bundle.manifest: missing');
  const { protectedBytes, kid, payload, signature } = decodeSign1(first, { typ: COSE_TYP.FEED_BUNDLE, path: 'bundle.manifest' });
  const m = asMap(decodeCbor(payload), 'manifest');
  checkKeys(m, 'manifest', { allowed: Object.values(K), required: Object.values(K) });
  if (m.get(K.FORMAT) !== BUNDLE_FORMAT_VERSION) throw new ProtocolError('BAD_VERSION', `manifest.format: expected ${BUNDLE_FORMAT_VERSION}, got ${JSON.stringify(m.get(K.FORMAT) ?? null)}`);
  const issuedAt = asUint(m.get(K.ISSUED), 'manifest.issued_at');
  const expiresAt = asUint(m.get(K.EXPIRES), 'manifest.expires_at');
  if (expiresAt <= issuedAt) throw new ProtocolError('BAD_VALUE', 'manifest.expires_at: not after issued_at');
  const digest = (key: number, name: string): Uint8Array => asBytes(m.get(key), `manifest.${name}`, { min: DIGEST_BYTES, max: DIGEST_BYTES });
  return {
    manifest: {
      feedVersion: asUint(m.get(K.FEED_VERSION), 'manifest.feed_version'),
      issuedAt,
      expiresAt,
      recordCount: asUint(m.get(K.RECORDS), 'manifest.records', { max: MAX_BUNDLE_RECORDS }),
      pageCount: asUint(m.get(K.PAGES), 'manifest.pages', { max: MAX_BUNDLE_PAGES }),
      recordsDigest: digest(K.RECORDS_DIGEST, 'records_digest'),
      pagesDigest: digest(K.PAGES_DIGEST, 'pages_digest'),
      kid,
    },
    protectedBytes,
    payload,
    signature,
    records: asBytes(parts[1], 'bundle.records'),
    pages: asBytes(parts[2], 'bundle.pages'),
  };
}

/**
 * The manifest of a bundle without verifying anything (for `--previous`: the builder only needs
 * its feed version). Throws `ProtocolError` on a malformed file.
 */
export function readBundleManifest(bytes: Uint8Array): BundleManifest {
  return parseBundle(bytes).manifest;
}

type Refusal = Extract<BundleVerification, { ok: false }>;

function refuse(reason: BundleRefusalCode, message: string): Refusal {
  return { ok: false, reason, message };
}

function section(bytes: Uint8Array, max: number, path: string): readonly Uint8Array[] {
  return asArray(decodeCbor(bytes, { maxDepth: 2, maxItems: max, viewByteStrings: true }), path, { max }).map((v, i) => asBytes(v, `${path}[${i}]`));
}

function sameVersion(doc: { feedVersion: number; issuedAt: number; expiresAt: number }, manifest: BundleManifest): string | undefined {
  if (doc.feedVersion !== manifest.feedVersion) return `feed version ${doc.feedVersion}, manifest ${manifest.feedVersion}`;
  if (doc.issuedAt !== manifest.issuedAt || doc.expiresAt !== manifest.expiresAt) return `validity ${doc.issuedAt}..${doc.expiresAt}, manifest ${manifest.issuedAt}..${manifest.expiresAt}`;
  return undefined;
}

function verifyDocument<T>(
  bytes: Uint8Array,
  read: (value: CborValue) => Signed<T>,
  feedKeys: readonly PublicKey[],
): { value: T } | { problem: 'MALFORMED' | 'KEY' | 'SIGNATURE'; message: string } {
  let doc: Signed<T>;
  try {
    doc = read(decodeCbor(bytes));
  } catch (err) {
    if (isProtocolError(err)) return { problem: 'MALFORMED', message: `${err.code}: ${err.message}` };
    throw err;
  }
  const key = keyByKid(feedKeys, doc.sign1.kid);
  if (key === undefined) return { problem: 'KEY', message: 'signed by a key that is not a feed key of the root' };
  if (!verifySign1(doc.sign1, key)) return { problem: 'SIGNATURE', message: 'signature does not verify under its feed key' };
  return { value: doc.value };
}

/**
 * Verifies a bundle against a trusted root (docs/feed.md §5.2), cheapest checks first: structure,
 * the manifest's signature by a feed key the root authorises, validity at `nowSeconds`, the two
 * section digests and counts, then every record's and every page's own signature and feed
 * version, and that every bucket 0..4095 has its pages in order.
 * @example const v = verifyBundle(bytes, root, { nowSeconds }); if (!v.ok) log(v.reason, v.message)
 */
export function verifyBundle(bytes: Uint8Array, root: Root, options: { nowSeconds: number; clockSkewSeconds?: number }): BundleVerification {
  let parsed: ParsedBundle;
  try {
    parsed = parseBundle(bytes);
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    return refuse(err.code === 'BAD_VERSION' ? 'BAD_VERSION' : 'MALFORMED', `${err.code}: ${err.message}`);
  }
  const { manifest } = parsed;
  const anchors = trustAnchorsOf(root);
  const key = keyByKid(anchors.feedKeys, manifest.kid);
  if (key === undefined) return refuse('KEY_NOT_AUTHORISED', `manifest: signed by a key that is not a feed key of root v${root.version}`);
  if (!verify(key, sign1ToBeSigned(parsed.protectedBytes, parsed.payload), parsed.signature)) return refuse('BAD_SIGNATURE', 'manifest: signature does not verify under its feed key');
  if (options.nowSeconds >= manifest.expiresAt) return refuse('EXPIRED', `bundle v${manifest.feedVersion}: expired at ${manifest.expiresAt}, now ${options.nowSeconds}`);
  if (manifest.issuedAt > options.nowSeconds + (options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS)) {
    return refuse('NOT_YET_VALID', `bundle v${manifest.feedVersion}: issued at ${manifest.issuedAt}, ahead of now ${options.nowSeconds}`);
  }
  if (!equalBytes(sha256(parsed.records), manifest.recordsDigest)) return refuse('RECORDS_DIGEST_MISMATCH', 'records section: SHA-256 differs from the manifest');
  if (!equalBytes(sha256(parsed.pages), manifest.pagesDigest)) return refuse('PAGES_DIGEST_MISMATCH', 'pages section: SHA-256 differs from the manifest');
  let recordBytes: readonly Uint8Array[];
  let pageBytes: readonly Uint8Array[];
  try {
    recordBytes = section(parsed.records, MAX_BUNDLE_RECORDS, 'bundle.records');
    pageBytes = section(parsed.pages, MAX_BUNDLE_PAGES, 'bundle.pages');
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    return refuse('MALFORMED', `${err.code}: ${err.message}`);
  }
  if (recordBytes.length !== manifest.recordCount || pageBytes.length !== manifest.pageCount) {
    return refuse('COUNT_MISMATCH', `${recordBytes.length} records and ${pageBytes.length} pages, manifest says ${manifest.recordCount} and ${manifest.pageCount}`);
  }

  const records: BundleRecord[] = [];
  const index = new Map<string, BundleRecord[]>();
  for (const [i, b] of recordBytes.entries()) {
    const checked = verifyDocument(b, readFeedRecord, anchors.feedKeys);
    if ('problem' in checked) {
      const reason = checked.problem === 'MALFORMED' ? 'RECORD_MALFORMED' : checked.problem === 'KEY' ? 'RECORD_KEY_NOT_AUTHORISED' : 'RECORD_BAD_SIGNATURE';
      return refuse(reason, `record ${i}: ${checked.message}`);
    }
    const mismatch = sameVersion(checked.value, manifest);
    if (mismatch !== undefined) return refuse('RECORD_MISMATCH', `record ${i}: ${mismatch}`);
    const entry = { record: checked.value, bytes: b };
    records.push(entry);
    const k = `${checked.value.vendor}\0${checked.value.model}`;
    const list = index.get(k) ?? [];
    list.push(entry);
    index.set(k, list);
  }

  const pages: Uint8Array[][] = [];
  let bucket = 0;
  let current: Uint8Array[] = [];
  for (const [i, b] of pageBytes.entries()) {
    const checked = verifyDocument<Bucket>(b, readBucket, anchors.feedKeys);
    if ('problem' in checked) {
      const reason = checked.problem === 'MALFORMED' ? 'PAGE_MALFORMED' : checked.problem === 'KEY' ? 'PAGE_KEY_NOT_AUTHORISED' : 'PAGE_BAD_SIGNATURE';
      return refuse(reason, `page ${i}: ${checked.message}`);
    }
    const page = checked.value;
    const mismatch = sameVersion(page, manifest);
    if (mismatch !== undefined) return refuse('PAGE_MISMATCH', `page ${i}: ${mismatch}`);
    if (bucket >= BUCKET_COUNT || !equalBytes(page.prefix, prefixOfBucket(bucket)) || page.page !== current.length) {
      return refuse('BUCKETS_INCOMPLETE', `page ${i}: expected page ${current.length} of bucket ${bucket}, got page ${page.page} of prefix ${Array.from(page.prefix, (x) => x.toString(16).padStart(2, '0')).join('')}`);
    }
    current.push(b);
    if (page.page === page.pages - 1) {
      pages.push(current);
      current = [];
      bucket++;
    }
  }
  if (bucket !== BUCKET_COUNT || current.length > 0) return refuse('BUCKETS_INCOMPLETE', `pages cover ${bucket} complete buckets, expected ${BUCKET_COUNT}`);
  return {
    ok: true,
    bundle: { manifest, records, pages, recordsFor: (vendor, model) => index.get(`${vendor}\0${model}`) ?? [] },
  };
}
