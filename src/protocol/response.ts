/**
 * Answers, collector to device (docs/protocol.md §5.5): one NON CoAP response echoing the
 * request's token and message id, never larger than the request.
 * @module
 */
import { decodeCbor, type CborValue } from './cbor.ts';
import {
  COAP_CODE,
  COAP_OPTION,
  COAP_TYPE,
  CONTENT_FORMAT_CBOR,
  decodeCoap,
  decodeUintOption,
  encodeCoap,
  encodeUintOption,
} from './coap.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asBytes, asUint } from './fields.ts';
import { readBucket, type Bucket } from './bucket.ts';
import { readKeyCertificate, type KeyCertificate } from './key-certificate.ts';
import { NONCE_BYTES, REQUEST_BYTES, WIRE_VERSION } from './limits.ts';
import { readPolicy, type Policy } from './policy.ts';
import type { RequestFrame } from './request.ts';
import { readRoot, type SignedRoot } from './root.ts';
import type { Signed } from './signed.ts';
import { decodeVerdictMap, encodeVerdictPayload, readVerdict, type Verdict } from './verdict.ts';

/** Response kinds, the second element of the response array ([P-5.5-2]). */
export const RESPONSE_KIND = { VERDICT: 0, UNSIGNED_VERDICT: 1, PRIVATE: 2, CERTIFICATE: 3, ROOT: 4 } as const;

/**
 * What to send, with documents already encoded (the collector caches them as bytes): each field
 * is the encoded tagged COSE structure, or the encoded verdict map for an unsigned verdict.
 */
export type ResponseBody =
  | { readonly kind: 'verdict'; readonly signed: Uint8Array }
  | { readonly kind: 'unsigned-verdict'; readonly verdict: Uint8Array }
  | { readonly kind: 'private'; readonly nonce: Uint8Array; readonly bucket: Uint8Array; readonly policy: Uint8Array }
  | { readonly kind: 'certificate'; readonly certificate: Uint8Array }
  | { readonly kind: 'root'; readonly root: Uint8Array }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number };

/** A decoded answer; signatures are not yet verified. */
export type Response =
  | { readonly kind: 'verdict'; readonly verdict: Signed<Verdict> }
  | { readonly kind: 'unsigned-verdict'; readonly verdict: Verdict }
  | { readonly kind: 'private'; readonly nonce: Uint8Array; readonly bucket: Signed<Bucket>; readonly policy: Signed<Policy> }
  | { readonly kind: 'certificate'; readonly certificate: Signed<KeyCertificate> }
  | { readonly kind: 'root'; readonly root: SignedRoot }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number };

/** A decoded answer with the CoAP frame it echoes. */
export interface DecodedResponse {
  readonly frame: RequestFrame;
  readonly response: Response;
}

