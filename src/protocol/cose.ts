/**
 * COSE_Sign1 and COSE_Sign (RFC 9052 §4) with EdDSA over Ed25519, an empty external_aad, and the
 * message type in the protected `typ` header (RFC 9596). Signatures are computed and checked over
 * the exact protected-header and payload bytes received: nothing is re-encoded before verifying.
 * @module
 */
import { sign, verify, type PrivateKey, type PublicKey, KID_BYTES, SIGNATURE_BYTES } from '../crypto/index.ts';
import { CBOR_TAG, CborTag, decodeCbor, encodeCbor, type CborKey, type CborMap, type CborValue } from './cbor.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asBytes, asMap, asTag, checkKeys } from './fields.ts';

/** COSE header labels (RFC 9052 §3.1; typ: RFC 9596 §2). */
export const COSE_HEADER = { ALG: 1, KID: 4, TYP: 16 } as const;
/** EdDSA (RFC 9053 §2.2); RFC 9864 later added the fully specified Ed25519 (−19). */
export const COSE_ALG_EDDSA = -8;

/**
 * Values of the `typ` header: CoAP Content-Format numbers from the experimental range
 * 65000–65535 (RFC 7252 §12.3), one per signed Tattler document. 3 bytes each on the wire.
 */
export const COSE_TYP = {
  VERDICT: 65101,
  FEED_RECORD: 65102,
  BUCKET: 65103,
  POLICY: 65104,
  KEY_CERTIFICATE: 65105,
  ROOT: 65106,
  /** The manifest of a signed feed bundle (docs/feed.md); never sent to devices. */
  FEED_BUNDLE: 65107,
} as const;
/** A `typ` value of a Tattler document. */
export type CoseTyp = (typeof COSE_TYP)[keyof typeof COSE_TYP];

const EMPTY = new Uint8Array(0);
const EMPTY_MAP: CborMap = new Map<CborKey, CborValue>();

/** A decoded COSE_Sign1 whose signature has not yet been checked. */
export interface Sign1 {
  /** The protected header exactly as received (a bstr's content). */
  readonly protectedBytes: Uint8Array;
  readonly kid: Uint8Array;
  readonly typ: CoseTyp;
  /** The payload exactly as received. */
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** One signer of a COSE_Sign. */
export interface CoseSignature {
  readonly protectedBytes: Uint8Array;
  readonly kid: Uint8Array;
  readonly signature: Uint8Array;
}

/** A decoded COSE_Sign (several signers over one payload), signatures not yet checked. */
export interface CoseSign {
  readonly protectedBytes: Uint8Array;
  readonly typ: CoseTyp;
  readonly payload: Uint8Array;
  readonly signatures: readonly CoseSignature[];
}

/** The largest number of signers a COSE_Sign may carry (root documents, see protocol.md §7). */
export const MAX_SIGNERS = 8;

function signerHeader(kid: Uint8Array, typ?: CoseTyp): Uint8Array {
  const header = new Map<number, CborValue>([
    [COSE_HEADER.ALG, COSE_ALG_EDDSA],
    [COSE_HEADER.KID, kid],
  ]);
  if (typ !== undefined) header.set(COSE_HEADER.TYP, typ);
  return encodeCbor(header);
}

/** RFC 9052 §4.4: Sig_structure for COSE_Sign1, with an empty external_aad. */
export function sign1ToBeSigned(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, EMPTY, payload]);
}

/** RFC 9052 §4.4: Sig_structure for one signer of a COSE_Sign, with an empty external_aad. */
export function signToBeSigned(
  bodyProtected: Uint8Array,
  signProtected: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  return encodeCbor(['Signature', bodyProtected, signProtected, EMPTY, payload]);
}

/**
 * Signs `payload` as a tagged COSE_Sign1 (tag 18) with protected {alg: EdDSA, kid, typ}.
 * @example encodeCbor(signSign1(key, { typ: COSE_TYP.VERDICT, payload }))
 */
export function signSign1(key: PrivateKey, doc: { typ: CoseTyp; payload: Uint8Array }): CborTag {
  const protectedBytes = signerHeader(key.publicKey.kid, doc.typ);
  const signature = sign(key, sign1ToBeSigned(protectedBytes, doc.payload));
  return new CborTag(CBOR_TAG.COSE_SIGN1, [protectedBytes, EMPTY_MAP, doc.payload, signature]);
}

/**
 * Signs `payload` as a tagged COSE_Sign (tag 98) by every key in `keys`, in the given order;
 * the body's protected header holds only `typ`, each signer's holds {alg, kid}.
 */
export function signCoseSign(
  keys: readonly PrivateKey[],
  doc: { typ: CoseTyp; payload: Uint8Array },
): CborTag {
  if (keys.length === 0 || keys.length > MAX_SIGNERS) {
    throw new RangeError(`COSE_Sign: 1..${MAX_SIGNERS} signers, got ${keys.length}`);
  }
  const bodyProtected = encodeCbor(new Map([[COSE_HEADER.TYP, doc.typ]]));
  const signatures = keys.map((key) => {
    const signProtected = signerHeader(key.publicKey.kid);
    const signature = sign(key, signToBeSigned(bodyProtected, signProtected, doc.payload));
    return [signProtected, EMPTY_MAP, signature];
  });
  return new CborTag(CBOR_TAG.COSE_SIGN, [bodyProtected, EMPTY_MAP, doc.payload, signatures]);
}

