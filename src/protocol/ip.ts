/**
 * IP addresses and prefixes as bytes: text parsing without node:net (pure layer), and the
 * RFC 9164 CBOR prefix encoding used by key certificates.
 * @module
 */
import { CBOR_TAG, CborTag, type CborValue } from './cbor.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asBytes, asUint } from './fields.ts';

/** An address prefix: the network bytes (4 or 16) with host bits zero, and its length in bits. */
export interface IpPrefix {
  readonly address: Uint8Array;
  readonly length: number;
}

/** Parses dotted IPv4 or RFC 4291 §2.2 IPv6 text into 4 or 16 bytes, or `undefined`. */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes(':')) return parseIpv6(text);
  return parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  // RFC 4291 §2.2 form 3: dotted IPv4 only as the last 32 bits of the whole address.
  const groups = (s: string, ipv4Tail: boolean): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] ?? '';
      if (ipv4Tail && i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '', halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] ?? '', true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Text form of a 4- or 16-byte address (IPv6 in RFC 5952 form). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.byteLength === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `address/length` (CIDR); host bits must be zero. Throws `RangeError` naming the problem. */
export function parsePrefix(text: string): IpPrefix {
  const [addressText, lengthText, extra] = text.split('/');
  const address = parseIp(addressText ?? '');
  if (address === undefined || extra !== undefined) throw new RangeError(`prefix ${JSON.stringify(text)}: not ADDRESS/LENGTH`);
  const max = address.byteLength * 8;
  const length = lengthText === undefined ? max : Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > max || !/^\d+$/.test(lengthText ?? String(max))) {
    throw new RangeError(`prefix ${JSON.stringify(text)}: length must be 0..${max}`);
  }
  if (!isMasked(address, length)) throw new RangeError(`prefix ${JSON.stringify(text)}: host bits are set`);
  return { address, length };
}

function isMasked(address: Uint8Array, length: number): boolean {
  for (let bit = length; bit < address.byteLength * 8; bit++) {
    if (((address[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/** True when `address` (same family) lies inside `prefix`. */
export function prefixContains(prefix: IpPrefix, address: Uint8Array): boolean {
  if (address.byteLength !== prefix.address.byteLength) return false;
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== prefix.address[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address[full] ?? 0) & mask) === (prefix.address[full] ?? 0);
}

/** `address/length` text of a prefix. */
export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIp(prefix.address)}/${prefix.length}`;
}

/**
 * RFC 9164 §4.2 prefix encoding: tag 52 (IPv4) or 54 (IPv6) over [length, address bytes with
 * trailing zero bytes removed].
 */
export function encodePrefix(prefix: IpPrefix): CborTag {
  let end = Math.ceil(prefix.length / 8);
  while (end > 0 && prefix.address[end - 1] === 0) end--;
  const tag = prefix.address.byteLength === 4 ? CBOR_TAG.IPV4 : CBOR_TAG.IPV6;
  return new CborTag(tag, [prefix.length, prefix.address.slice(0, end)]);
}

/** Decodes an RFC 9164 prefix, refusing non-minimal forms (trailing zero bytes, set host bits). */
export function decodePrefix(value: CborValue, path: string): IpPrefix {
  if (!(value instanceof CborTag) || (value.tag !== CBOR_TAG.IPV4 && value.tag !== CBOR_TAG.IPV6)) {
    throw new ProtocolError('BAD_TYPE', `${path}: expected tag 52 or 54 (RFC 9164 prefix)`);
  }
  const size = value.tag === CBOR_TAG.IPV4 ? 4 : 16;
  const parts = asArray(value.value, path, { min: 2, max: 2 });
  const length = asUint(parts[0], `${path}.length`, { max: size * 8 });
  const bytes = asBytes(parts[1], `${path}.address`, { max: Math.ceil(length / 8) });
  if (bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === 0) {
    throw new ProtocolError('NON_CANONICAL', `${path}: trailing zero bytes (RFC 9164 §4.2)`);
  }
  const address = new Uint8Array(size);
  address.set(bytes);
  if (!isMasked(address, length)) throw new ProtocolError('BAD_VALUE', `${path}: host bits are set`);
  return { address, length };
}
