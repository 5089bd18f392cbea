/**
 * The home's IPv4 WAN address for the certificate scope check ([P-8.5-4]), asked of the default
 * gateway by PCP (RFC 6887), NAT-PMP (RFC 6886) or UPnP IGD: pure codecs for each answer, the
 * socket/HTTP shell that asks, a per-gateway cache and a network-monitor wrapper for the daemon.
 * @module
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import type { LogSink } from '../logging/log.ts';
import { formatIp, parseIp } from '../protocol/index.ts';
import type { NetworkMonitor, NetworkView } from './network-monitor.ts';
import { createIpExec, type IpExec } from './routes.ts';

// ---- wire constants ------------------------------------------------------------------------------

/** RFC 6886 §3 and RFC 6887 §19.1: NAT-PMP and PCP servers share UDP port 5351. */
export const PCP_SERVER_PORT = 5351;
/** UPnP Device Architecture 1.1 §1.3.2: the SSDP multicast group and port. */
export const SSDP_ADDRESS = '239.255.255.250';
export const SSDP_PORT = 1900;
/** RFC 6886 §3.2: version 0, opcode 128, result code (2), epoch seconds (4), address (4). */
export const NAT_PMP_ADDRESS_RESPONSE_BYTES = 12;
/** RFC 6886 §3.5: an error response still carries version, opcode, result code and epoch. */
const NAT_PMP_ERROR_RESPONSE_BYTES = 8;
/** RFC 6887 §7.1/§7.2: the common request and response header. */
export const PCP_HEADER_BYTES = 24;
/** RFC 6887 §11.1: nonce (12), protocol (1), reserved (3), ports (2 + 2), address (16). */
export const PCP_MAP_PAYLOAD_BYTES = 36;
/** RFC 6887 §7: "PCP messages MUST NOT exceed 1100 octets". */
export const PCP_MAX_MESSAGE_BYTES = 1100;
/** RFC 6887 §11.1: the mapping nonce is 96 bits. */
export const PCP_NONCE_BYTES = 12;
/** An SSDP answer is a handful of header lines (UDA 1.1 §1.3.3); real ones are ~300–500 bytes. */
export const MAX_SSDP_RESPONSE_BYTES = 2048;
/** A gateway's device description: miniupnpd's is ~5 KiB, vendor ones ~20 KiB; 64 KiB bounds memory. */
export const MAX_DESCRIPTION_BYTES = 64 * 1024;
/** The GetExternalIPAddress answer is one short SOAP envelope (~400 bytes); 16 KiB is ample. */
export const MAX_SOAP_RESPONSE_BYTES = 16 * 1024;
/** At most this many distinct SSDP answers are looked at (a LAN rarely has more than a few IGDs). */
const MAX_SSDP_ANSWERS = 8;

const NAT_PMP_VERSION = 0;
const PCP_VERSION = 2;
const PCP_OPCODE_MAP = 1;
const PCP_RESPONSE_BIT = 0x80;
/** RFC 6887 §7.4 result code SUCCESS (RFC 6886 §3.5 uses 0 for success too). */
const RESULT_SUCCESS = 0;
const UDP_PROTOCOL = 17;

/** The UPnP IGD services that answer GetExternalIPAddress (WANIPConnection:1 and :2). */
export const WAN_IP_SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANIPConnection:2',
] as const;

// ---- errors ------------------------------------------------------------------------------------

/** Why a gateway's answer was refused. */
export type WanAnswerErrorCode =
  | 'TOO_LARGE'
  | 'TRUNCATED'
  | 'BAD_VERSION'
  | 'BAD_OPCODE'
  | 'RESULT_CODE'
  | 'BAD_NONCE'
  | 'NOT_IPV4'
  | 'NOT_WAN_ADDRESS'
  | 'BAD_HTTP'
  | 'BAD_XML'
  | 'WRONG_HOST';