function payloadOf(body: ResponseBody): Uint8Array | undefined {
  let kind: number;
  let parts: Uint8Array[];
  switch (body.kind) {
    case 'verdict':
      [kind, parts] = [RESPONSE_KIND.VERDICT, [body.signed]];
      break;
    case 'unsigned-verdict':
      [kind, parts] = [RESPONSE_KIND.UNSIGNED_VERDICT, [body.verdict]];
      break;
    case 'private':
      // [P-5.5-4] the request's nonce, echoed unsigned: bucket and policy are cached bytes.
      if (body.nonce.byteLength !== NONCE_BYTES) throw new RangeError('private answer: nonce must be 16 bytes');
      [kind, parts] = [RESPONSE_KIND.PRIVATE, [Uint8Array.of(0x50), body.nonce, body.bucket, body.policy]];
      break;
    case 'certificate':
      [kind, parts] = [RESPONSE_KIND.CERTIFICATE, [body.certificate]];
      break;
    case 'root':
      [kind, parts] = [RESPONSE_KIND.ROOT, [body.root]];
      break;
    case 'not-found':
    case 'busy':
      return undefined;
  }
  // [1, kind, ...items]: the array header and two small uints are one byte each. `parts` are
  // encoded items, except that a private answer's nonce is its bstr header (0x50) plus 16 bytes.
  let total = 3;
  for (const p of parts) total += p.byteLength;
  const items = body.kind === 'private' ? 3 : parts.length;
  const out = new Uint8Array(total);
  out[0] = 0x80 | (2 + items);
  out[1] = WIRE_VERSION;
  out[2] = kind;
  let at = 3;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Encodes an answer to a request with `frame` sent by `method` (GET or POST). Throws
 * `ProtocolError('TOO_LARGE')` if the answer would exceed 1232 bytes; callers also compare with
 * the actual request length at the send path ([P-3-2]).
 * @example encodeResponse({ messageId, token }, { kind: 'verdict', signed }, COAP_CODE.POST)
 */
export function encodeResponse(frame: RequestFrame, body: ResponseBody, method: number): Uint8Array {
  const payload = payloadOf(body);
  let code: number = method === COAP_CODE.GET ? COAP_CODE.CONTENT : COAP_CODE.CHANGED;
  const options = [];
  if (body.kind === 'not-found') code = COAP_CODE.NOT_FOUND;
  if (body.kind === 'busy') {
    code = COAP_CODE.SERVICE_UNAVAILABLE;
    // RFC 7252 §5.9.3.4: 5.03 with Max-Age = seconds after which the client may retry.
    options.push({ number: COAP_OPTION.MAX_AGE, value: encodeUintOption(body.retryAfterSeconds) });
  }
  if (payload !== undefined) options.push({ number: COAP_OPTION.CONTENT_FORMAT, value: encodeUintOption(CONTENT_FORMAT_CBOR) });
  const out = encodeCoap({ type: COAP_TYPE.NON, code, messageId: frame.messageId, token: frame.token, options, payload: payload ?? new Uint8Array(0) });
  if (out.byteLength > REQUEST_BYTES) throw new ProtocolError('TOO_LARGE', `response: ${out.byteLength} bytes, at most ${REQUEST_BYTES}`);
  return out;
}

function parsePayload(value: CborValue): Response {
  const parts = asArray(value, 'response', { min: 3, max: 5 });
  if (parts[0] !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `response.version: expected ${WIRE_VERSION}`);
  const kind = asUint(parts[1], 'response.kind', { max: 4 });
  const one = (): CborValue => {
    if (parts.length !== 3 || parts[2] === undefined) throw new ProtocolError('BAD_VALUE', `response: kind ${kind} has one element`);
    return parts[2];
  };
  switch (kind) {
    case RESPONSE_KIND.VERDICT:
      return { kind: 'verdict', verdict: readVerdict(one()) };
    case RESPONSE_KIND.UNSIGNED_VERDICT: {
      const verdict = decodeVerdictMap(one());
      if (verdict.status === 'fail') throw new ProtocolError('BAD_VALUE', 'response: a FAIL is always signed');
      return { kind: 'unsigned-verdict', verdict };
    }
    case RESPONSE_KIND.PRIVATE: {
      if (parts.length !== 5 || parts[3] === undefined || parts[4] === undefined) throw new ProtocolError('BAD_VALUE', 'response: a private answer has a nonce, a bucket and a policy');
      const nonce = asBytes(parts[2], 'response.nonce', { min: NONCE_BYTES, max: NONCE_BYTES });
      return { kind: 'private', nonce, bucket: readBucket(parts[3]), policy: readPolicy(parts[4]) };
    }
    case RESPONSE_KIND.CERTIFICATE:
      return { kind: 'certificate', certificate: readKeyCertificate(one()) };
    default:
      return { kind: 'root', root: readRoot(one()) };
  }
}

/**
 * Decodes an answer datagram (device side): at most 1232 bytes, NON, a known code, CBOR payload.
 * Throws `ProtocolError` and nothing else.
 * @example const { frame, response } = decodeResponse(datagram);
 */
export function decodeResponse(datagram: Uint8Array): DecodedResponse {
  if (datagram.byteLength > REQUEST_BYTES) throw new ProtocolError('TOO_LARGE', `response: ${datagram.byteLength} bytes, at most ${REQUEST_BYTES}`);
  const coap = decodeCoap(datagram);
  if (coap.type !== COAP_TYPE.NON) throw new ProtocolError('BAD_COAP', `coap: type ${coap.type}, answers are NON (1)`);
  const frame = { messageId: coap.messageId, token: coap.token };
  let maxAge = -1;
  let contentFormat = -1;
  for (const o of coap.options) {
    if (o.number === COAP_OPTION.MAX_AGE) maxAge = decodeUintOption(o.value);
    else if (o.number === COAP_OPTION.CONTENT_FORMAT) contentFormat = decodeUintOption(o.value);
    else if ((o.number & 1) === 1) throw new ProtocolError('BAD_COAP', `coap: unrecognised critical option ${o.number}`);
  }
  switch (coap.code) {
    case COAP_CODE.NOT_FOUND:
      return { frame, response: { kind: 'not-found' } };
    case COAP_CODE.SERVICE_UNAVAILABLE:
      return { frame, response: { kind: 'busy', retryAfterSeconds: maxAge < 0 ? 60 : maxAge } };
    case COAP_CODE.CHANGED:
    case COAP_CODE.CONTENT:
      break;
    default:
      throw new ProtocolError('BAD_COAP', `coap: unexpected code 0x${coap.code.toString(16)}`);
  }
  if (contentFormat !== CONTENT_FORMAT_CBOR) throw new ProtocolError('BAD_COAP', `coap: Content-Format ${contentFormat}, expected ${CONTENT_FORMAT_CBOR}`);
  return { frame, response: parsePayload(decodeCbor(coap.payload)) };
}

/** The encoded verdict map of an unsigned answer (never a FAIL: [P-6.1-4]). */
export function encodeUnsignedVerdict(verdict: Verdict): Uint8Array {
  if (verdict.status === 'fail') throw new RangeError('a FAIL is always signed');
  return encodeVerdictPayload(verdict);
}
