/**
 * Every size limit of wire format v1, each derived where it is declared (docs/protocol.md §3).
 * @module
 */

/** The wire format version every message and document carries ([P-2.4-1]). */
export const WIRE_VERSION = 1;

/**
 * Every request datagram (UDP payload) is exactly this long, whatever its kind ([P-3-1]):
 * the IPv6 minimum MTU 1280 − 40 (IPv6 header) − 8 (UDP header) = 1232, the largest UDP payload
 * that crosses any IPv6 path unfragmented (RFC 8200 §5). Answers must fit in it (BAF ≤ 1).
 */
export const REQUEST_BYTES = 1232;

/** Bytes of CoAP framing before the CBOR payload of a Tattler request with an 8-byte token:
 * 4 (header) + 8 (token) + 2 (Uri-Path, one 1-byte segment) + 2 (Content-Format 60) + 1 (0xFF). */
export const REQUEST_COAP_OVERHEAD_BYTES = 17;

/** Bytes of CoAP framing before the CBOR payload of an answer with an 8-byte token:
 * 4 (header) + 8 (token) + 2 (Content-Format 60) + 1 (0xFF). */
export const RESPONSE_COAP_OVERHEAD_BYTES = 15;

/** The CBOR budget of any answer: 1232 − 15 = 1217 bytes. */
export const MAX_RESPONSE_CBOR_BYTES = REQUEST_BYTES - RESPONSE_COAP_OVERHEAD_BYTES;

/**
 * The padding bstr is never shorter than 256 bytes, so its CBOR header is always 3 bytes and every
 * body size has exactly one padding length (a 0..255-byte pad would leave sizes that no pad can
 * reach: a 24-byte or a 256-byte bstr each costs one header byte more).
 */
export const MIN_PAD_BYTES = 256;

/**
 * The largest request body (the map in the request array): 1232 − 17 (CoAP) − 3 (array header,
 * version, kind) − 3 (pad header) − 256 (minimum pad) = 953 bytes.
 */
export const MAX_REQUEST_BODY_BYTES =
  REQUEST_BYTES - REQUEST_COAP_OVERHEAD_BYTES - 3 - 3 - MIN_PAD_BYTES;

/** Nonce size: 16 bytes = 128 bits, inside EAT's 8..64 (RFC 9711 eat_nonce). */
export const NONCE_BYTES = 16;

/** Longest canonical vendor or model name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;
/** Longest version string (software or hardware), in UTF-8 bytes. */
export const MAX_VERSION_BYTES = 64;
/** Longest software name (EAT swname), in UTF-8 bytes. */
export const MAX_SWNAME_BYTES = 64;
/** Longest CPE 2.3 formatted string, MUD URL or SBOM URL, in UTF-8 bytes. */
export const MAX_URI_BYTES = 255;
/** Longest advisory identifier sent as text (CVE, GHSA, vendor ids), in UTF-8 bytes. */
export const MAX_ADVISORY_ID_BYTES = 48;
/** Longest host name (RFC 1035 §2.3.4: 253 characters in text form). */
export const MAX_HOST_BYTES = 253;
/** Longest operator name in a key certificate or policy document. */
export const MAX_OPERATOR_BYTES = 64;

/** Private-mode bucket prefix: the first 12 bits of the model hash, sent as 2 bytes (low 4 bits 0). */
export const BUCKET_PREFIX_BITS = 12;
/** Number of buckets: 2^12. */
export const BUCKET_COUNT = 1 << BUCKET_PREFIX_BITS;
/** A bucket entry's tag: the first 6 bytes of the model hash (see protocol.md §6.3 for the odds). */
export const BUCKET_TAG_BYTES = 6;
/** Most pages one bucket may span. */
export const MAX_BUCKET_PAGES = 16;

/** Ranges, fixed versions and advisories per feed record are bounded by its size, not by count. */
export const MAX_RECORD_ADVISORIES = 16;
/** Fixed versions listed per feed record. */
export const MAX_RECORD_FIXED = 8;
/** Remediation hosts per feed record (the cap: 4 names). */
export const MAX_REMEDIATION_HOSTS = 4;
/** Hardware versions listed per feed record. */
export const MAX_RECORD_HW_VERSIONS = 8;
/** Intervals in one range set. */
export const MAX_INTERVALS = 128;
/** Advisory ids per bucket entry (more go into further entries with the same tag). */
export const MAX_ENTRY_ADVISORIES = 2;

/**
 * Largest encoded (tagged) COSE_Sign1 of a policy document; the rest of a private answer is for
 * the bucket document: 1217 − 3 (array header, version, kind) − 17 (echoed nonce) − 200 = 997.
 */
export const MAX_POLICY_BYTES = 200;
/** Largest encoded (tagged) COSE_Sign1 of a bucket document page. */
export const MAX_BUCKET_BYTES = MAX_RESPONSE_CBOR_BYTES - 3 - 17 - MAX_POLICY_BYTES;
/**
 * Largest encoded bucket entry. A page holds ⌊(997 − 90 COSE − 40 page fields) / 56⌋ = 15
 * entries of this worst size, and ~20 of a typical one (one interval, one fix, one CVE).
 */
export const MAX_BUCKET_ENTRY_BYTES = 56;

/**
 * Largest encoded (tagged) COSE_Sign1 of a feed record, so that a FAIL verdict carrying it fits:
 * 1217 − 3 (response array) − 90 (verdict COSE) − 74 (verdict fields with two IPv6 addresses)
 * = 1050. A product with more ranges is published as several records ([P-6.2-4]).
 */
export const MAX_FEED_RECORD_BYTES = 1050;

/** Largest encoded (tagged) COSE_Sign1 of a key certificate: it must fit an answer. */
export const MAX_CERTIFICATE_BYTES = MAX_RESPONSE_CBOR_BYTES - 3;
/** Largest encoded (tagged) COSE_Sign of a root document: it must fit an answer. */
export const MAX_ROOT_BYTES = MAX_RESPONSE_CBOR_BYTES - 3;
/** Root keys per root document. */
export const MAX_ROOT_KEYS = 5;
/** Feed or registry keys per root document. */
export const MAX_ROLE_KEYS = 4;
/** Address prefixes per key certificate. */
export const MAX_SCOPE_PREFIXES = 16;
/** Longest key certificate validity: 7 days (revocation is expiry). */
export const MAX_CERTIFICATE_VALIDITY_SECONDS = 7 * 24 * 3600;