/** An untrusted answer from the gateway that cannot be used; `code` is stable. */
export class WanAnswerError extends Error {
  override readonly name = 'WanAnswerError';
  readonly code: WanAnswerErrorCode;
  constructor(code: WanAnswerErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

// ---- address classification ----------------------------------------------------------------------

/** How an IPv4 address the gateway calls its WAN address is treated. */
export type WanAddressKind = 'public' | 'cgn';

const REFUSED_V4: readonly (readonly [number, number, number, string])[] = [
  [0, 0, 8, 'unspecified/"this network" (RFC 1122)'],
  [10, 0, 8, 'private (RFC 1918)'],
  [172, 16, 12, 'private (RFC 1918)'],
  [192, 168, 16, 'private (RFC 1918)'],
  [127, 0, 8, 'loopback (RFC 1122)'],
  [169, 254, 16, 'link-local (RFC 3927)'],
  [224, 0, 4, 'multicast (RFC 5771)'],
  [240, 0, 4, 'reserved (RFC 1112), incl. broadcast'],
];

function inPrefix(value: number, a: number, b: number, length: number): boolean {
  const net = ((a << 24) | (b << 16)) >>> 0;
  const mask = (0xffff_ffff << (32 - length)) >>> 0;
  return (value & mask) >>> 0 === net;
}

/**
 * Classifies a 4-byte address offered as the WAN address: `public`, `cgn` (RFC 6598
 * 100.64.0.0/10, kept: see docs/agent.md "The WAN address"), or a refusal reason.
 * @example classifyWanIpv4(new Uint8Array([192, 168, 1, 1])) // { refused: 'private (RFC 1918)' }
 */
export function classifyWanIpv4(
  address: Uint8Array,
): { readonly kind: WanAddressKind } | { readonly refused: string } {
  if (address.byteLength !== 4) return { refused: 'not an IPv4 address' };
  const view = new DataView(address.buffer, address.byteOffset, 4);
  const value = view.getUint32(0);
  for (const [a, b, length, why] of REFUSED_V4)
    if (inPrefix(value, a, b, length)) return { refused: why };
  return { kind: inPrefix(value, 100, 64, 10) ? 'cgn' : 'public' };
}

function acceptWanIpv4(address: Uint8Array): WanAddressKind {
  const verdict = classifyWanIpv4(address);
  if ('refused' in verdict)
    throw new WanAnswerError(
      'NOT_WAN_ADDRESS',
      `external address ${formatIp(address)} is ${verdict.refused}, not a WAN address`,
    );
  return verdict.kind;
}

// ---- NAT-PMP (RFC 6886 §3.2) ----------------------------------------------------------------------

/**
 * The NAT-PMP external address request: version 0, opcode 0 (RFC 6886 §3.2).
 * @example encodeNatPmpAddressRequest() // Uint8Array [0, 0]
 */
export function encodeNatPmpAddressRequest(): Uint8Array {
  return new Uint8Array([NAT_PMP_VERSION, 0]);
}

/** A decoded NAT-PMP or PCP answer that names the external IPv4 address. */
export interface GatewayAddressAnswer {
  readonly address: Uint8Array;
  readonly kind: WanAddressKind;
  /** RFC 6886 §3.6 / RFC 6887 §8.5: the server's seconds since its state was lost. */
  readonly epochSeconds: number;
}

/**
 * Decodes the NAT-PMP external address response (RFC 6886 §3.2): exactly 12 bytes, version 0,
 * opcode 128, result code 0, and an address that can be a WAN address. Throws {@link WanAnswerError}.
 * @example decodeNatPmpAddressResponse(hex('0080000000000e10c6336402')).address // 198.51.100.2
 */
export function decodeNatPmpAddressResponse(bytes: Uint8Array): GatewayAddressAnswer {
  if (bytes.byteLength > NAT_PMP_ADDRESS_RESPONSE_BYTES)
    throw new WanAnswerError(
      'TOO_LARGE',
      `NAT-PMP answer: expected 12 bytes, got ${bytes.byteLength}`,
    );
  if (bytes.byteLength < NAT_PMP_ERROR_RESPONSE_BYTES)
    throw new WanAnswerError(
      'TRUNCATED',
      `NAT-PMP answer: expected 12 bytes, got ${bytes.byteLength}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== NAT_PMP_VERSION)
    throw new WanAnswerError('BAD_VERSION', `NAT-PMP answer: expected version 0, got ${version}`);
  const opcode = view.getUint8(1);
  // RFC 6886 §3.2: the response opcode is the request's (0) plus 128.
  if (opcode !== 128)
    throw new WanAnswerError('BAD_OPCODE', `NAT-PMP answer: expected opcode 128, got ${opcode}`);
  const result = view.getUint16(2);
  // RFC 6886 §3.5: 1 unsupported version, 2 refused, 3 network failure, 4 out of resources, 5 unsupported opcode.
  if (result !== RESULT_SUCCESS)
    throw new WanAnswerError('RESULT_CODE', `NAT-PMP answer: result code ${result}`);
  if (bytes.byteLength !== NAT_PMP_ADDRESS_RESPONSE_BYTES)
    throw new WanAnswerError(
      'TRUNCATED',
      `NAT-PMP answer: expected 12 bytes, got ${bytes.byteLength}`,
    );
  const address = bytes.slice(8, 12);
  return { address, kind: acceptWanIpv4(address), epochSeconds: view.getUint32(4) };
}

// ---- PCP MAP (RFC 6887 §7, §11) -----------------------------------------------------------------

/** What a PCP MAP request carries (RFC 6887 §7.1, §11.1). */
export interface PcpMapRequest {
  /** The client's own IPv4 address: the source address of the request (§8.1). */
  readonly clientAddress: Uint8Array;
  readonly nonce: Uint8Array;
  readonly internalPort: number;
  readonly lifetimeSeconds: number;
}

function mappedIpv4(address: Uint8Array, into: Uint8Array, offset: number): void {
  // RFC 6887 §5: IPv4 addresses travel as IPv4-mapped IPv6 addresses (::ffff:a.b.c.d).
  into[offset + 10] = 0xff;
  into[offset + 11] = 0xff;
  into.set(address, offset + 12);
}

/**
 * Encodes a PCP MAP request for UDP `internalPort` with no suggested external port or address
 * (the all-zeros IPv4 address, ::ffff:0.0.0.0, per §11.1): 60 bytes.
 * @example encodePcpMapRequest({ clientAddress, nonce, internalPort: 40000, lifetimeSeconds: 120 }).byteLength // 60
 */
export function encodePcpMapRequest(request: PcpMapRequest): Uint8Array {
  if (request.clientAddress.byteLength !== 4)
    throw new RangeError('clientAddress: expected 4 bytes');
  if (request.nonce.byteLength !== PCP_NONCE_BYTES)
    throw new RangeError('nonce: expected 12 bytes');
  if (
    !Number.isInteger(request.internalPort) ||
    request.internalPort < 1 ||
    request.internalPort > 0xffff
  )
    throw new RangeError(`internalPort: expected 1..65535, got ${request.internalPort}`);
  const bytes = new Uint8Array(PCP_HEADER_BYTES + PCP_MAP_PAYLOAD_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, PCP_VERSION);
  view.setUint8(1, PCP_OPCODE_MAP); // R = 0: a request
  view.setUint32(4, request.lifetimeSeconds);
  mappedIpv4(request.clientAddress, bytes, 8);
  bytes.set(request.nonce, 24);
  view.setUint8(36, UDP_PROTOCOL);
  view.setUint16(40, request.internalPort);
  // §11.1: suggested external port 0 (no preference) and the IPv4 all-zeros address.
  mappedIpv4(new Uint8Array(4), bytes, 44);
  return bytes;
}

/** A successful PCP MAP response (RFC 6887 §7.2, §11.1). */
export interface PcpMapAnswer extends GatewayAddressAnswer {
  readonly lifetimeSeconds: number;
  readonly externalPort: number;
}

/**
 * Decodes a PCP MAP response (RFC 6887 §7.2, §11.1): version 2, R bit and opcode MAP, result
 * code SUCCESS, our nonce, an IPv4-mapped assigned external address that can be a WAN address.
 * Options after the MAP payload (§7.3) are skipped. A version-0 answer is a NAT-PMP-only server
 * (§9) and throws `BAD_VERSION`. Throws {@link WanAnswerError}.
 * @example decodePcpMapResponse(bytes, { nonce }).address
 */
export function decodePcpMapResponse(
  bytes: Uint8Array,
  expected: { readonly nonce: Uint8Array },
): PcpMapAnswer {
  if (bytes.byteLength > PCP_MAX_MESSAGE_BYTES)
    throw new WanAnswerError(
      'TOO_LARGE',
      `PCP answer: at most 1100 bytes, got ${bytes.byteLength}`,
    );
  if (bytes.byteLength < 2)
    throw new WanAnswerError(
      'TRUNCATED',
      `PCP answer: expected ≥ 24 bytes, got ${bytes.byteLength}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== PCP_VERSION)
    throw new WanAnswerError('BAD_VERSION', `PCP answer: expected version 2, got ${version}`);
  if (bytes.byteLength < PCP_HEADER_BYTES || bytes.byteLength % 4 !== 0)
    throw new WanAnswerError(
      'TRUNCATED',
      `PCP answer: expected ≥ 24 bytes, a multiple of 4 (§7), got ${bytes.byteLength}`,
    );
  const opcode = view.getUint8(1);
  if (opcode !== (PCP_RESPONSE_BIT | PCP_OPCODE_MAP))
    throw new WanAnswerError(
      'BAD_OPCODE',
      `PCP answer: expected R=1 and opcode MAP (0x81), got 0x${opcode.toString(16)}`,
    );
  const result = view.getUint8(3);
  // RFC 6887 §7.4: e.g. 2 NOT_AUTHORIZED, 8 NO_RESOURCES, 11 CANNOT_PROVIDE_EXTERNAL.
  if (result !== RESULT_SUCCESS)
    throw new WanAnswerError('RESULT_CODE', `PCP answer: result code ${result}`);
  if (bytes.byteLength < PCP_HEADER_BYTES + PCP_MAP_PAYLOAD_BYTES)
    throw new WanAnswerError(
      'TRUNCATED',
      `PCP answer: MAP needs 60 bytes, got ${bytes.byteLength}`,
    );
  const nonce = bytes.subarray(24, 36);
  if (
    expected.nonce.byteLength !== PCP_NONCE_BYTES ||
    !nonce.every((b, i) => b === expected.nonce[i])
  )
    throw new WanAnswerError('BAD_NONCE', 'PCP answer: mapping nonce is not ours');
  const mapped = bytes.subarray(44, 60);
  if (!mapped.subarray(0, 10).every((b) => b === 0) || mapped[10] !== 0xff || mapped[11] !== 0xff)
    throw new WanAnswerError(
      'NOT_IPV4',
      'PCP answer: assigned external address is not IPv4-mapped',
    );
  const address = mapped.slice(12, 16);
  return {
    address,
    kind: acceptWanIpv4(address),
    lifetimeSeconds: view.getUint32(4),
    epochSeconds: view.getUint32(8),
    externalPort: view.getUint16(42),
  };
}

// ---- UPnP IGD: SSDP, description, SOAP -------------------------------------------------------------

/**
 * An SSDP M-SEARCH for `serviceType` (UDA 1.1 §1.3.2), MX 1 so that answers come within ~1 s.
 * @example encodeSsdpSearch(WAN_IP_SERVICE_TYPES[0])
 */
export function encodeSsdpSearch(serviceType: string): Uint8Array {
  return new TextEncoder().encode(
    [
      'M-SEARCH * HTTP/1.1',
      `HOST: ${SSDP_ADDRESS}:${SSDP_PORT}`,
      'MAN: "ssdp:discover"',
      'MX: 1',
      `ST: ${serviceType}`,
      '',
      '',
    ].join('\r\n'),
  );
}

/**
 * The LOCATION of an SSDP search answer (UDA 1.1 §1.3.3) for a WANIPConnection service:
 * `HTTP/1.1 200`, an ST that is one of {@link WAN_IP_SERVICE_TYPES}, and a LOCATION.
 * Throws {@link WanAnswerError}.
 * @example decodeSsdpResponse(bytes) // { location: 'http://192.168.1.1:5000/rootDesc.xml', serviceType }
 */
export function decodeSsdpResponse(bytes: Uint8Array): { location: string; serviceType: string } {
  if (bytes.byteLength > MAX_SSDP_RESPONSE_BYTES)
    throw new WanAnswerError(
      'TOO_LARGE',
      `SSDP answer: at most ${MAX_SSDP_RESPONSE_BYTES} bytes, got ${bytes.byteLength}`,
    );
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new WanAnswerError('BAD_HTTP', 'SSDP answer: not UTF-8');
  }
  const lines = text.split('\r\n');
  if (!/^HTTP\/1\.[01] 200\b/.test(lines[0] ?? ''))
    throw new WanAnswerError('BAD_HTTP', 'SSDP answer: not an HTTP/1.1 200 response');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new WanAnswerError('BAD_HTTP', 'SSDP answer: malformed header line');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name)) throw new WanAnswerError('BAD_HTTP', `SSDP answer: duplicate ${name}`);
    headers.set(name, line.slice(colon + 1).trim());
  }
  const serviceType = headers.get('st') ?? '';
  if (!(WAN_IP_SERVICE_TYPES as readonly string[]).includes(serviceType))
    throw new WanAnswerError('BAD_HTTP', 'SSDP answer: ST is not a WANIPConnection service');
  const location = headers.get('location');
  if (location === undefined || location === '')
    throw new WanAnswerError('BAD_HTTP', 'SSDP answer: no LOCATION');
  return { location, serviceType };
}

