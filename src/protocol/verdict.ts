/**
 * Verdicts (docs/protocol.md §6.1): the collector's answer to an identified announcement, bound
 * to the device's nonce and to both addresses of the exchange, with a relative lifetime.
 * @module
 */
import type { PrivateKey } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import { COSE_TYP, decodeSign1, signSign1 } from './cose.ts';
import { ProtocolError } from './errors.ts';
import { readFeedRecord, type FeedRecord } from './feed-record.ts';
import { asBytes, asMap, asUint, checkKeys, optional } from './fields.ts';
import { NONCE_BYTES, WIRE_VERSION } from './limits.ts';
import type { Signed } from './signed.ts';

/** Verdict statuses on the wire ([P-6.1-2]). */
export const STATUS = { pass: 0, fail: 1, warn: 2, unknown: 3 } as const;
/** A verdict status. */
export type Status = keyof typeof STATUS;
const STATUS_NAMES: readonly Status[] = ['pass', 'fail', 'warn', 'unknown'];

/** The longest verdict lifetime: 45 days (devices re-announce at least every 30 days ± jitter). */
export const MAX_VERDICT_LIFETIME_SECONDS = 45 * 24 * 3600;

/** A verdict's content. */
export interface Verdict {
  readonly nonce: Uint8Array;
  readonly status: Status;
  /** The address the request was sent to (4 or 16 bytes). */
  readonly destination: Uint8Array;
  /** The address the request came from (4 or 16 bytes). */
  readonly source: Uint8Array;
  /** Seconds from receipt, measured on the device's monotonic clock. */
  readonly lifetimeSeconds: number;
  readonly feedVersion: number;
  /** The feed record justifying a FAIL (required) or a WARN (optional). */
  readonly record?: Signed<FeedRecord>;
}

const K = { VERSION: 1, NONCE: 2, STATUS: 3, DESTINATION: 4, SOURCE: 5, LIFETIME: 6, FEED_VERSION: 7, RECORD: 8 } as const;

/** Encodes a verdict map: the COSE_Sign1 payload, or the body of an unsigned answer. */
export function encodeVerdictPayload(verdict: Verdict): Uint8Array {
  const m = new Map<CborKey, CborValue>([
    [K.VERSION, WIRE_VERSION],
    [K.NONCE, verdict.nonce],
    [K.STATUS, STATUS[verdict.status]],
    [K.DESTINATION, verdict.destination],
    [K.SOURCE, verdict.source],
    [K.LIFETIME, verdict.lifetimeSeconds],
    [K.FEED_VERSION, verdict.feedVersion],
  ]);
  if (verdict.record !== undefined) m.set(K.RECORD, verdict.record.tag);
  return encodeCbor(m);
}

function address(value: CborValue | undefined, path: string): Uint8Array {
  const bytes = asBytes(value, path, { min: 4, max: 16 });
  if (bytes.byteLength !== 4 && bytes.byteLength !== 16) throw new ProtocolError('BAD_VALUE', `${path}: expected 4 or 16 bytes, got ${bytes.byteLength}`);
  return bytes;
}

/** Decodes and validates a verdict map (from a signed payload or an unsigned answer). */
export function decodeVerdictMap(value: CborValue): Verdict {
  const path = 'verdict';
  const m = asMap(value, path);
  checkKeys(m, path, { allowed: Object.values(K), required: [K.VERSION, K.NONCE, K.STATUS, K.DESTINATION, K.SOURCE, K.LIFETIME, K.FEED_VERSION] });
  if (m.get(K.VERSION) !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `${path}.version: expected ${WIRE_VERSION}`);
  const status = STATUS_NAMES[asUint(m.get(K.STATUS), `${path}.status`, { max: 3 })] ?? 'unknown';
  const record = optional(m, K.RECORD, (v) => readFeedRecord(v));
  // [P-6.1-3] a FAIL carries its record; PASS and UNKNOWN carry none.
  if (status === 'fail' && record === undefined) throw new ProtocolError('MISSING_FIELD', `${path}.record: a FAIL must carry its feed record`);
  if ((status === 'pass' || status === 'unknown') && record !== undefined) throw new ProtocolError('BAD_VALUE', `${path}.record: only FAIL and WARN carry a record`);
  return {
    nonce: asBytes(m.get(K.NONCE), `${path}.nonce`, { min: NONCE_BYTES, max: NONCE_BYTES }),
    status,
    destination: address(m.get(K.DESTINATION), `${path}.destination`),
    source: address(m.get(K.SOURCE), `${path}.source`),
    lifetimeSeconds: asUint(m.get(K.LIFETIME), `${path}.lifetime`, { max: MAX_VERDICT_LIFETIME_SECONDS }),
    feedVersion: asUint(m.get(K.FEED_VERSION), `${path}.feed_version`),
    ...(record === undefined ? {} : { record }),
  };
}

/**
 * Signs a verdict with the collector key.
 * @example encodeCbor(signVerdict(collectorKey, verdict))
 */
export function signVerdict(key: PrivateKey, verdict: Verdict): CborTag {
  return signSign1(key, { typ: COSE_TYP.VERDICT, payload: encodeVerdictPayload(verdict) });
}

/** Parses a signed verdict (structure and headers; signatures are the trust rule's job). */
export function readVerdict(value: CborValue): Signed<Verdict> {
  const sign1 = decodeSign1(value, { typ: COSE_TYP.VERDICT, path: 'verdict' });
  if (!(value instanceof CborTag)) throw new ProtocolError('BAD_TYPE', 'verdict: expected tag 18');
  return { value: decodeVerdictMap(decodeCbor(sign1.payload)), sign1, tag: value };
}
