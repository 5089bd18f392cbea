/**
 * Bucket documents (docs/protocol.md §6.3): for the private form, the offline-signed list of every
 * feed model whose hash shares one 12-bit prefix, compact enough for ≥ 15 models per page.
 * @module
 */
import type { PrivateKey } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import { COSE_TYP, decodeSign1, signSign1 } from './cose.ts';
import { encodeAdvisoryId } from './canonical.ts';
import { ProtocolError } from './errors.ts';
import { readAdvisoryId } from './feed-record.ts';
import { asArray, asBytes, asMap, asText, asUint, checkKeys } from './fields.ts';
import {
  BUCKET_TAG_BYTES,
  MAX_BUCKET_BYTES,
  MAX_BUCKET_ENTRY_BYTES,
  MAX_BUCKET_PAGES,
  MAX_ENTRY_ADVISORIES,
  MAX_RECORD_FIXED,
  MAX_RECORD_HW_VERSIONS,
  MAX_VERSION_BYTES,
  WIRE_VERSION,
} from './limits.ts';
import type { Signed } from './signed.ts';
import { rangeSetFromCbor, rangeSetToCbor, type RangeSet } from './version-range.ts';

/** One model's affected versions inside a bucket. A model may have several entries (union). */
export interface BucketEntry {
  /** First 6 bytes of the model hash. */
  readonly tag: Uint8Array;
  readonly eligible: boolean;
  readonly kev: boolean;
  readonly cvss10: number | null;
  /** Affected hardware versions; empty: all. */
  readonly hwVersions: readonly string[];
  readonly ranges: RangeSet;
  readonly fixed: readonly string[];
  readonly advisories: readonly string[];
}

/** One page of one bucket. */
export interface Bucket {
  readonly feedVersion: number;
  readonly prefix: Uint8Array;
  readonly page: number;
  readonly pages: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly entries: readonly BucketEntry[];
}

const K = { VERSION: 1, FEED_VERSION: 2, PREFIX: 3, PAGE: 4, PAGES: 5, ISSUED: 6, EXPIRES: 7, ENTRIES: 8 } as const;
const FLAG = { ELIGIBLE: 1, KEV: 2 } as const;

/** The CBOR array of one entry: [tag, flags, cvss / null, hw, ranges, fixed, advisories]. */
export function bucketEntryToCbor(entry: BucketEntry): CborValue {
  return [
    entry.tag,
    (entry.eligible ? FLAG.ELIGIBLE : 0) | (entry.kev ? FLAG.KEV : 0),
    entry.cvss10,
    [...entry.hwVersions],
    rangeSetToCbor(entry.ranges),
    [...entry.fixed],
    entry.advisories.map(encodeAdvisoryId),
  ];
}

/** Encoded size of one entry, for the publisher's page packing (at most 56 bytes). */
export function bucketEntryBytes(entry: BucketEntry): number {
  return encodeCbor(bucketEntryToCbor(entry)).byteLength;
}

function entryFromCbor(value: CborValue | undefined, path: string): BucketEntry {
  const f = asArray(value, path, { min: 7, max: 7 });
  const flags = asUint(f[1], `${path}.flags`, { max: 3 });
  const versions = (v: CborValue | undefined, p: string, max: number): string[] =>
    asArray(v, p, { max }).map((x, i) => asText(x, `${p}[${i}]`, MAX_VERSION_BYTES));
  return {
    tag: asBytes(f[0], `${path}.tag`, { min: BUCKET_TAG_BYTES, max: BUCKET_TAG_BYTES }),
    eligible: (flags & FLAG.ELIGIBLE) !== 0,
    kev: (flags & FLAG.KEV) !== 0,
    cvss10: f[2] === null ? null : asUint(f[2], `${path}.cvss`, { max: 100 }),
    hwVersions: versions(f[3], `${path}.hw_versions`, MAX_RECORD_HW_VERSIONS),
    ranges: rangeSetFromCbor(f[4], `${path}.ranges`),
    fixed: versions(f[5], `${path}.fixed`, MAX_RECORD_FIXED),
    advisories: asArray(f[6], `${path}.advisories`, { min: 1, max: MAX_ENTRY_ADVISORIES }).map((x, i) => readAdvisoryId(x, `${path}.advisories[${i}]`)),
  };
}