/**
 * Parses `url` and requires plain HTTP on the gateway's own address (any port): the agent never
 * fetches a host that a LAN datagram names. Throws `WRONG_HOST`.
 * @example assertGatewayUrl('http://192.168.1.1:5000/rootDesc.xml', '192.168.1.1')
 */
export function assertGatewayUrl(url: string, gateway: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WanAnswerError('WRONG_HOST', 'URL does not parse');
  }
  if (parsed.protocol !== 'http:')
    throw new WanAnswerError('WRONG_HOST', `URL scheme ${parsed.protocol} is not http:`);
  if (parsed.username !== '' || parsed.password !== '')
    throw new WanAnswerError('WRONG_HOST', 'URL carries credentials');
  if (parsed.hostname !== gateway)
    throw new WanAnswerError(
      'WRONG_HOST',
      `URL host ${parsed.hostname.slice(0, 64)} is not the gateway ${gateway}`,
    );
  return parsed;
}

function assertXmlText(text: string, what: string): void {
  // No DTDs or entity declarations: a description never needs them (and they are the XML bombs).
  if (/<!DOCTYPE|<!ENTITY/i.test(text))
    throw new WanAnswerError('BAD_XML', `${what}: DTDs are refused`);
  if (!/^\s*(<\?xml[^>]*\?>\s*)?</.test(text))
    throw new WanAnswerError('BAD_XML', `${what}: not XML`);
}

