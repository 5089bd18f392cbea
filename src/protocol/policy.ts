/**
 * The ISP's policy document (docs/protocol.md §6.4): signed by the collector key, cached, and sent
 * with every private answer. It can only narrow what the feed marks quarantine-eligible.
 * @module
 */
import type { PrivateKey } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import { COSE_TYP, decodeSign1, signSign1 } from './cose.ts';
import { encodeAdvisoryId } from './canonical.ts';
import { ProtocolError } from './errors.ts';
import { readAdvisoryId } from './feed-record.ts';
import { asArray, asBool, asMap, asText, asUint, checkKeys, optional } from './fields.ts';
import { MAX_OPERATOR_BYTES, MAX_POLICY_BYTES, WIRE_VERSION } from './limits.ts';
import type { Signed } from './signed.ts';

/** What an ISP quarantines for. Every rule narrows; none can widen the feed's eligibility. */
export interface Policy {
  readonly operator: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Quarantine only for records in CISA KEV. */
  readonly kevOnly: boolean;
  /** Quarantine only at or above this CVSS × 10 (0: any). */
  readonly minCvss10: number;
  /** Never quarantine: answer WARN where the feed would allow FAIL. */
  readonly warnOnly: boolean;
  /** Advisories that must not cause a quarantine (a circuit breaker). */
  readonly deny: readonly string[];
  /** If non-empty, only these advisories may cause a quarantine. */
  readonly allow: readonly string[];
}

const K = { VERSION: 1, OPERATOR: 2, ISSUED: 3, EXPIRES: 4, KEV_ONLY: 5, MIN_CVSS: 6, DENY: 7, WARN_ONLY: 8, ALLOW: 9 } as const;

/** Encodes the policy payload. */
export function encodePolicyPayload(policy: Policy): Uint8Array {
  const m = new Map<CborKey, CborValue>([
    [K.VERSION, WIRE_VERSION],
    [K.OPERATOR, policy.operator],
    [K.ISSUED, policy.issuedAt],
    [K.EXPIRES, policy.expiresAt],
    [K.KEV_ONLY, policy.kevOnly],
    [K.MIN_CVSS, policy.minCvss10],
    [K.WARN_ONLY, policy.warnOnly],
  ]);
  if (policy.deny.length > 0) m.set(K.DENY, policy.deny.map(encodeAdvisoryId));
  if (policy.allow.length > 0) m.set(K.ALLOW, policy.allow.map(encodeAdvisoryId));
  return encodeCbor(m);
}

/** Decodes and validates a policy payload. */
export function decodePolicyPayload(bytes: Uint8Array): Policy {
  const path = 'policy';
  const m = asMap(decodeCbor(bytes), path);
  checkKeys(m, path, { allowed: Object.values(K), required: [K.VERSION, K.OPERATOR, K.ISSUED, K.EXPIRES, K.KEV_ONLY, K.MIN_CVSS, K.WARN_ONLY] });
  if (m.get(K.VERSION) !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `${path}.version: expected ${WIRE_VERSION}`);
  const issuedAt = asUint(m.get(K.ISSUED), `${path}.issued_at`);
  const expiresAt = asUint(m.get(K.EXPIRES), `${path}.expires_at`);
  if (expiresAt <= issuedAt) throw new ProtocolError('BAD_VALUE', `${path}.expires_at: not after issued_at`);
  const ids = (key: number, field: string): string[] =>
    optional(m, key, (v) => asArray(v, `${path}.${field}`, { min: 1, max: 16 }).map((x, i) => readAdvisoryId(x, `${path}.${field}[${i}]`))) ?? [];
  return {
    operator: asText(m.get(K.OPERATOR), `${path}.operator`, MAX_OPERATOR_BYTES),
    issuedAt,
    expiresAt,
    kevOnly: asBool(m.get(K.KEV_ONLY), `${path}.kev_only`),
    minCvss10: asUint(m.get(K.MIN_CVSS), `${path}.min_cvss`, { max: 100 }),
    warnOnly: asBool(m.get(K.WARN_ONLY), `${path}.warn_only`),
    deny: ids(K.DENY, 'deny'),
    allow: ids(K.ALLOW, 'allow'),
  };
}

/** Signs a policy document; `ProtocolError('TOO_LARGE')` beyond 200 bytes (shorten the lists). */
export function signPolicy(key: PrivateKey, policy: Policy): CborTag {
  const tag = signSign1(key, { typ: COSE_TYP.POLICY, payload: encodePolicyPayload(policy) });
  const size = encodeCbor(tag).byteLength;
  if (size > MAX_POLICY_BYTES) throw new ProtocolError('TOO_LARGE', `policy: ${size} bytes signed, at most ${MAX_POLICY_BYTES}`);
  return tag;
}

/** Parses a signed policy document. */
export function readPolicy(value: CborValue): Signed<Policy> {
  const sign1 = decodeSign1(value, { typ: COSE_TYP.POLICY, path: 'policy' });
  if (!(value instanceof CborTag)) throw new ProtocolError('BAD_TYPE', 'policy: expected tag 18');
  return { value: decodePolicyPayload(sign1.payload), sign1, tag: value };
}
