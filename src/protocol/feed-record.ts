/**
 * Feed records (docs/protocol.md §6.2): one offline-signed statement that a product's versions
 * are affected, which advisories say so, and whether a device may be quarantined for it.
 * @module
 */
import type { PrivateKey } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import { COSE_TYP, decodeSign1, signSign1 } from './cose.ts';
import { decodeAdvisoryId, encodeAdvisoryId, isCanonicalName } from './canonical.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asBool, asMap, asText, asUint, checkKeys, optional } from './fields.ts';
import {
  MAX_ADVISORY_ID_BYTES,
  MAX_FEED_RECORD_BYTES,
  MAX_HOST_BYTES,
  MAX_NAME_BYTES,
  MAX_RECORD_ADVISORIES,
  MAX_RECORD_FIXED,
  MAX_RECORD_HW_VERSIONS,
  MAX_REMEDIATION_HOSTS,
  MAX_VERSION_BYTES,
  WIRE_VERSION,
} from './limits.ts';
import type { Signed } from './signed.ts';
import { rangeSetFromCbor, rangeSetToCbor, type RangeSet } from './version-range.ts';

/** A feed record's content. Times are seconds since the Unix epoch. */
export interface FeedRecord {
  readonly vendor: string;
  readonly model: string;
  /** Affected hardware versions; empty: every hardware version. */
  readonly hwVersions: readonly string[];
  readonly ranges: RangeSet;
  readonly advisories: readonly string[];
  /** Highest CVSS base score × 10 (0..100), if known. */
  readonly cvss10: number | null;
  /** Listed in CISA Known Exploited Vulnerabilities. */
  readonly kev: boolean;
  readonly fixed: readonly string[];
  /** The vendor's update hosts, at most 4. */
  readonly remediationHosts: readonly string[];
  /** Set only by the offline publisher for records it is sure of. */
  readonly eligible: boolean;
  readonly feedVersion: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

const K = { VERSION: 1, VENDOR: 2, MODEL: 3, HW: 4, RANGES: 5, ADVISORIES: 6, CVSS: 7, KEV: 8, FIXED: 9, HOSTS: 10, ELIGIBLE: 11, FEED_VERSION: 12, ISSUED: 13, EXPIRES: 14 } as const;

/** Encodes the record payload (the COSE_Sign1 payload). */
export function encodeFeedRecordPayload(record: FeedRecord): Uint8Array {
  const m = new Map<CborKey, CborValue>([
    [K.VERSION, WIRE_VERSION],
    [K.VENDOR, record.vendor],
    [K.MODEL, record.model],
    [K.RANGES, rangeSetToCbor(record.ranges)],
    [K.ADVISORIES, record.advisories.map(encodeAdvisoryId)],
    [K.KEV, record.kev],
    [K.ELIGIBLE, record.eligible],
    [K.FEED_VERSION, record.feedVersion],
    [K.ISSUED, record.issuedAt],
    [K.EXPIRES, record.expiresAt],
  ]);
  if (record.hwVersions.length > 0) m.set(K.HW, [...record.hwVersions]);
  if (record.cvss10 !== null) m.set(K.CVSS, record.cvss10);
  if (record.fixed.length > 0) m.set(K.FIXED, [...record.fixed]);
  if (record.remediationHosts.length > 0) m.set(K.HOSTS, [...record.remediationHosts]);
  return encodeCbor(m);
}

function texts(value: CborValue, path: string, limits: { max: number; bytes: number }): string[] {
  return asArray(value, path, { min: 1, max: limits.max }).map((v, i) => asText(v, `${path}[${i}]`, limits.bytes));
}

/** Reads a wire advisory id (CVE number or text). */
export function readAdvisoryId(value: CborValue | undefined, path: string): string {
  if (typeof value === 'number') return decodeAdvisoryId(asUint(value, path, { min: 10_000_000, max: 0xffffffff }));
  const text = asText(value, path, MAX_ADVISORY_ID_BYTES);
  // [P-4.3-1] one encoding per value: a CVE id with an integer form must be sent as the integer.
  if (encodeAdvisoryId(text) !== text) throw new ProtocolError('NON_CANONICAL', `${path}: CVE id sent as text, expected its integer form`);
  return text;
}

/** Decodes and validates a record payload. */
export function decodeFeedRecordPayload(bytes: Uint8Array): FeedRecord {
  const path = 'record';
  const m = asMap(decodeCbor(bytes), path);
  checkKeys(m, path, {
    allowed: Object.values(K),
    required: [K.VERSION, K.VENDOR, K.MODEL, K.RANGES, K.ADVISORIES, K.KEV, K.ELIGIBLE, K.FEED_VERSION, K.ISSUED, K.EXPIRES],
  });
  if (m.get(K.VERSION) !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `${path}.version: expected ${WIRE_VERSION}`);
  const name = (key: number, field: string): string => {
    const v = asText(m.get(key), `${path}.${field}`, MAX_NAME_BYTES);
    if (!isCanonicalName(v)) throw new ProtocolError('NON_CANONICAL', `${path}.${field}: not a canonical name`);
    return v;
  };
  const issuedAt = asUint(m.get(K.ISSUED), `${path}.issued_at`);
  const expiresAt = asUint(m.get(K.EXPIRES), `${path}.expires_at`);
  if (expiresAt <= issuedAt) throw new ProtocolError('BAD_VALUE', `${path}.expires_at: not after issued_at`);
  return {
    vendor: name(K.VENDOR, 'vendor'),
    model: name(K.MODEL, 'model'),
    hwVersions: optional(m, K.HW, (v) => texts(v, `${path}.hw_versions`, { max: MAX_RECORD_HW_VERSIONS, bytes: MAX_VERSION_BYTES })) ?? [],
    ranges: rangeSetFromCbor(m.get(K.RANGES), `${path}.ranges`),
    advisories: asArray(m.get(K.ADVISORIES), `${path}.advisories`, { min: 1, max: MAX_RECORD_ADVISORIES }).map((v, i) => readAdvisoryId(v, `${path}.advisories[${i}]`)),
    cvss10: optional(m, K.CVSS, (v) => asUint(v, `${path}.cvss`, { max: 100 })) ?? null,
    kev: asBool(m.get(K.KEV), `${path}.kev`),
    fixed: optional(m, K.FIXED, (v) => texts(v, `${path}.fixed`, { max: MAX_RECORD_FIXED, bytes: MAX_VERSION_BYTES })) ?? [],
    remediationHosts: optional(m, K.HOSTS, (v) => texts(v, `${path}.remediation_hosts`, { max: MAX_REMEDIATION_HOSTS, bytes: MAX_HOST_BYTES })) ?? [],
    eligible: asBool(m.get(K.ELIGIBLE), `${path}.eligible`),
    feedVersion: asUint(m.get(K.FEED_VERSION), `${path}.feed_version`),
    issuedAt,
    expiresAt,
  };
}

/**
 * Signs a feed record with a feed key. Throws `ProtocolError('TOO_LARGE')` when the signed record
 * exceeds 1050 bytes: the publisher must split its ranges over several records ([P-6.2-4]).
 * @example const tag = signFeedRecord(feedKey, record); encodeCbor(tag).byteLength <= 1050
 */
export function signFeedRecord(key: PrivateKey, record: FeedRecord): CborTag {
  const tag = signSign1(key, { typ: COSE_TYP.FEED_RECORD, payload: encodeFeedRecordPayload(record) });
  const size = encodeCbor(tag).byteLength;
  if (size > MAX_FEED_RECORD_BYTES) throw new ProtocolError('TOO_LARGE', `feed record: ${size} bytes signed, at most ${MAX_FEED_RECORD_BYTES}`);
  return tag;
}

/** Parses a signed feed record (structure and headers; the signature is checked by the trust rule). */
export function readFeedRecord(value: CborValue): Signed<FeedRecord> {
  const sign1 = decodeSign1(value, { typ: COSE_TYP.FEED_RECORD, path: 'record' });
  if (!(value instanceof CborTag)) throw new ProtocolError('BAD_TYPE', 'record: expected tag 18');
  return { value: decodeFeedRecordPayload(sign1.payload), sign1, tag: value };
}