function unescapeXml(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}

/** The text of the first `<name>` element in `xml` (any namespace prefix), trimmed and unescaped. */
function elementText(xml: string, name: string): string | undefined {
  const match = new RegExp(
    `<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`,
  ).exec(xml);
  return match?.[1] === undefined ? undefined : unescapeXml(match[1].trim());
}

/**
 * The control URL of the first WANIPConnection service in a device description (UPnP IGD:
 * `<service><serviceType>…</serviceType><controlURL>…</controlURL></service>`), resolved against
 * `<URLBase>` or the description's own URL, and required to be on the gateway.
 * Throws {@link WanAnswerError}.
 * @example decodeDeviceDescription(xml, { location: 'http://192.168.1.1:5000/rootDesc.xml', gateway: '192.168.1.1' })
 */
export function decodeDeviceDescription(
  xml: string,
  context: { readonly location: string; readonly gateway: string },
): { controlUrl: string; serviceType: string } {
  if (xml.length > MAX_DESCRIPTION_BYTES)
    throw new WanAnswerError('TOO_LARGE', `description: at most ${MAX_DESCRIPTION_BYTES} bytes`);
  assertXmlText(xml, 'description');
  if (!/<root[\s>]/.test(xml) || !/<\/root\s*>/.test(xml))
    throw new WanAnswerError('BAD_XML', 'description: no <root> element');
  const base = elementText(xml, 'URLBase') ?? context.location;
  for (const block of xml.matchAll(/<service>([\s\S]*?)<\/service>/g)) {
    const body = block[1] ?? '';
    const serviceType = elementText(body, 'serviceType');
    if (
      serviceType === undefined ||
      !(WAN_IP_SERVICE_TYPES as readonly string[]).includes(serviceType)
    )
      continue;
    const control = elementText(body, 'controlURL');
    if (control === undefined || control === '')
      throw new WanAnswerError('BAD_XML', 'description: WANIPConnection without a controlURL');
    let resolved: string;
    try {
      resolved = new URL(control, base).href;
    } catch {
      throw new WanAnswerError('BAD_XML', 'description: controlURL does not resolve');
    }
    return { controlUrl: assertGatewayUrl(resolved, context.gateway).href, serviceType };
  }
  throw new WanAnswerError('BAD_XML', 'description: no WANIPConnection service');
}

/**
 * The SOAP request of GetExternalIPAddress (UPnP IGD WANIPConnection:1/:2 §2.4.18 / §2.5.20;
 * UDA 1.1 §3.2.1 for the envelope and the SOAPACTION header).
 * @example encodeGetExternalIpAddress(WAN_IP_SERVICE_TYPES[0]).soapAction
 */
export function encodeGetExternalIpAddress(serviceType: string): {
  body: string;
  soapAction: string;
} {
  return {
    soapAction: `"${serviceType}#GetExternalIPAddress"`,
    body:
      '<?xml version="1.0"?>\r\n' +
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
      's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' +
      `<u:GetExternalIPAddress xmlns:u="${serviceType}"></u:GetExternalIPAddress>` +
      '</s:Body></s:Envelope>\r\n',
  };
}

/**
 * The external address in a GetExternalIPAddressResponse envelope (`<NewExternalIPAddress>`):
 * a dotted IPv4 address that can be a WAN address. An empty value means the IGD has none
 * (IGD:2 WANIPConnection §2.5.20). Throws {@link WanAnswerError}.
 * @example decodeGetExternalIpAddressResponse(xml).address
 */
export function decodeGetExternalIpAddressResponse(xml: string): {
  address: Uint8Array;
  kind: WanAddressKind;
} {
  if (xml.length > MAX_SOAP_RESPONSE_BYTES)
    throw new WanAnswerError('TOO_LARGE', `SOAP answer: at most ${MAX_SOAP_RESPONSE_BYTES} bytes`);
  assertXmlText(xml, 'SOAP answer');
  if (!/GetExternalIPAddressResponse[\s>]/.test(xml))
    throw new WanAnswerError('BAD_XML', 'SOAP answer: no GetExternalIPAddressResponse');
  const text = elementText(xml, 'NewExternalIPAddress');
  if (text === undefined)
    throw new WanAnswerError('BAD_XML', 'SOAP answer: no NewExternalIPAddress');
  if (!isIPv4(text))
    throw new WanAnswerError(
      'NOT_IPV4',
      'SOAP answer: NewExternalIPAddress is not an IPv4 address',
    );
  const address = parseIp(text);
  if (address?.byteLength !== 4)
    throw new WanAnswerError('NOT_IPV4', 'SOAP answer: bad IPv4 address');
  return { address, kind: acceptWanIpv4(address) };
}

