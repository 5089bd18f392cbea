/**
 * Requests, device to collector (docs/protocol.md §5): identified and private announcements and
 * the certificate and root queries, each a NON CoAP request padded to exactly 1232 bytes.
 * @module
 */
import { CBOR_DEFAULTS, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import {
  COAP_CODE,
  COAP_OPTION,
  COAP_TYPE,
  CONTENT_FORMAT_CBOR,
  decodeCoap,
  decodeUintOption,
  encodeCoap,
  encodeUintOption,
  type CoapOption,
} from './coap.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asBytes, asInt, asMap, asText, asUint, checkKeys, optional } from './fields.ts';
import { isCanonicalName } from './canonical.ts';
import {
  MAX_NAME_BYTES,
  MAX_REQUEST_BODY_BYTES,
  MAX_SWNAME_BYTES,
  MAX_URI_BYTES,
  MAX_VERSION_BYTES,
  MIN_PAD_BYTES,
  NONCE_BYTES,
  REQUEST_BYTES,
  WIRE_VERSION,
  MAX_BUCKET_PAGES,
} from './limits.ts';
import { KID_BYTES } from '../crypto/index.ts';

/** Request kinds, the second element of the request array ([P-5-2]). */
export const REQUEST_KIND = { IDENTIFIED: 0, PRIVATE: 1, CERTIFICATE: 2, ROOT: 3 } as const;

/** Uri-Path of each request ([P-3-3]): one short segment. */
export const URI_PATH = { ANNOUNCE: 't', CERTIFICATE: 'c', ROOT: 'r' } as const;

/**
 * Claim keys of request bodies: EAT claim keys (RFC 9711, IANA CWT registry) where EAT has the
 * claim, and keys from the CWT private-use range (< −65536, RFC 8392 §9.1) for the rest.
 */
export const CLAIM = {
  NONCE: 10, // eat_nonce
  OEMID: 258,
  HWMODEL: 259,
  HWVERSION: 260,
  SWNAME: 270,
  SWVERSION: 271,
  VENDOR: -65537,
  MODEL: -65538,
  CPE: -65539,
  MUD_URL: -65540,
  SBOM_URL: -65541,
  FLAGS: -65542,
  BUCKET_PREFIX: -65543,
  PAGE: -65544,
  KID: -65545,
  ROOT_VERSION: -65546,
} as const;

/** Announcement flag bits ([P-5.1-6]). */
export const ANNOUNCE_FLAG = {
  /** The device is quarantined: the collector must sign its answer, whatever the status. */
  QUARANTINED: 1,
} as const;

/** An EAT version claim: hwversion / swversion (RFC 9711: [version, ? scheme]). */
export interface VersionClaim {
  readonly version: string;
  /** A $version-scheme of RFC 9393 (CoSWID), if the device states one. */
  readonly scheme?: number;
}

/** The identified form: the device names its vendor, model and software build. */
export interface IdentifiedAnnouncement {
  readonly kind: 'identified';
  readonly nonce: Uint8Array;
  /** Canonical vendor name (§4.1). */
  readonly vendor: string;
  /** Canonical model name (§4.1). */
  readonly model: string;
  readonly swName: string;
  readonly swVersion: VersionClaim;
  readonly hwVersion?: VersionClaim;
  /** EAT hwmodel: 1..32 opaque bytes. */
  readonly hwModel?: Uint8Array;
  /** EAT oemid: IEEE OUI (3 bytes), random (16 bytes) or an IANA PEN. */
  readonly oemId?: Uint8Array | number;
  readonly cpe?: string;
  /** MUD URL (RFC 8520). */
  readonly mudUrl?: string;
  /** SBOM or vulnerability description URL (RFC 9472). */
  readonly sbomUrl?: string;
  /** The device is quarantined and needs a signed answer. */
  readonly quarantined: boolean;
}

/** The private form: only a 12-bit prefix of the model hash (§4.2). */
export interface PrivateAnnouncement {
  readonly kind: 'private';
  readonly nonce: Uint8Array;
  readonly prefix: Uint8Array;
  /** Page of the bucket wanted, 0 first. */
  readonly page: number;
}

/** Asks for the key certificate of a collector key. */
export interface CertificateQuery {
  readonly kind: 'certificate';
  readonly kid: Uint8Array;
}

/** Asks for root document `version`. */
export interface RootQuery {
  readonly kind: 'root';
  readonly version: number;
}

/** Any Tattler request. */
export type Request = IdentifiedAnnouncement | PrivateAnnouncement | CertificateQuery | RootQuery;

/** The CoAP fields a request carries and its answer echoes. */
export interface RequestFrame {
  readonly messageId: number;
  /** 0..8 bytes; devices use 8 random bytes ([P-3-4]). */
  readonly token: Uint8Array;
}

/** A decoded request with its CoAP frame. */
export interface DecodedRequest {
  readonly frame: RequestFrame;
  readonly request: Request;
}

const textEncoder = new TextEncoder();

function versionClaim(claim: VersionClaim): CborValue {
  return claim.scheme === undefined ? [claim.version] : [claim.version, claim.scheme];
}

function bodyOf(request: Request): Map<CborKey, CborValue> {
  const body = new Map<CborKey, CborValue>();
  switch (request.kind) {
    case 'identified': {
      body.set(CLAIM.NONCE, request.nonce);
      if (request.oemId !== undefined) body.set(CLAIM.OEMID, request.oemId);
      if (request.hwModel !== undefined) body.set(CLAIM.HWMODEL, request.hwModel);
      if (request.hwVersion !== undefined) body.set(CLAIM.HWVERSION, versionClaim(request.hwVersion));
      body.set(CLAIM.SWNAME, request.swName);
      body.set(CLAIM.SWVERSION, versionClaim(request.swVersion));
      body.set(CLAIM.VENDOR, request.vendor);
      body.set(CLAIM.MODEL, request.model);
      if (request.cpe !== undefined) body.set(CLAIM.CPE, request.cpe);
      if (request.mudUrl !== undefined) body.set(CLAIM.MUD_URL, request.mudUrl);
      if (request.sbomUrl !== undefined) body.set(CLAIM.SBOM_URL, request.sbomUrl);
      if (request.quarantined) body.set(CLAIM.FLAGS, ANNOUNCE_FLAG.QUARANTINED);
      return body;
    }
    case 'private':
      body.set(CLAIM.NONCE, request.nonce);
      body.set(CLAIM.BUCKET_PREFIX, request.prefix);
      if (request.page !== 0) body.set(CLAIM.PAGE, request.page);
      return body;
    case 'certificate':
      body.set(CLAIM.KID, request.kid);
      return body;
    case 'root':
      body.set(CLAIM.ROOT_VERSION, request.version);
      return body;
  }
}

function kindNumber(request: Request): number {
  switch (request.kind) {
    case 'identified':
      return REQUEST_KIND.IDENTIFIED;
    case 'private':
      return REQUEST_KIND.PRIVATE;
    case 'certificate':
      return REQUEST_KIND.CERTIFICATE;
    case 'root':
      return REQUEST_KIND.ROOT;
  }
}

function routeOf(kind: number): { code: number; path: string } {
  if (kind === REQUEST_KIND.CERTIFICATE) return { code: COAP_CODE.GET, path: URI_PATH.CERTIFICATE };
  if (kind === REQUEST_KIND.ROOT) return { code: COAP_CODE.GET, path: URI_PATH.ROOT };
  return { code: COAP_CODE.POST, path: URI_PATH.ANNOUNCE };
}

/**
 * Encodes `request` as one CoAP NON datagram of exactly {@link REQUEST_BYTES} bytes ([P-3-1]).
 * The request is validated as the collector would; `ProtocolError('TOO_LARGE')` if the body
 * exceeds 953 bytes (long URLs or names).
 * @example const datagram = encodeRequest(announcement, { messageId, token }); // 1232 bytes
 */
export function encodeRequest(request: Request, frame: RequestFrame): Uint8Array {
  const kind = kindNumber(request);
  const body = encodeCbor(bodyOf(request));
  if (body.byteLength > MAX_REQUEST_BODY_BYTES) {
    throw new ProtocolError('TOO_LARGE', `request body: ${body.byteLength} bytes, at most ${MAX_REQUEST_BODY_BYTES}`);
  }
  const { code, path } = routeOf(kind);
  const options: CoapOption[] = [
    { number: COAP_OPTION.URI_PATH, value: textEncoder.encode(path) },
    { number: COAP_OPTION.CONTENT_FORMAT, value: encodeUintOption(CONTENT_FORMAT_CBOR) },
  ];
  const head = encodeCoap({ type: COAP_TYPE.NON, code, messageId: frame.messageId, token: frame.token, options, payload: new Uint8Array(0) });
  // Payload: 0x84 version kind body 0x59 len16 pad, so the pad is budget − 6 − body bytes.
  const budget = REQUEST_BYTES - head.byteLength - 1;
  const padBytes = budget - 6 - body.byteLength;
  if (padBytes < MIN_PAD_BYTES) throw new ProtocolError('TOO_LARGE', `request body: ${body.byteLength} bytes leave ${padBytes} bytes of padding`);
  // Written straight into the datagram; the pad is the zero bytes the new array already holds.
  const out = new Uint8Array(REQUEST_BYTES);
  out.set(head);
  let at = head.byteLength;
  out[at++] = 0xff;
  out[at++] = 0x84;
  out[at++] = WIRE_VERSION;
  out[at++] = kind;
  out.set(body, at);
  at += body.byteLength;
  out[at++] = 0x59; // byte string, 2-byte length: preferred because padBytes >= 256
  out[at++] = padBytes >> 8;
  out[at] = padBytes & 0xff;
  return out;
}

function readVersionClaim(value: CborValue | undefined, path: string): VersionClaim {
  const parts = asArray(value, path, { min: 1, max: 2 });
  const version = asText(parts[0], `${path}.version`, MAX_VERSION_BYTES);
  if (parts.length === 1) return { version };
  return { version, scheme: asInt(parts[1], `${path}.scheme`) };
}

function readName(value: CborValue | undefined, path: string): string {
  const name = asText(value, path, MAX_NAME_BYTES);
  if (!isCanonicalName(name)) throw new ProtocolError('NON_CANONICAL', `${path}: not a canonical name (§4.1)`);
  return name;
}

function readUri(value: CborValue, path: string, scheme: string): string {
  const text = asText(value, path, MAX_URI_BYTES);
  if (!text.startsWith(scheme)) throw new ProtocolError('BAD_VALUE', `${path}: must start with ${scheme}`);
  return text;
}

function readOemId(value: CborValue, path: string): Uint8Array | number {
  if (typeof value === 'number') return asUint(value, path);
  const bytes = asBytes(value, path, { min: 3, max: 16 }).slice();
  if (bytes.byteLength !== 3 && bytes.byteLength !== 16) {
    throw new ProtocolError('BAD_VALUE', `${path}: expected 3 (IEEE OUI) or 16 (random) bytes, got ${bytes.byteLength}`);
  }
  return bytes;
}

function parseBody(kind: number, value: CborValue | undefined): Request {
  const path = 'request.body';
  const body = asMap(value, path);
  switch (kind) {
    case REQUEST_KIND.IDENTIFIED: {
      checkKeys(body, path, {
        allowed: [CLAIM.NONCE, CLAIM.OEMID, CLAIM.HWMODEL, CLAIM.HWVERSION, CLAIM.SWNAME, CLAIM.SWVERSION, CLAIM.VENDOR, CLAIM.MODEL, CLAIM.CPE, CLAIM.MUD_URL, CLAIM.SBOM_URL, CLAIM.FLAGS],
        required: [CLAIM.NONCE, CLAIM.SWNAME, CLAIM.SWVERSION, CLAIM.VENDOR, CLAIM.MODEL],
      });
      const flags = optional(body, CLAIM.FLAGS, (v) => asUint(v, `${path}.flags`, { min: 1, max: 1 })) ?? 0;
      const hwVersion = optional(body, CLAIM.HWVERSION, (v) => readVersionClaim(v, `${path}.hwversion`));
      const hwModel = optional(body, CLAIM.HWMODEL, (v) => asBytes(v, `${path}.hwmodel`, { min: 1, max: 32 }).slice());
      const oemId = optional(body, CLAIM.OEMID, (v) => readOemId(v, `${path}.oemid`));
      const cpe = optional(body, CLAIM.CPE, (v) => readUri(v, `${path}.cpe`, 'cpe:2.3:'));
      const mudUrl = optional(body, CLAIM.MUD_URL, (v) => readUri(v, `${path}.mud_url`, 'https://'));
      const sbomUrl = optional(body, CLAIM.SBOM_URL, (v) => readUri(v, `${path}.sbom_url`, 'https://'));
      return {
        kind: 'identified',
        nonce: asBytes(body.get(CLAIM.NONCE), `${path}.nonce`, { min: NONCE_BYTES, max: NONCE_BYTES }).slice(),
        vendor: readName(body.get(CLAIM.VENDOR), `${path}.vendor`),
        model: readName(body.get(CLAIM.MODEL), `${path}.model`),
        swName: asText(body.get(CLAIM.SWNAME), `${path}.swname`, MAX_SWNAME_BYTES),
        swVersion: readVersionClaim(body.get(CLAIM.SWVERSION), `${path}.swversion`),
        ...(hwVersion === undefined ? {} : { hwVersion }),
        ...(hwModel === undefined ? {} : { hwModel }),
        ...(oemId === undefined ? {} : { oemId }),
        ...(cpe === undefined ? {} : { cpe }),
        ...(mudUrl === undefined ? {} : { mudUrl }),
        ...(sbomUrl === undefined ? {} : { sbomUrl }),
        quarantined: (flags & ANNOUNCE_FLAG.QUARANTINED) !== 0,
      };
    }
    case REQUEST_KIND.PRIVATE: {
      checkKeys(body, path, { allowed: [CLAIM.NONCE, CLAIM.BUCKET_PREFIX, CLAIM.PAGE], required: [CLAIM.NONCE, CLAIM.BUCKET_PREFIX] });
      const prefix = asBytes(body.get(CLAIM.BUCKET_PREFIX), `${path}.prefix`, { min: 2, max: 2 }).slice();
      if (((prefix[1] ?? 0) & 0x0f) !== 0) throw new ProtocolError('BAD_VALUE', `${path}.prefix: the low 4 bits must be zero`);
      // [P-5.2-2] page 0 is sent by omitting the key, so each request has one encoding.
      const page = optional(body, CLAIM.PAGE, (v) => asUint(v, `${path}.page`, { min: 1, max: MAX_BUCKET_PAGES - 1 })) ?? 0;
      return {
        kind: 'private',
        nonce: asBytes(body.get(CLAIM.NONCE), `${path}.nonce`, { min: NONCE_BYTES, max: NONCE_BYTES }).slice(),
        prefix,
        page,
      };
    }
    case REQUEST_KIND.CERTIFICATE:
      checkKeys(body, path, { allowed: [CLAIM.KID], required: [CLAIM.KID] });
      return { kind: 'certificate', kid: asBytes(body.get(CLAIM.KID), `${path}.kid`, { min: KID_BYTES, max: KID_BYTES }).slice() };
    case REQUEST_KIND.ROOT:
      checkKeys(body, path, { allowed: [CLAIM.ROOT_VERSION], required: [CLAIM.ROOT_VERSION] });
      return { kind: 'root', version: asUint(body.get(CLAIM.ROOT_VERSION), `${path}.root_version`, { min: 1, max: 0xffffffff }) };
    default:
      throw new ProtocolError('BAD_VALUE', `request.kind: unknown kind ${kind}`);
  }
}

const PATH_BYTES = new Map<number, number>([
  [URI_PATH.ANNOUNCE.charCodeAt(0), COAP_CODE.POST],
  [URI_PATH.CERTIFICATE.charCodeAt(0), COAP_CODE.GET],
  [URI_PATH.ROOT.charCodeAt(0), COAP_CODE.GET],
]);

/**
 * Decodes a request datagram, cheapest checks first ([P-5-5]): exact length, CoAP header and
 * options, wire version byte, then the CBOR. Throws `ProtocolError` and nothing else.
 * @example const { frame, request } = decodeRequest(datagram);
 */
export function decodeRequest(datagram: Uint8Array): DecodedRequest {
  if (datagram.byteLength > REQUEST_BYTES) throw new ProtocolError('TOO_LARGE', `request: ${datagram.byteLength} bytes, expected ${REQUEST_BYTES}`);
  if (datagram.byteLength < REQUEST_BYTES) throw new ProtocolError('BAD_LENGTH', `request: ${datagram.byteLength} bytes, expected ${REQUEST_BYTES}`);
  const coap = decodeCoap(datagram);
  if (coap.type !== COAP_TYPE.NON) throw new ProtocolError('BAD_COAP', `coap: type ${coap.type}, requests are NON (1)`);
  if (coap.code !== COAP_CODE.POST && coap.code !== COAP_CODE.GET) throw new ProtocolError('BAD_COAP', `coap: code 0x${coap.code.toString(16)}, expected GET or POST`);
  let pathByte = -1;
  let contentFormat = -1;
  for (const option of coap.options) {
    switch (option.number) {
      case COAP_OPTION.URI_PATH:
        if (pathByte !== -1 || option.value.byteLength !== 1) throw new ProtocolError('BAD_COAP', 'coap: Uri-Path must be one 1-byte segment');
        pathByte = option.value[0] ?? -1;
        break;
      case COAP_OPTION.CONTENT_FORMAT:
        if (contentFormat !== -1) throw new ProtocolError('BAD_COAP', 'coap: repeated Content-Format');
        contentFormat = decodeUintOption(option.value);
        break;
      case COAP_OPTION.URI_HOST:
      case COAP_OPTION.URI_PORT:
        break; // RFC 7252 §5.10.1: recognised; the collector answers on any name it is reached by
      default:
        // RFC 7252 §5.4.1: odd option numbers are critical and must not be ignored.
        if ((option.number & 1) === 1) throw new ProtocolError('BAD_COAP', `coap: unrecognised critical option ${option.number}`);
    }
  }
  const method = PATH_BYTES.get(pathByte);
  if (method === undefined || method !== coap.code) throw new ProtocolError('BAD_COAP', 'coap: unknown Uri-Path or wrong method for it');
  if (contentFormat !== CONTENT_FORMAT_CBOR) throw new ProtocolError('BAD_COAP', `coap: Content-Format ${contentFormat}, expected ${CONTENT_FORMAT_CBOR}`);
  const payload = coap.payload;
  if (payload[0] === 0x84 && payload[1] !== WIRE_VERSION) {
    throw new ProtocolError('BAD_VERSION', `request.version: ${String(payload[1])}, expected ${WIRE_VERSION}`);
  }
  // Byte strings as views (the pad is ~950 bytes); parseBody copies every one it returns.
  const parts = asArray(decodeCbor(payload, REQUEST_CBOR_LIMITS), 'request', { min: 4, max: 4 });
  const version = asUint(parts[0], 'request.version');
  if (version !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `request.version: ${version}, expected ${WIRE_VERSION}`);
  const kind = asUint(parts[1], 'request.kind');
  const expected = routeOf(kind);
  if (expected.path.charCodeAt(0) !== pathByte) throw new ProtocolError('BAD_COAP', `coap: kind ${kind} sent to the wrong Uri-Path`);
  const request = parseBody(kind, parts[2]);
  const pad = asBytes(parts[3], 'request.pad');
  if (!isAllZero(pad)) throw new ProtocolError('BAD_VALUE', 'request.pad: padding bytes must be zero');
  return { frame: { messageId: coap.messageId, token: coap.token }, request };
}

const ZEROS = new Uint8Array(REQUEST_BYTES);
const REQUEST_CBOR_LIMITS = Object.freeze({ ...CBOR_DEFAULTS, viewByteStrings: true });

/** True when every byte is zero: one native compare against a zero buffer (no JS loop). */
function isAllZero(bytes: Uint8Array): boolean {
  return Buffer.compare(bytes, ZEROS.subarray(0, bytes.byteLength)) === 0;
}

/** Body bytes a request will take, to check a device configuration before sending. */
export function requestBodyBytes(request: Request): number {
  return encodeCbor(bodyOf(request)).byteLength;
}

