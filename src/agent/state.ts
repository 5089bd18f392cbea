/**
 * The device agent's persisted state (docs/agent.md): JSON-safe plain data with a version, and
 * its strict codec. The file is read from disk, so `decodeState` treats it as untrusted input.
 * @module
 */
import {
  MAX_CERTIFICATE_BYTES,
  REFUSAL_CODES,
  type RefusalCode,
  type Status,
} from '../protocol/index.ts';

/** The persisted state's format version; any other is refused (`BAD_VERSION`). */
export const STATE_VERSION = 1;

/**
 * Largest state file accepted: 16 KiB. The largest legal state is about 16,100 bytes: ~6 KiB
 * (64 advisories × 48 bytes twice, 4 hosts × 253 bytes, a 256-byte reason, 30 refusal counters ×
 * ~40 bytes) and 4 certificates × (2 × 1214 hex digits + 3) = 9,724 bytes. Real certificates are
 * ~200 bytes. The owner's facts of a FAIL add ≤ 8 fixed versions × (64 + 3) bytes plus ~60 bytes
 * of keys and numbers = ~600 bytes, so 16 KiB + 1 KiB.
 */
export const MAX_STATE_BYTES = 17_408;
/** Key certificates kept from certificate queries ([P-8.7-4]): one per collector key in use, rounded up. */
export const MAX_STATE_CERTIFICATES = 4;
/** Advisories of one FAIL: a record has ≤ 16; a private FAIL unions ≤ 20 entries × 2 on one page, rounded up. */
export const MAX_STATE_ADVISORIES = 64;
/** Remediation host names of one FAIL: the record's ≤ 4 ([P-6.2-3]) or the configured ones. */
export const MAX_STATE_HOSTS = 4;
/** Fixed versions kept of one FAIL: a record carries at most 8 (MAX_RECORD_FIXED). */
export const MAX_STATE_FIXED_VERSIONS = 8;
/** Bytes of an override reason, as the owner typed it. */
export const MAX_REASON_BYTES = 256;
/** Bytes of an advisory id, version or host name (the wire limits: 48, 64, 253). */
const MAX_TEXT_BYTES = 253;
/** Largest lifetime checkpoint: the verdict maximum, 45 days ([P-6.1]); an override may be a year. */
const MAX_REMAINING_SECONDS = 366 * 86_400;

/** Why a state file was refused. */
export const STATE_ERROR_CODES = ['TOO_LARGE', 'BAD_JSON', 'BAD_VERSION', 'BAD_FIELD'] as const;
/** A code from {@link STATE_ERROR_CODES}. */
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

/** A persisted state was refused; the message names the field, what was expected and what arrived. */
export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A refusal code of the acceptance rule, or `MALFORMED` for an answer that did not decode. */
export type AnswerProblem = RefusalCode | 'MALFORMED';
const PROBLEMS: readonly string[] = [...REFUSAL_CODES, 'MALFORMED'];

/** The FAIL in force: what it was for, what to keep reachable, and the lifetime left at the last checkpoint. */
export interface PersistedFail {
  readonly mode: 'identified' | 'private';
  readonly advisories: readonly string[];
  /** Host names of the vendor's update hosts (record key 10, or configured for the private form). */
  readonly remediationHosts: readonly string[];
  /** The device's software version when the FAIL was accepted: a signed PASS for another one lifts it. */
  readonly swVersion: string;
  /** Seconds left at the last checkpoint, rounded up ([P-8.3-6]). */
  readonly remainingSeconds: number;
  /**
   * Highest CVSS base score × 10 (0..100) of the record, or of the bucket entries that matched;
   * absent when the feed gave none (and in files written before it was kept).
   */
  readonly cvss10?: number;
  /** True when the record, or any matched bucket entry, is in CISA KEV; absent in older files. */
  readonly kev?: boolean;
  /** Versions that fix it (the record's, or the union of the matched entries'); absent when none. */
  readonly fixedVersions?: readonly string[];
  /** When the FAIL was first accepted: the time floor or trusted wall time then, epoch seconds. */
  readonly sinceSeconds?: number;
}

/** The owner's override: it covers a FAIL of these advisories on this software version only. */
export interface PersistedOverride {
  readonly reason: string;
  readonly advisories: readonly string[];
  readonly swVersion: string;
  /** Seconds left at the last checkpoint; absent: until `resume`. */
  readonly remainingSeconds?: number;
}

/** How the last answer window ended. */
export interface PersistedExchange {
  /** `unanswered`: no answer was accepted (fail-open: nothing changes). */
  readonly outcome: 'accepted' | 'unanswered';
  readonly status?: Status;
  /** `advisory`: the address the certificate scope applies to was unknown ([P-8.5-4]). */
  readonly scopeCheck?: 'verified' | 'advisory' | 'not-applicable';
  /** Answers refused in that window, by code. */
  readonly refusals: Readonly<Partial<Record<AnswerProblem, number>>>;
}