// ---- the default gateway ----------------------------------------------------------------------

const gatewayJson = z.array(
  z.looseObject({ dst: z.string(), gateway: z.string().optional(), type: z.string().optional() }),
);

/**
 * The gateway of the first unicast IPv4 default route in `ip -4 -json route show default`
 * output, or `undefined` (none, or an on-link default without a gateway).
 * @example parseIpv4Gateway('[{"dst":"default","gateway":"192.168.1.1","dev":"eth0"}]') // '192.168.1.1'
 */
export function parseIpv4Gateway(text: string): string | undefined {
  const routes = gatewayJson.parse(text.trim() === '' ? [] : JSON.parse(text));
  for (const route of routes)
    if (
      route.dst === 'default' &&
      (route.type === undefined || route.type === 'unicast') &&
      route.gateway !== undefined &&
      isIPv4(route.gateway)
    )
      return route.gateway;
  return undefined;
}

// ---- the shell: asking the gateway ------------------------------------------------------------

/** Which protocol told us the WAN address. */
export type WanAddressMethod = 'pcp' | 'nat-pmp' | 'upnp';

/** The answer of {@link discoverWanAddress}. */
export interface WanAddress {
  readonly address: string;
  readonly via: WanAddressMethod;
  /** `cgn`: the gateway's WAN side is itself in RFC 6598 space (carrier-grade NAT). */
  readonly kind: WanAddressKind;
}

/** Options of {@link discoverWanAddress}. */
export interface DiscoverWanAddressOptions {
  /** Everything ends by then (sockets closed, fetches aborted). */
  readonly timeoutMs?: number;
  /** RFC 6886 §3.1 first retransmission interval, doubled each try. */
  readonly initialRetransmitMs?: number;
  /** Datagrams sent per protocol (PCP, NAT-PMP). */
  readonly tries?: number;
  /** How long SSDP answers are awaited. */
  readonly ssdpWaitMs?: number;
  /** The gateway's PCP/NAT-PMP port (tests only). */
  readonly pcpPort?: number;
  /** Where M-SEARCH goes (tests may use a unicast address). */
  readonly ssdpAddress?: string;
  readonly ssdpPort?: number;
  /** The methods to try, in order of preference; default all three. */
  readonly methods?: readonly WanAddressMethod[];
  /** PCP MAP lifetime: short, and deleted again after the answer (RFC 6887 §15). */
  readonly pcpLifetimeSeconds?: number;
  readonly random?: (length: number) => Uint8Array;
  /** Told why each method that did not answer failed (for the log). */
  readonly onFailure?: (via: WanAddressMethod, reason: string) => void;
}

/** Defaults of {@link discoverWanAddress}. */
export const WAN_ADDRESS_DEFAULTS = Object.freeze({
  // The three run side by side: 250 + 500 + 1000 ms for PCP and NAT-PMP (RFC 6886 §3.1
  // schedule, cut to 3 tries), SSDP 1.2 s then two HTTP requests; 2.5 s bounds all of it.
  timeoutMs: 2_500,
  initialRetransmitMs: 250,
  tries: 3,
  ssdpWaitMs: 1_200,
  pcpLifetimeSeconds: 120,
  methods: ['pcp', 'nat-pmp', 'upnp'] as readonly WanAddressMethod[],
});