/** Encodes a bucket page payload. */
export function encodeBucketPayload(bucket: Bucket): Uint8Array {
  return encodeCbor(
    new Map<CborKey, CborValue>([
      [K.VERSION, WIRE_VERSION],
      [K.FEED_VERSION, bucket.feedVersion],
      [K.PREFIX, bucket.prefix],
      [K.PAGE, bucket.page],
      [K.PAGES, bucket.pages],
      [K.ISSUED, bucket.issuedAt],
      [K.EXPIRES, bucket.expiresAt],
      [K.ENTRIES, bucket.entries.map(bucketEntryToCbor)],
    ]),
  );
}

/** Decodes and validates a bucket page payload. */
export function decodeBucketPayload(bytes: Uint8Array): Bucket {
  const path = 'bucket';
  const m = asMap(decodeCbor(bytes), path);
  checkKeys(m, path, { allowed: Object.values(K), required: Object.values(K) });
  if (m.get(K.VERSION) !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `${path}.version: expected ${WIRE_VERSION}`);
  const prefix = asBytes(m.get(K.PREFIX), `${path}.prefix`, { min: 2, max: 2 });
  if (((prefix[1] ?? 0) & 0x0f) !== 0) throw new ProtocolError('BAD_VALUE', `${path}.prefix: the low 4 bits must be zero`);
  const pages = asUint(m.get(K.PAGES), `${path}.pages`, { min: 1, max: MAX_BUCKET_PAGES });
  const page = asUint(m.get(K.PAGE), `${path}.page`, { max: pages - 1 });
  const issuedAt = asUint(m.get(K.ISSUED), `${path}.issued_at`);
  const expiresAt = asUint(m.get(K.EXPIRES), `${path}.expires_at`);
  if (expiresAt <= issuedAt) throw new ProtocolError('BAD_VALUE', `${path}.expires_at: not after issued_at`);
  return {
    feedVersion: asUint(m.get(K.FEED_VERSION), `${path}.feed_version`),
    prefix,
    page,
    pages,
    issuedAt,
    expiresAt,
    entries: asArray(m.get(K.ENTRIES), `${path}.entries`).map((e, i) => entryFromCbor(e, `${path}.entries[${i}]`)),
  };
}

/**
 * Signs one bucket page with a feed key. Throws `ProtocolError('TOO_LARGE')` when an entry exceeds
 * 56 bytes or the page exceeds 997 bytes: the publisher splits entries and pages.
 */
export function signBucket(key: PrivateKey, bucket: Bucket): CborTag {
  for (const entry of bucket.entries) {
    const n = bucketEntryBytes(entry);
    if (n > MAX_BUCKET_ENTRY_BYTES) throw new ProtocolError('TOO_LARGE', `bucket entry: ${n} bytes, at most ${MAX_BUCKET_ENTRY_BYTES}`);
  }
  const tag = signSign1(key, { typ: COSE_TYP.BUCKET, payload: encodeBucketPayload(bucket) });
  const size = encodeCbor(tag).byteLength;
  if (size > MAX_BUCKET_BYTES) throw new ProtocolError('TOO_LARGE', `bucket page: ${size} bytes signed, at most ${MAX_BUCKET_BYTES}`);
  return tag;
}

/** Parses a signed bucket page. */
export function readBucket(value: CborValue): Signed<Bucket> {
  const sign1 = decodeSign1(value, { typ: COSE_TYP.BUCKET, path: 'bucket' });
  if (!(value instanceof CborTag)) throw new ProtocolError('BAD_TYPE', 'bucket: expected tag 18');
  return { value: decodeBucketPayload(sign1.payload), sign1, tag: value };
}