function readTyp(value: CborValue | undefined, expected: CoseTyp, path: string): CoseTyp {
  if (value !== expected) {
    throw new ProtocolError('BAD_TYP', `${path}: typ ${JSON.stringify(value ?? null)}, expected ${expected}`);
  }
  return expected;
}

function readAlg(value: CborValue | undefined, path: string): void {
  if (value !== COSE_ALG_EDDSA) {
    throw new ProtocolError('BAD_ALG', `${path}: alg ${JSON.stringify(value ?? null)}, expected ${COSE_ALG_EDDSA} (EdDSA)`);
  }
}

function readEmptyUnprotected(value: CborValue | undefined, path: string): void {
  // [P-2.5-3] Tattler puts nothing in unprotected headers: an attacker could change it freely.
  const map = asMap(value, `${path}.unprotected`);
  checkKeys(map, `${path}.unprotected`, { allowed: [], required: [] });
}

/**
 * Parses a tagged COSE_Sign1 whose `typ` must be `typ`. Checks structure and headers only (alg
 * EdDSA, kid of 8 bytes, signature of 64 bytes); call {@link verifySign1} for the signature.
 * @example const s = decodeSign1(value, { typ: COSE_TYP.VERDICT, path: 'verdict' });
 */
export function decodeSign1(value: CborValue, expect: { typ: CoseTyp; path: string }): Sign1 {
  const path = expect.path;
  const items = asArray(asTag(value, CBOR_TAG.COSE_SIGN1, path), path, { min: 4, max: 4 });
  const protectedBytes = asBytes(items[0], `${path}.protected`, { max: 64 });
  const header = asMap(decodeCbor(protectedBytes), `${path}.protected`);
  checkKeys(header, `${path}.protected`, {
    allowed: [COSE_HEADER.ALG, COSE_HEADER.KID, COSE_HEADER.TYP],
    required: [COSE_HEADER.ALG, COSE_HEADER.KID, COSE_HEADER.TYP],
  });
  readAlg(header.get(COSE_HEADER.ALG), path);
  const kid = asBytes(header.get(COSE_HEADER.KID), `${path}.kid`, { min: KID_BYTES, max: KID_BYTES });
  const typ = readTyp(header.get(COSE_HEADER.TYP), expect.typ, path);
  readEmptyUnprotected(items[1], path);
  const payload = asBytes(items[2], `${path}.payload`);
  const signature = asBytes(items[3], `${path}.signature`, { min: SIGNATURE_BYTES, max: SIGNATURE_BYTES });
  return { protectedBytes, kid, typ, payload, signature };
}

/**
 * Parses a tagged COSE_Sign with 1..8 signers and `typ`; signatures are checked by
 * {@link verifyCoseSignature}.
 */
export function decodeCoseSign(value: CborValue, expect: { typ: CoseTyp; path: string }): CoseSign {
  const path = expect.path;
  const items = asArray(asTag(value, CBOR_TAG.COSE_SIGN, path), path, { min: 4, max: 4 });
  const protectedBytes = asBytes(items[0], `${path}.protected`, { max: 64 });
  const header = asMap(decodeCbor(protectedBytes), `${path}.protected`);
  checkKeys(header, `${path}.protected`, { allowed: [COSE_HEADER.TYP], required: [COSE_HEADER.TYP] });
  const typ = readTyp(header.get(COSE_HEADER.TYP), expect.typ, path);
  readEmptyUnprotected(items[1], path);
  const payload = asBytes(items[2], `${path}.payload`);
  const signers = asArray(items[3], `${path}.signatures`, { min: 1, max: MAX_SIGNERS });
  const signatures = signers.map((s, i) => {
    const p = `${path}.signatures[${i}]`;
    const parts = asArray(s, p, { min: 3, max: 3 });
    const signProtected = asBytes(parts[0], `${p}.protected`, { max: 64 });
    const h = asMap(decodeCbor(signProtected), `${p}.protected`);
    checkKeys(h, `${p}.protected`, {
      allowed: [COSE_HEADER.ALG, COSE_HEADER.KID],
      required: [COSE_HEADER.ALG, COSE_HEADER.KID],
    });
    readAlg(h.get(COSE_HEADER.ALG), p);
    const kid = asBytes(h.get(COSE_HEADER.KID), `${p}.kid`, { min: KID_BYTES, max: KID_BYTES });
    readEmptyUnprotected(parts[1], p);
    const signature = asBytes(parts[2], `${p}.signature`, { min: SIGNATURE_BYTES, max: SIGNATURE_BYTES });
    return { protectedBytes: signProtected, kid, signature };
  });
  return { protectedBytes, typ, payload, signatures };
}

/**
 * True when the COSE_Sign1's signature verifies under `key` over the bytes as received. The
 * caller picks `key` by `sign1.kid`; a kid mismatch is simply a failed verification.
 * @example verifySign1(decodeSign1(v, opts), collectorKey)
 */
export function verifySign1(sign1: Sign1, key: PublicKey): boolean {
  return verify(key, sign1ToBeSigned(sign1.protectedBytes, sign1.payload), sign1.signature);
}

/** True when one signer of a COSE_Sign verifies under `key`. */
export function verifyCoseSignature(doc: CoseSign, signer: CoseSignature, key: PublicKey): boolean {
  return verify(key, signToBeSigned(doc.protectedBytes, signer.protectedBytes, doc.payload), signer.signature);
}