/** Everything the agent keeps across a reboot. */
export interface PersistedState {
  readonly version: typeof STATE_VERSION;
  /** The time floor ([P-8.3-1]): seconds since the epoch, never decreasing. */
  readonly timeFloorSeconds: number;
  /** Answer windows in a row that closed without an accepted answer (drives the backoff). */
  readonly unanswered: number;
  readonly fail?: PersistedFail;
  readonly override?: PersistedOverride;
  readonly lastExchange?: PersistedExchange;
  /**
   * Key certificates fetched with certificate queries ([P-8.7-4]): the tagged COSE_Sign1 bytes
   * as lowercase hex, at most {@link MAX_STATE_CERTIFICATES}. They are verified again on every use.
   */
  readonly certificates?: readonly string[];
}

/**
 * Encodes the state as JSON text (keys in a fixed order, so equal states give equal text).
 * @example await writeFile(path, encodeState(effect.state))
 */
export function encodeState(state: PersistedState): string {
  return JSON.stringify(state);
}

type JsonObject = Readonly<Record<string, unknown>>;

function fail(path: string, expected: string, got: unknown): never {
  const shown =
    got === undefined
      ? 'nothing'
      : typeof got === 'string'
        ? `a ${Buffer.byteLength(got)}-byte string`
        : Array.isArray(got)
          ? 'an array'
          : got === null
            ? 'null'
            : typeof got;
  throw new StateError('BAD_FIELD', `${path}: expected ${expected}, got ${shown}`);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(
  value: unknown,
  path: string,
  keys: { required: readonly string[]; optional: readonly string[] },
): JsonObject {
  if (!isObject(value)) return fail(path, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!keys.required.includes(key) && !keys.optional.includes(key))
      throw new StateError('BAD_FIELD', `${path}: unknown key "${key.slice(0, 32)}"`);
  }
  for (const key of keys.required)
    if (!(key in value)) throw new StateError('BAD_FIELD', `${path}.${key}: missing`);
  return value;
}

function count(value: unknown, path: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max)
    return fail(path, `an integer in 0..${max}`, value);
  return value;
}

// [P-2.3-1] the same rule as text on the wire: no control characters, not empty.
const CONTROL = /\p{Cc}/u; // Cc is exactly U+0000–U+001F and U+007F–U+009F

function text(value: unknown, path: string, maxBytes: number): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    Buffer.byteLength(value) > maxBytes ||
    CONTROL.test(value)
  ) {
    return fail(
      path,
      `a non-empty string of at most ${maxBytes} bytes without control characters`,
      value,
    );
  }
  return value;
}

function texts(value: unknown, path: string, maxItems: number): string[] {
  if (!Array.isArray(value) || value.length > maxItems)
    return fail(path, `an array of at most ${maxItems} strings`, value);
  return value.map((item, index) => text(item, `${path}[${index}]`, MAX_TEXT_BYTES));
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) return fail(path, `one of ${allowed.join(', ')}`, value);
  return found;
}

function readFail(value: unknown): PersistedFail {
  const path = 'state.fail';
  const o = object(value, path, {
    required: ['mode', 'advisories', 'remediationHosts', 'swVersion', 'remainingSeconds'],
    // Kept since the owner's channels; files written before them lack these keys.
    optional: ['cvss10', 'kev', 'fixedVersions', 'sinceSeconds'],
  });
  if (o.kev !== undefined && typeof o.kev !== 'boolean') fail(`${path}.kev`, 'a boolean', o.kev);
  return {
    mode: oneOf(o.mode, `${path}.mode`, ['identified', 'private'] as const),
    advisories: texts(o.advisories, `${path}.advisories`, MAX_STATE_ADVISORIES),
    remediationHosts: texts(o.remediationHosts, `${path}.remediationHosts`, MAX_STATE_HOSTS),
    swVersion: text(o.swVersion, `${path}.swVersion`, MAX_TEXT_BYTES),
    remainingSeconds: count(o.remainingSeconds, `${path}.remainingSeconds`, MAX_REMAINING_SECONDS),
    ...(o.cvss10 === undefined ? {} : { cvss10: count(o.cvss10, `${path}.cvss10`, 100) }),
    ...(typeof o.kev === 'boolean' ? { kev: o.kev } : {}),
    ...(o.fixedVersions === undefined
      ? {}
      : {
          fixedVersions: texts(o.fixedVersions, `${path}.fixedVersions`, MAX_STATE_FIXED_VERSIONS),
        }),
    ...(o.sinceSeconds === undefined
      ? {}
      : { sinceSeconds: count(o.sinceSeconds, `${path}.sinceSeconds`, Number.MAX_SAFE_INTEGER) }),
  };
}

