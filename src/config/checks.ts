/**
 * Building blocks of config schemas (zod): leaf checks that say what to write instead, strict map
 * sections that refuse unknown keys with a "did you mean", bounded lists, and cross-key checks.
 * @module
 */
import { z } from 'zod';
import { formatDuration, formatIp, parseDuration, parseIp } from '../protocol/index.ts';

/** Short, quoted text of an input value for a message (never the whole of a long value). */
export function describe(input: unknown): string {
  if (input === null) return 'an empty value';
  if (Array.isArray(input)) return 'a list';
  switch (typeof input) {
    case 'string':
      return JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input);
    case 'number':
    case 'boolean':
      return String(input);
    case 'object':
      return 'a map';
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      break;
  }
  return typeof input;
}

/** Turns a YAML value into ours, or calls `fail` with "problem — fix". */
export type Check<T> = (input: unknown, fail: (message: string) => typeof z.NEVER) => T;

/** An optional leaf: `check` turns the YAML value into ours or calls `fail` with "problem — fix". */
export function leaf<T>(check: Check<T>): z.ZodOptional<z.ZodType<T>> {
  // .optional() marks the key optional; without it zod reports a missing key as "nonoptional".
  return z
    .unknown()
    .transform((input, ctx): T =>
      check(input, (message) => {
        ctx.issues.push({ code: 'custom', message, input });
        return z.NEVER;
      }),
    )
    .optional();
}

/** A required leaf: when missing, the message says so and shows `example`. */
export function requiredLeaf<T>(check: Check<T>, example: string): z.ZodType<T> {
  return z.unknown().transform((input, ctx): T => {
    const fail = (message: string): typeof z.NEVER => {
      ctx.issues.push({ code: 'custom', message, input });
      return z.NEVER;
    };
    return input === undefined ? fail(`missing — add it, e.g. ${example}`) : check(input, fail);
  });
}

/** A whole number in `min..max`. */
export function integerCheck(range: { min: number; max: number; example: string }): Check<number> {
  return (input, fail) => {
    if (
      typeof input !== 'number' ||
      !Number.isInteger(input) ||
      input < range.min ||
      input > range.max
    ) {
      return fail(
        `${describe(input)} is not a whole number in ${range.min}..${range.max} — write e.g. ${range.example}`,
      );
    }
    return input;
  };
}

/** `true` or `false` (YAML 1.2: `yes`/`no`/`on`/`off` are text). */
export function booleanCheck(input: unknown, fail: (message: string) => never): boolean {
  if (typeof input !== 'boolean')
    return fail(
      `${describe(input)} is not true or false — write true or false (YAML 1.2: yes/no/on/off are text)`,
    );
  return input;
}

/** A duration with units (`45s`, `15m`, `1d12h`), in seconds, within the range. */
export function durationCheck(range: { minSeconds: number; maxSeconds: number }): Check<number> {
  const span = `${formatDuration(range.minSeconds)}..${formatDuration(range.maxSeconds)}`;
  return (input, fail) => {
    if (typeof input === 'number') {
      const hint = Number.isInteger(input) && input > 0 ? formatDuration(input) : '15m';
      return fail(
        `${describe(input)} has no unit — write a duration with units (d, h, m, s), e.g. ${hint}`,
      );
    }
    if (typeof input !== 'string')
      return fail(`${describe(input)} is not a duration — write e.g. 15m, 12h or 7d`);
    let seconds: number;
    try {
      seconds = parseDuration(input);
    } catch {
      return fail(
        `${describe(input)} is not a duration — write a number and a unit (d, h, m, s) in that order, e.g. 15m, 12h, 7d or 1d12h`,
      );
    }
    if (seconds < range.minSeconds || seconds > range.maxSeconds)
      return fail(`${describe(input)} is outside ${span} — write a duration in ${span}`);
    return seconds;
  };
}

/** Non-blank text of at most `maxBytes` UTF-8 bytes. */
export function textCheck(options: { maxBytes: number; example: string }): Check<string> {
  return (input, fail) => {
    if (typeof input !== 'string' || input.trim() === '')
      return fail(`${describe(input)} is not text — write e.g. ${options.example}`);
    const bytes = Buffer.byteLength(input, 'utf8');
    if (bytes > options.maxBytes)
      return fail(`${bytes} bytes is too long, at most ${options.maxBytes} (UTF-8) — shorten it`);
    return input;
  };
}

/** A file path; relative paths are resolved later against the config file's directory. */
export function pathCheck(example: string): Check<string> {
  return (input, fail) => {
    if (typeof input !== 'string' || input.trim() === '')
      return fail(`${describe(input)} is not a file path — write e.g. ${example}`);
    if (input.includes('\0')) return fail('contains a NUL character — write a plain file path');
    return input;
  };
}