function reasonOf(err: unknown): string {
  if (err instanceof WanAnswerError) return `${err.code}: ${err.message}`;
  if (err instanceof Error)
    return err.name === 'AbortError' || err.name === 'TimeoutError'
      ? 'no answer in time'
      : err.message;
  return String(err);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

/** Opens a udp4 socket connected to `host:port`; resolves once connected. */
function connectUdp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const onError = (err: Error): void => {
      closeQuietly(socket);
      reject(err);
    };
    socket.once('error', onError);
    socket.connect(port, host, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Sends `request` on a connected socket with the RFC 6886 §3.1 schedule (250 ms, doubling,
 * `tries` times) and resolves with the first datagram `accept` takes; rejects with the last
 * refusal (or "no answer") once the schedule or `signal` ends.
 */
function exchange<T>(
  socket: Socket,
  request: Uint8Array,
  options: {
    tries: number;
    initialMs: number;
    signal: AbortSignal;
    accept: (bytes: Uint8Array) => T;
  },
): Promise<T> {
  return new Promise((resolve, reject) => {
    let lastError = new Error('no answer in time');
    let timer: NodeJS.Timeout | undefined;
    let sent = 0;
    const finish = (fn: () => void): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.removeAllListeners('message');
      socket.removeAllListeners('error');
      options.signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      finish(() => {
        reject(lastError);
      });
    };
    const send = (): void => {
      if (sent >= options.tries) {
        finish(() => {
          reject(lastError);
        });
        return;
      }
      const wait = options.initialMs * 2 ** sent;
      sent += 1;
      try {
        socket.send(request, (err) => {
          if (err !== null) lastError = err;
        });
      } catch (err) {
        lastError = asError(err);
      }
      timer = setTimeout(send, wait);
    };
    socket.on('message', (bytes: Buffer) => {
      try {
        const answer = options.accept(new Uint8Array(bytes));
        finish(() => {
          resolve(answer);
        });
      } catch (err) {
        lastError = asError(err);
        // RFC 6886 §3.5 / RFC 6887 §9: a version refusal is final; other bad answers may be
        // stale or spoofed, so the schedule carries on.
        if (
          err instanceof WanAnswerError &&
          (err.code === 'BAD_VERSION' || err.code === 'RESULT_CODE')
        )
          finish(() => {
            reject(lastError);
          });
      }
    });
    // On a connected socket an ICMP port unreachable arrives as ECONNREFUSED: nobody listens.
    socket.on('error', (err) => {
      lastError = err;
      finish(() => {
        reject(lastError);
      });
    });
    if (options.signal.aborted) {
      onAbort();
      return;
    }
    options.signal.addEventListener('abort', onAbort);
    send();
  });
}

async function askPcp(
  gateway: string,
  o: ResolvedOptions,
  signal: AbortSignal,
): Promise<WanAddress> {
  const socket = await connectUdp(gateway, o.pcpPort);
  try {
    const local = socket.address();
    const clientAddress = parseIp(local.address);
    if (clientAddress?.byteLength !== 4)
      throw new Error(`local address ${local.address} is not IPv4`);
    const nonce = o.random(PCP_NONCE_BYTES);
    const request = {
      clientAddress,
      nonce,
      internalPort: local.port,
      lifetimeSeconds: o.pcpLifetimeSeconds,
    };
    const answer = await exchange(socket, encodePcpMapRequest(request), {
      tries: o.tries,
      initialMs: o.initialRetransmitMs,
      signal,
      accept: (bytes) => decodePcpMapResponse(bytes, { nonce }),
    });
    // RFC 6887 §15: a MAP with lifetime 0 and the same nonce deletes the mapping; best effort.
    await new Promise<void>((resolve) => {
      socket.once('error', () => {
        resolve();
      });
      socket.send(encodePcpMapRequest({ ...request, lifetimeSeconds: 0 }), () => {
        resolve();
      });
    });
    return { address: formatIp(answer.address), via: 'pcp', kind: answer.kind };
  } finally {
    closeQuietly(socket);
  }
}

async function askNatPmp(
  gateway: string,
  o: ResolvedOptions,
  signal: AbortSignal,
): Promise<WanAddress> {
  const socket = await connectUdp(gateway, o.pcpPort);
  try {
    const answer = await exchange(socket, encodeNatPmpAddressRequest(), {
      tries: o.tries,
      initialMs: o.initialRetransmitMs,
      signal,
      accept: decodeNatPmpAddressResponse,
    });
    return { address: formatIp(answer.address), via: 'nat-pmp', kind: answer.kind };
  } finally {
    closeQuietly(socket);
  }
}

/** The local IPv4 address the kernel would use towards `gateway` (the LAN interface's). */
async function localAddressTowards(gateway: string, port: number): Promise<string> {
  const socket = await connectUdp(gateway, port);
  try {
    return socket.address().address;
  } finally {
    closeQuietly(socket);
  }
}

function searchSsdp(
  gateway: string,
  o: ResolvedOptions,
  signal: AbortSignal,
  localAddress: string,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const locations = new Set<string>();
    let refused: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener('abort', done);
      closeQuietly(socket);
      if (locations.size > 0) resolve([...locations]);
      else reject(refused ?? new Error('no SSDP answer from the gateway'));
    };
    socket.on('error', (err) => {
      refused = err;
      done();
    });
    socket.on('message', (bytes: Buffer, from: RemoteInfo) => {
      // Only the gateway's own answers count (any other LAN host could claim to be the IGD).
      if (from.address !== gateway || locations.size >= MAX_SSDP_ANSWERS) return;
      try {
        const { location } = decodeSsdpResponse(new Uint8Array(bytes));
        assertGatewayUrl(location, gateway);
        locations.add(location);
      } catch (err) {
        refused = asError(err);
      }
    });
    socket.bind(0, localAddress, () => {
      try {
        // UDA 1.1 §1.1.2: M-SEARCH goes out of the LAN interface with a TTL of 2.
        socket.setMulticastInterface(localAddress);
        socket.setMulticastTTL(2);
      } catch (err) {
        refused = asError(err);
      }
      for (const type of WAN_IP_SERVICE_TYPES)
        try {
          socket.send(encodeSsdpSearch(type), o.ssdpPort, o.ssdpAddress, (err) => {
            if (err !== null) refused = err;
          });
        } catch (err) {
          refused = asError(err);
        }
      timer = setTimeout(done, o.ssdpWaitMs);
      if (signal.aborted) done();
      else signal.addEventListener('abort', done);
    });
  });
}

