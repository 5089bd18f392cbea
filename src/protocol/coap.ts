/**
 * CoAP message codec (RFC 7252 §3): header, token, options and payload, strict on input.
 * Tattler-specific rules (sizes, paths) live in request.ts and response.ts.
 * @module
 */
import { ProtocolError } from './errors.ts';

/** CoAP message types (RFC 7252 §3). */
export const COAP_TYPE = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
/** A CoAP message type. */
export type CoapType = (typeof COAP_TYPE)[keyof typeof COAP_TYPE];

/** CoAP codes used by Tattler, as class << 5 | detail (RFC 7252 §12.1). */
export const COAP_CODE = {
  GET: 0x01,
  POST: 0x02,
  CHANGED: 0x44, // 2.04
  CONTENT: 0x45, // 2.05
  NOT_FOUND: 0x84, // 4.04
  SERVICE_UNAVAILABLE: 0xa3, // 5.03
} as const;

/** CoAP option numbers used by Tattler (RFC 7252 §5.10). */
export const COAP_OPTION = {
  URI_HOST: 3,
  URI_PORT: 7,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
} as const;

/** Content-Format 60: application/cbor (RFC 7252 §12.3, RFC 8949 §9.5). */
export const CONTENT_FORMAT_CBOR = 60;

/** The largest token (RFC 7252 §3: TKL 9–15 are reserved and a message format error). */
export const MAX_TOKEN_BYTES = 8;

/** Most options a Tattler message may carry; more is refused before any allocation grows. */
const MAX_OPTIONS = 16;

/** One CoAP option: its number and raw value. */
export interface CoapOption {
  readonly number: number;
  readonly value: Uint8Array;
}

/** A decoded CoAP message. */
export interface CoapMessage {
  readonly type: CoapType;
  readonly code: number;
  readonly messageId: number;
  readonly token: Uint8Array;
  /** Options in ascending number order, as on the wire. */
  readonly options: readonly CoapOption[];
  readonly payload: Uint8Array;
}

function bad(message: string): ProtocolError {
  return new ProtocolError('BAD_COAP', message);
}

/**
 * Decodes a CoAP message over UDP. Throws `ProtocolError('BAD_COAP')` on any message format error
 * (RFC 7252 §3: version ≠ 1, TKL > 8, reserved option nibble 15, a payload marker with an empty
 * payload) and `TRUNCATED` when the datagram ends inside a field.
 * @example decodeCoap(datagram).payload
 */
export function decodeCoap(bytes: Uint8Array): CoapMessage {
  if (bytes.byteLength < 4) throw new ProtocolError('TRUNCATED', `coap: header needs 4 bytes, got ${bytes.byteLength}`);
  const b0 = bytes[0] ?? 0;
  const version = b0 >> 6;
  if (version !== 1) throw bad(`coap: version ${version}, expected 1`);
  const type = ((b0 >> 4) & 0x3) as CoapType;
  const tkl = b0 & 0xf;
  if (tkl > MAX_TOKEN_BYTES) throw bad(`coap: token length ${tkl} is reserved`);
  const code = bytes[1] ?? 0;
  const messageId = ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  let pos = 4;
  if (pos + tkl > bytes.byteLength) throw new ProtocolError('TRUNCATED', 'coap: datagram ends inside the token');
  const token = bytes.slice(pos, pos + tkl);
  pos += tkl;
  const options: CoapOption[] = [];
  let number = 0;
  while (pos < bytes.byteLength) {
    const head = bytes[pos] ?? 0;
    if (head === 0xff) {
      pos++;
      if (pos === bytes.byteLength) throw bad('coap: payload marker followed by an empty payload');
      break;
    }
    pos++;
    let delta = head >> 4;
    let length = head & 0xf;
    if (delta === 15 || length === 15) throw bad('coap: reserved option nibble 15');
    // RFC 7252 §3.1: 13 → one extension byte + 13, 14 → two extension bytes + 269.
    [delta, pos] = readExtended(bytes, delta, pos);
    [length, pos] = readExtended(bytes, length, pos);
    number += delta;
    if (pos + length > bytes.byteLength) throw new ProtocolError('TRUNCATED', `coap: option ${number} runs past the datagram`);
    if (options.length === MAX_OPTIONS) throw bad(`coap: more than ${MAX_OPTIONS} options`);
    options.push({ number, value: bytes.slice(pos, pos + length) });
    pos += length;
  }
  return { type, code, messageId, token, options, payload: bytes.subarray(pos) };
}

function readExtended(bytes: Uint8Array, nibble: number, pos: number): [number, number] {
  if (nibble === 13) {
    if (pos + 1 > bytes.byteLength) throw new ProtocolError('TRUNCATED', 'coap: option header truncated');
    return [(bytes[pos] ?? 0) + 13, pos + 1];
  }
  if (nibble === 14) {
    if (pos + 2 > bytes.byteLength) throw new ProtocolError('TRUNCATED', 'coap: option header truncated');
    return [(((bytes[pos] ?? 0) << 8) | (bytes[pos + 1] ?? 0)) + 269, pos + 2];
  }
  return [nibble, pos];
}

function nibble(value: number): { nibble: number; extra: number[] } {
  if (value < 13) return { nibble: value, extra: [] };
  if (value < 269) return { nibble: 13, extra: [value - 13] };
  const v = value - 269;
  return { nibble: 14, extra: [v >> 8, v & 0xff] };
}

/**
 * Encodes a CoAP message; options are sorted by number (stable for repeated options). Throws
 * `RangeError` on a token over 8 bytes or an out-of-range field (a caller bug).
 * @example encodeCoap({ type: COAP_TYPE.NON, code: COAP_CODE.POST, messageId: 1, token, options, payload })
 */
export function encodeCoap(message: CoapMessage): Uint8Array {
  if (message.token.byteLength > MAX_TOKEN_BYTES) throw new RangeError('coap: token over 8 bytes');
  if (message.messageId < 0 || message.messageId > 0xffff) throw new RangeError('coap: message id out of range');
  const options = [...message.options].sort((a, b) => a.number - b.number);
  const parts: number[] = [
    0x40 | (message.type << 4) | message.token.byteLength,
    message.code,
    message.messageId >> 8,
    message.messageId & 0xff,
    ...message.token,
  ];
  let previous = 0;
  for (const option of options) {
    const d = nibble(option.number - previous);
    const l = nibble(option.value.byteLength);
    parts.push((d.nibble << 4) | l.nibble, ...d.extra, ...l.extra, ...option.value);
    previous = option.number;
  }
  const head = Uint8Array.from(parts);
  if (message.payload.byteLength === 0) return head;
  const out = new Uint8Array(head.byteLength + 1 + message.payload.byteLength);
  out.set(head);
  out[head.byteLength] = 0xff;
  out.set(message.payload, head.byteLength + 1);
  return out;
}

/** The minimal big-endian encoding of an unsigned option value (RFC 7252 §3.2 `uint`). */
export function encodeUintOption(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v > 0) {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Uint8Array.from(out);
}

/** Reads an unsigned option value (RFC 7252 §3.2: at most 4 bytes here). */
export function decodeUintOption(value: Uint8Array): number {
  if (value.byteLength > 4) throw bad(`coap: uint option of ${value.byteLength} bytes`);
  let v = 0;
  for (const b of value) v = v * 256 + b;
  return v;
}