/** An IP literal, in RFC 5952 text; `hostNameFix` is the advice for a host name written instead. */
export function ipCheckWith(hostNameFix: string): Check<{ address: string; family: 4 | 6 }> {
  return (input, fail) => {
    if (typeof input !== 'string')
      return fail(
        `${describe(input)} is not an IP address — write an IPv4 or IPv6 literal, e.g. 192.0.2.53 or 2001:db8::53 (quote IPv6 if it starts with ':', e.g. "::")`,
      );
    const bytes = parseIp(input.trim());
    if (bytes !== undefined)
      return { address: formatIp(bytes), family: bytes.byteLength === 4 ? 4 : 6 };
    // The two ways people write "address:port"; say how to split them.
    const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(input);
    const v6WithPort = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(input);
    const withPort = v4WithPort ?? v6WithPort;
    if (withPort !== null && parseIp(withPort[1] ?? '') !== undefined) {
      return fail(
        `${describe(input)} is not an IP address — write the address and the port separately: {address: ${withPort[1] ?? ''}, port: ${withPort[2] ?? ''}}`,
      );
    }
    if (v6WithPort === null && /^\[.*\]$/.test(input))
      return fail(`${describe(input)} is not an IP address — write it without brackets`);
    if (/^[a-z0-9.-]+$/i.test(input) && /[a-z]/i.test(input))
      return fail(`${describe(input)} is not an IP address — ${hostNameFix}`);
    return fail(
      `${describe(input)} is not an IP address — write an IPv4 or IPv6 literal, e.g. 192.0.2.53 or 2001:db8::53`,
    );
  };
}

/** Levenshtein distance, for "did you mean" (known keys are short: O(a·b) is nothing). */
/**
 * A check for an absolute URL with one of `protocols` (e.g. `['https:', 'http:']`), giving its
 * normalised text. A URL holding `user:password` is refused and never echoed (style B2.4);
 * `credentialsFix` says where credentials belong instead.
 */
export function urlCheck(options: {
  readonly protocols: readonly string[];
  readonly example: string;
  readonly credentialsFix: string;
}): Check<string> {
  const { protocols, example } = options;
  const names = protocols.join(' or ');
  return (input, fail) => {
    if (typeof input !== 'string') return fail(`${describe(input)} is not a URL — write e.g. ${example}`);
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return fail(`not a URL — write an absolute ${names} URL, e.g. ${example}`);
    }
    if (!protocols.includes(url.protocol))
      return fail(`${JSON.stringify(url.protocol)} is not ${names} — write e.g. ${example}`);
    if (url.username !== '' || url.password !== '')
      return fail(`holds credentials — remove user:password from the URL; ${options.credentialsFix}`);
    return url.href;
  };
}

export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest known key within edit distance 2 (case and `_`/`-` ignored), if any. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const fold = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = Math.min(
      editDistance(key, candidate),
      editDistance(fold(key), fold(candidate)),
    );
    if (distance <= 2 && (best === undefined || distance < best.distance))
      best = { key: candidate, distance };
  }
  return best?.key;
}

/** The message for one unknown key. */
function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = suggestKey(key, known);
  return suggestion === undefined
    ? `unknown key — remove it; the keys here are ${known.join(', ')}`
    : `unknown key — did you mean "${suggestion}"?`;
}

/**
 * A map section that refuses unknown keys. zod reports all unknown keys of a map in one issue;
 * its message holds one line per key (same order as `keys`), split into one problem per key by
 * `problemsOf` (config-file.ts).
 */
export function section<S extends z.ZodRawShape>(shape: S, example: string) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => unknownKeyMessage(key, known)).join('\n')
        : issue.input === undefined
          ? `missing — add it, e.g. ${example}`
          : `${describe(issue.input)} is not a map — write keys under it, e.g. ${example}`,
  });
}

/** A list of at most `max` entries. */
export function list<T extends z.ZodType>(element: T, options: { max: number; example: string }) {
  return z
    .array(element, {
      error: (issue) => `${describe(issue.input)} is not a list — write e.g. ${options.example}`,
    })
    .max(options.max, {
      error: (issue) =>
        `${Array.isArray(issue.input) ? issue.input.length : 'too many'} entries, at most ${options.max} — shorten the list`,
    });
}

/**
 * Runs a cross-field check even when other keys of the map have problems (so every problem is
 * reported at once), but only when the map itself and the keys it reads are valid.
 */
export function whenValid(...keys: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  return {
    when: (payload) =>
      typeof payload.value === 'object' &&
      payload.value !== null &&
      !Array.isArray(payload.value) &&
      !payload.issues.some((issue) => {
        const first = issue.path?.[0];
        return first === undefined
          ? issue.code !== 'unrecognized_keys'
          : keys.includes(String(first));
      }),
  };
}