function readOverride(value: unknown): PersistedOverride {
  const path = 'state.override';
  const o = object(value, path, {
    required: ['reason', 'advisories', 'swVersion'],
    optional: ['remainingSeconds'],
  });
  const base = {
    reason: text(o.reason, `${path}.reason`, MAX_REASON_BYTES),
    advisories: texts(o.advisories, `${path}.advisories`, MAX_STATE_ADVISORIES),
    swVersion: text(o.swVersion, `${path}.swVersion`, MAX_TEXT_BYTES),
  };
  return o.remainingSeconds === undefined
    ? base
    : {
        ...base,
        remainingSeconds: count(
          o.remainingSeconds,
          `${path}.remainingSeconds`,
          MAX_REMAINING_SECONDS,
        ),
      };
}

function readExchange(value: unknown): PersistedExchange {
  const path = 'state.lastExchange';
  const o = object(value, path, {
    required: ['outcome', 'refusals'],
    optional: ['status', 'scopeCheck'],
  });
  const refusalsValue = o.refusals;
  if (!isObject(refusalsValue)) return fail(`${path}.refusals`, 'an object', refusalsValue);
  const refusals: Partial<Record<AnswerProblem, number>> = {};
  for (const [key, n] of Object.entries(refusalsValue)) {
    const code = oneOf(key, `${path}.refusals key`, PROBLEMS as readonly AnswerProblem[]);
    refusals[code] = count(n, `${path}.refusals.${code}`, Number.MAX_SAFE_INTEGER);
  }
  return {
    outcome: oneOf(o.outcome, `${path}.outcome`, ['accepted', 'unanswered'] as const),
    ...(o.status === undefined
      ? {}
      : {
          status: oneOf(o.status, `${path}.status`, ['pass', 'fail', 'warn', 'unknown'] as const),
        }),
    ...(o.scopeCheck === undefined
      ? {}
      : {
          scopeCheck: oneOf(o.scopeCheck, `${path}.scopeCheck`, [
            'verified',
            'advisory',
            'not-applicable',
          ] as const),
        }),
    refusals,
  };
}

/**
 * Decodes and validates a persisted state. Throws {@link StateError} with a code: `TOO_LARGE`
 * (over {@link MAX_STATE_BYTES}), `BAD_JSON`, `BAD_VERSION`, `BAD_FIELD` (unknown or missing key,
 * wrong type, out of range). The shell then starts from no state (and logs the code).
 * @example const persisted = decodeState(await readFile(path, 'utf8'))
 */
export function decodeState(textValue: string): PersistedState {
  if (Buffer.byteLength(textValue) > MAX_STATE_BYTES)
    throw new StateError('TOO_LARGE', `state: more than ${MAX_STATE_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(textValue);
  } catch {
    throw new StateError('BAD_JSON', 'state: not valid JSON');
  }
  if (!isObject(parsed)) return fail('state', 'an object', parsed);
  if (parsed.version !== STATE_VERSION)
    throw new StateError(
      'BAD_VERSION',
      `state.version: expected ${STATE_VERSION}, got ${typeof parsed.version === 'number' ? parsed.version : typeof parsed.version}`,
    );
  const o = object(parsed, 'state', {
    required: ['version', 'timeFloorSeconds', 'unanswered'],
    optional: ['fail', 'override', 'lastExchange', 'certificates'],
  });
  return {
    version: STATE_VERSION,
    timeFloorSeconds: count(o.timeFloorSeconds, 'state.timeFloorSeconds', Number.MAX_SAFE_INTEGER),
    unanswered: count(o.unanswered, 'state.unanswered', Number.MAX_SAFE_INTEGER),
    ...(o.fail === undefined ? {} : { fail: readFail(o.fail) }),
    ...(o.override === undefined ? {} : { override: readOverride(o.override) }),
    ...(o.lastExchange === undefined ? {} : { lastExchange: readExchange(o.lastExchange) }),
    ...(o.certificates === undefined ? {} : { certificates: readCertificates(o.certificates) }),
  };
}

const HEX = /^(?:[0-9a-f]{2})+$/;

function readCertificates(value: unknown): string[] {
  const path = 'state.certificates';
  if (!Array.isArray(value) || value.length > MAX_STATE_CERTIFICATES)
    return fail(path, `an array of at most ${MAX_STATE_CERTIFICATES} hex strings`, value);
  return value.map((item, index) => {
    if (typeof item !== 'string' || item.length > 2 * MAX_CERTIFICATE_BYTES || !HEX.test(item))
      return fail(
        `${path}[${index}]`,
        `lowercase hex of at most ${MAX_CERTIFICATE_BYTES} bytes`,
        item,
      );
    return item;
  });
}