/** Fetches `url` with a size cap and no redirects; resolves with the body text. */
async function fetchCapped(
  url: string,
  init: {
    method: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    signal: AbortSignal;
  },
  maxBytes: number,
): Promise<string> {
  const response = await fetch(url, { ...init, redirect: 'error' });
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > maxBytes) {
    await response.body?.cancel();
    throw new WanAnswerError(
      'TOO_LARGE',
      `${init.method} ${new URL(url).pathname}: ${length} bytes, at most ${maxBytes}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new WanAnswerError(
      'BAD_HTTP',
      `${init.method} ${new URL(url).pathname}: HTTP ${response.status}`,
    );
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body?.getReader();
  for (
    let read = await reader?.read();
    read !== undefined && !read.done;
    read = await reader?.read()
  ) {
    const chunk: unknown = read.value;
    if (!(chunk instanceof Uint8Array))
      throw new WanAnswerError('BAD_HTTP', 'response body is not bytes');
    total += chunk.byteLength;
    if (total > maxBytes) {
      await reader?.cancel().catch(() => undefined);
      throw new WanAnswerError(
        'TOO_LARGE',
        `${init.method} ${new URL(url).pathname}: more than ${maxBytes} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function askUpnp(
  gateway: string,
  o: ResolvedOptions,
  signal: AbortSignal,
): Promise<WanAddress> {
  const local = await localAddressTowards(gateway, o.ssdpPort);
  const locations = await searchSsdp(gateway, o, signal, local);
  let lastError = new Error('no usable IGD description');
  for (const location of locations) {
    try {
      const description = await fetchCapped(
        location,
        { method: 'GET', signal },
        MAX_DESCRIPTION_BYTES,
      );
      const { controlUrl, serviceType } = decodeDeviceDescription(description, {
        location,
        gateway,
      });
      const request = encodeGetExternalIpAddress(serviceType);
      const reply = await fetchCapped(
        controlUrl,
        {
          method: 'POST',
          headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: request.soapAction },
          body: request.body,
          signal,
        },
        MAX_SOAP_RESPONSE_BYTES,
      );
      const answer = decodeGetExternalIpAddressResponse(reply);
      return { address: formatIp(answer.address), via: 'upnp', kind: answer.kind };
    } catch (err) {
      lastError = asError(err);
    }
  }
  throw lastError;
}

interface ResolvedOptions {
  readonly timeoutMs: number;
  readonly initialRetransmitMs: number;
  readonly tries: number;
  readonly ssdpWaitMs: number;
  readonly pcpPort: number;
  readonly ssdpAddress: string;
  readonly ssdpPort: number;
  readonly methods: readonly WanAddressMethod[];
  readonly pcpLifetimeSeconds: number;
  readonly random: (length: number) => Uint8Array;
}

/**
 * Asks `gateway` (an IPv4 address) for the home's WAN address by PCP MAP, NAT-PMP and UPnP IGD
 * at once, and resolves with the answer of the most preferred method that gave one (PCP, then
 * NAT-PMP, then UPnP), or `undefined`. Never rejects; ends within `timeoutMs`; closes every socket.
 * @example const wan = await discoverWanAddress('192.168.1.1', { onFailure: (via, why) => log(via, why) });
 */
export async function discoverWanAddress(
  gateway: string,
  options: DiscoverWanAddressOptions = {},
): Promise<WanAddress | undefined> {
  const o: ResolvedOptions = {
    timeoutMs: options.timeoutMs ?? WAN_ADDRESS_DEFAULTS.timeoutMs,
    initialRetransmitMs: options.initialRetransmitMs ?? WAN_ADDRESS_DEFAULTS.initialRetransmitMs,
    tries: options.tries ?? WAN_ADDRESS_DEFAULTS.tries,
    ssdpWaitMs: options.ssdpWaitMs ?? WAN_ADDRESS_DEFAULTS.ssdpWaitMs,
    pcpPort: options.pcpPort ?? PCP_SERVER_PORT,
    ssdpAddress: options.ssdpAddress ?? SSDP_ADDRESS,
    ssdpPort: options.ssdpPort ?? SSDP_PORT,
    methods: options.methods ?? WAN_ADDRESS_DEFAULTS.methods,
    pcpLifetimeSeconds: options.pcpLifetimeSeconds ?? WAN_ADDRESS_DEFAULTS.pcpLifetimeSeconds,
    random: options.random ?? ((n) => new Uint8Array(randomBytes(n))),
  };
  const onFailure = options.onFailure ?? ((): void => undefined);
  if (!isIPv4(gateway)) {
    for (const via of o.methods)
      onFailure(via, `gateway ${gateway.slice(0, 64)} is not an IPv4 address`);
    return undefined;
  }
  const controller = new AbortController();
  const deadline = setTimeout(() => {
    controller.abort();
  }, o.timeoutMs);
  const ask = { pcp: askPcp, 'nat-pmp': askNatPmp, upnp: askUpnp } as const;
  let chosen = false;
  const attempts = o.methods.map((via) =>
    ask[via](gateway, o, controller.signal).then(
      (found) => found,
      (err: unknown) => {
        // Methods cut short because a preferred one answered are not failures.
        if (!chosen) onFailure(via, reasonOf(err));
        return undefined;
      },
    ),
  );
  try {
    // Preference order, without waiting for a less preferred method once a better one answered.
    for (const attempt of attempts) {
      const found = await attempt;
      if (found !== undefined) {
        chosen = true;
        return found;
      }
    }
    return undefined;
  } finally {
    controller.abort();
    clearTimeout(deadline);
    await Promise.allSettled(attempts);
  }
}

// ---- the cache -----------------------------------------------------------------------------------

/** What {@link WanAddressCache.lookup} resolves with. */
export interface WanLookup {
  readonly gateway: string | undefined;
  readonly found?: WanAddress;
  /** Why there is no address (for the `advisory` log). */
  readonly reason?: string;
}

/** Remembers the gateway's answer; asks again when the gateway changes or the answer is old. */
export interface WanAddressCache {
  lookup(gateway: string | undefined): Promise<WanLookup>;
}

/** Options of {@link createWanAddressCache}. */
export interface WanAddressCacheOptions {
  readonly discover?: typeof discoverWanAddress;
  readonly discoverOptions?: DiscoverWanAddressOptions;
  readonly nowMs?: () => number;
  /** An answer is asked again after this long (the issue: every hour). */
  readonly maxAgeMs?: number;
  /** "No answer" is asked again sooner: a gateway may still have been booting. */
  readonly retryFailedMs?: number;
}

/** Defaults of {@link createWanAddressCache}. */
export const WAN_CACHE_DEFAULTS = Object.freeze({ maxAgeMs: 3_600_000, retryFailedMs: 300_000 });

/**
 * A one-entry cache (the current gateway) in front of {@link discoverWanAddress}; concurrent
 * lookups share one discovery.
 * @example const cache = createWanAddressCache(); const { found } = await cache.lookup('192.168.1.1');
 */
export function createWanAddressCache(options: WanAddressCacheOptions = {}): WanAddressCache {
  const discover = options.discover ?? discoverWanAddress;
  const nowMs = options.nowMs ?? ((): number => performance.now());
  const maxAgeMs = options.maxAgeMs ?? WAN_CACHE_DEFAULTS.maxAgeMs;
  const retryFailedMs = options.retryFailedMs ?? WAN_CACHE_DEFAULTS.retryFailedMs;
  let entry: { gateway: string; atMs: number; result: Promise<WanLookup> } | undefined;

  function ask(gateway: string): Promise<WanLookup> {
    const reasons: string[] = [];
    return discover(gateway, {
      ...options.discoverOptions,
      onFailure: (via, reason) => reasons.push(`${via}: ${reason}`),
    }).then(
      (found): WanLookup =>
        found === undefined
          ? { gateway, reason: `no answer from gateway ${gateway} (${reasons.join('; ')})` }
          : { gateway, found },
      (err: unknown): WanLookup => ({
        gateway,
        reason: `asking gateway ${gateway} failed: ${reasonOf(err)}`,
      }),
    );
  }

  return {
    async lookup(gateway) {
      if (gateway === undefined) return { gateway, reason: 'no IPv4 default gateway' };
      if (entry?.gateway === gateway) {
        const previous = await entry.result;
        const ageMs = nowMs() - entry.atMs;
        if (ageMs < (previous.found === undefined ? retryFailedMs : maxAgeMs)) return previous;
      }
      const result = ask(gateway);
      entry = { gateway, atMs: nowMs(), result };
      return result;
    },
  };
}

// ---- the network-monitor wrapper (the daemon's hook) -------------------------------------------

/** Options of {@link withWanAddress}. */
export interface WithWanAddressOptions {
  readonly cache?: WanAddressCache;
  /** Runs `ip` for the default gateway; default `ip` from PATH. */
  readonly exec?: IpExec;
  /** Told when the outcome changes (the daemon logs the `wan_address` event). */
  readonly onOutcome: (outcome: WanLookup) => void;
  /** How often the gateway is asked again while nothing else changes (the cache decides). */
  readonly recheckMs?: number;
}

/**
 * Wraps a {@link NetworkMonitor} so that each view with a default route and no public IPv4 of
 * its own carries `wanIpv4` as learned from the IPv4 default gateway ([P-8.5-4]); views are
 * delivered in order, each after its (bounded) lookup, so `start` resolves before the first view.
 * @example const network = withWanAddress(createNetworkMonitor(), { onOutcome: (o) => log(o) });
 */
export function withWanAddress(
  inner: NetworkMonitor,
  options: WithWanAddressOptions,
): NetworkMonitor {
  const cache = options.cache ?? createWanAddressCache();
  const exec = options.exec ?? createIpExec();
  const recheckMs = options.recheckMs ?? WAN_CACHE_DEFAULTS.retryFailedMs;
  let chain: Promise<void> = Promise.resolve();
  let lastInner: NetworkView | undefined;
  let delivered: { view: NetworkView; wan: string } | undefined;
  let outcomeKey: string | undefined;
  let recheck: NodeJS.Timeout | undefined;
  let stopped = false;

  async function enrich(view: NetworkView): Promise<NetworkView> {
    if (!view.hasDefaultRoute || view.wanIpv4 !== undefined) return view;
    let gateway: string | undefined;
    let lookup: WanLookup;
    try {
      gateway = parseIpv4Gateway(await exec(['-4', '-json', 'route', 'show', 'default']));
      lookup = await cache.lookup(gateway);
    } catch (err) {
      lookup = { gateway, reason: `reading the IPv4 default route failed: ${reasonOf(err)}` };
    }
    const key =
      lookup.found === undefined
        ? `advisory ${lookup.reason ?? ''}`
        : `${lookup.found.via} ${lookup.found.address}`;
    if (key !== outcomeKey) {
      outcomeKey = key;
      options.onOutcome(lookup);
    }
    const wan = lookup.found === undefined ? undefined : parseIp(lookup.found.address);
    return wan === undefined ? view : { ...view, wanIpv4: wan };
  }

  function deliver(
    view: NetworkView,
    onChange: (view: NetworkView) => void,
    cause: 'monitor' | 'recheck',
  ): Promise<void> {
    chain = chain.then(async () => {
      const enriched = await enrich(view);
      const wan = enriched.wanIpv4 === undefined ? '' : formatIp(enriched.wanIpv4);
      // A recheck reports only a changed WAN address; the monitor's own views always pass.
      if (stopped || (cause === 'recheck' && delivered?.view === view && delivered.wan === wan))
        return;
      delivered = { view, wan };
      onChange(enriched);
    });
    return chain;
  }

  return {
    async start(onChange) {
      await inner.start((view) => {
        lastInner = view;
        void deliver(view, onChange, 'monitor');
      });
      // Not `await chain`: the daemon's start (and its signal handlers) must not wait up to
      // timeoutMs for the gateway; the first view follows once its look-up ends.
      recheck = setInterval(() => {
        if (lastInner !== undefined) void deliver(lastInner, onChange, 'recheck');
      }, recheckMs);
      recheck.unref();
    },
    refresh: () => inner.refresh(),
    stop() {
      stopped = true;
      if (recheck !== undefined) clearInterval(recheck);
      inner.stop();
    },
  };
}

/**
 * Logs a {@link WanLookup} as the `wan_address` event: which method answered (and a CGN mark),
 * or that the IPv4 scope check is advisory and why ([P-8.5-4]).
 * @example logWanOutcome(log, { gateway: '192.168.1.1', found: { address: '81.0.0.2', via: 'pcp', kind: 'public' } })
 */
export function logWanOutcome(log: LogSink, outcome: WanLookup): void {
  const gateway = outcome.gateway ?? null;
  if (outcome.found === undefined) {
    log('warn', 'wan_address', `IPv4 scope check advisory: ${outcome.reason ?? 'no WAN address'}`, {
      advisory: true,
      gateway,
    });
    return;
  }
  const { address, via, kind } = outcome.found;
  const cgn = kind === 'cgn' ? ' (carrier-grade NAT space, RFC 6598)' : '';
  log(
    'info',
    'wan_address',
    `WAN address ${address}${cgn} from gateway ${gateway ?? '?'} via ${via}`,
    {
      via,
      address,
      kind,
      gateway,
    },
  );
}
