/**
 * Typed access to the fields of one untrusted JSON record (NVD, KEV, OSV, CSAF): every accessor throws
 * `FeedError('BAD_RECORD')` naming the file, the record and the JSON path of the bad field.
 * @module
 */
import { canonicalName, isProtocolError } from '../protocol/index.ts';
import { FeedError } from './types.ts';
import { canonicalVendor } from './vendor-aliases.ts';

/** Where a record came from: its file and its id or JSON path (`$.vulnerabilities[12]`). */
export interface RecordLocation {
  readonly file: string;
  readonly record: string;
}

/** A parsed JSON object. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** A short description of a JSON value for error messages (its type, or a clipped string). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `string ${JSON.stringify(value.slice(0, 40))}` : typeof value;
}

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `path`, or `BAD_RECORD`. */
export function asObject(value: unknown, where: RecordLocation, path: string): JsonObject {
  if (!isJsonObject(value)) throw new FeedError('BAD_RECORD', where, `${path}: expected an object, got ${describeValue(value)}`);
  return value;
}

/** The array at `path`, or `BAD_RECORD`. */
export function asArray(value: unknown, where: RecordLocation, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new FeedError('BAD_RECORD', where, `${path}: expected an array, got ${describeValue(value)}`);
  return value;
}

/** The array at `path`, or an empty array when the field is absent. */
export function optionalArray(value: unknown, where: RecordLocation, path: string): readonly unknown[] {
  return value === undefined ? [] : asArray(value, where, path);
}

/** The non-empty string at `path`, or `BAD_RECORD`. */
export function asString(value: unknown, where: RecordLocation, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new FeedError('BAD_RECORD', where, `${path}: expected a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** The string at `path`, `null` when absent or null, or `BAD_RECORD` for any other type. */
export function optionalString(value: unknown, where: RecordLocation, path: string): string | null {
  return value === undefined || value === null ? null : asString(value, where, path);
}

// CVE ids (cve.org ID syntax): "CVE-", a 4-digit year, "-", 4 or more digits.
const CVE_ID = /^CVE-\d{4}-\d{4,}$/;

/** True for a well-formed CVE id. */
export function isCveId(value: string): boolean {
  return CVE_ID.test(value);
}

/** The CVE id at `path`, or `BAD_RECORD`. */
export function asCveId(value: unknown, where: RecordLocation, path: string): string {
  const id = asString(value, where, path);
  if (!isCveId(id)) throw new FeedError('BAD_RECORD', where, `${path}: expected a CVE id CVE-YYYY-NNNN, got ${describeValue(id)}`);
  return id;
}

// ISO 8601 calendar date, optionally with a time and a zone (RFC 3339 §5.6 plus date-only form).
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** The ISO 8601 date or date-time at `path` (a real calendar day), or `BAD_RECORD`. */
export function asIsoDate(value: unknown, where: RecordLocation, path: string): string {
  const text = asString(value, where, path);
  const m = ISO_DATE.exec(text);
  const [year, month, day] = m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (m === null || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new FeedError('BAD_RECORD', where, `${path}: expected an ISO 8601 date, got ${describeValue(text)}`);
  }
  return text;
}

/** The ISO date at `path`, `null` when absent, or `BAD_RECORD`. */
export function optionalIsoDate(value: unknown, where: RecordLocation, path: string): string | null {
  return value === undefined || value === null ? null : asIsoDate(value, where, path);
}

/** Runs a canonicalisation, turning its ProtocolError (nothing left, too long) into `BAD_RECORD` at `path`. */
function canonicalOrFail(canonicalise: () => string, where: RecordLocation, path: string): string {
  try {
    return canonicalise();
  } catch (error) {
    if (isProtocolError(error)) throw new FeedError('BAD_RECORD', where, `${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * The canonical form of a model name for the feed ([P-4.1-1]); `BAD_RECORD` when nothing is left
 * or it is too long. Vendor names go through {@link toVendorKey} instead.
 */
export function toNameKey(name: string, where: RecordLocation, path: string): string {
  return canonicalOrFail(() => canonicalName(name), where, path);
}

/**
 * The canonical vendor of a source vendor name (`D-Link Systems, Inc.` → `dlink`): canonicalName,
 * then the maintained alias table (vendor-aliases.ts), so CSAF, OSV and NVD rows of one vendor share
 * its key; `BAD_RECORD` when nothing is left or it is too long. Configured aliases apply when the
 * feed is read (FeedReader.canonicalVendor) and published.
 */
export function toVendorKey(name: string, where: RecordLocation, path: string): string {
  return canonicalOrFail(() => canonicalVendor(name), where, path);
}
