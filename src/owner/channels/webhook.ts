/**
 * The webhook channel: each status change as a versioned JSON document POSTed to the owner's URL,
 * signed with HMAC-SHA256 over `timestamp.body` with the owner's secret, retried with exponential
 * backoff and full jitter on network errors, timeouts, 5xx and 429 (Retry-After honoured).
 * @module
 */
import { createHmac } from 'node:crypto';
import { integerCheck, leaf, requiredLeaf, section, urlCheck } from '../../config/checks.ts';
import { formatHeadline, formatSummary } from '../texts.ts';
import type { NotificationChannel, OwnerStatus, OwnerStatusKind, StatusChange } from '../types.ts';

/** The payload's schema version (docs/owner-notifications.md); a new shape gets a new number. */
export const WEBHOOK_PAYLOAD_VERSION = 1;
/** Header carrying `sha256=<hex>`. */
export const SIGNATURE_HEADER = 'x-tattler-signature';
/** Header carrying the signing time, Unix seconds, also part of the signed input. */
export const TIMESTAMP_HEADER = 'x-tattler-timestamp';
/**
 * Shortest secret: 16 bytes. HMAC-SHA256 keys shorter than the 32-byte output weaken it (RFC 2104
 * §3); 16 still resists guessing and lets owners paste a UUID.
 */
export const MIN_SECRET_BYTES = 16;
/** Longest secret: 1 KiB, far above any sensible key (HMAC hashes longer keys anyway). */
export const MAX_SECRET_BYTES = 1024;

/** The JSON document POSTed for one change. */
export interface WebhookPayload {
  readonly version: typeof WEBHOOK_PAYLOAD_VERSION;
  /** `status-change`, the only event so far. */
  readonly event: 'status-change';
  readonly at: string;
  readonly previous: OwnerStatusKind;
  readonly reason: string;
  readonly current: OwnerStatus;
  /** The owner's headline and summary in English (texts.ts), ready to show. */
  readonly headline: string;
  readonly summary: string;
}

/** Where and how to POST; see docs/owner-notifications.md. */
export interface WebhookOptions {
  /** An absolute http: or https: URL without credentials. */
  readonly url: string;
  /** The owner's HMAC key, as UTF-8 text. Never logged. */
  readonly secret: string;
  /** Per attempt, from the request to the end of the response. */
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  /** Backoff before retry k (1-based): uniform 0 … min(maxDelayMs, baseDelayMs · 2^(k−1)). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this ends the retries (the receiver is down for a while). */
  readonly maxRetryAfterMs: number;
}

/** Defaults of {@link WebhookOptions}: 5 attempts, waits of at most 1, 2, 4, 8 s (cap 30 s). */
export const WEBHOOK_DEFAULTS = Object.freeze({
  timeoutMs: 10_000,
  maxAttempts: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 300_000,
});

/** Time, randomness and the network, replaceable in tests. */
export interface WebhookDeps {
  /** Epoch milliseconds for the signature's timestamp; default `Date.now`. */
  readonly nowMs?: () => number;
  /** Uniform in [0, 1); default `Math.random` (jitter needs no cryptographic randomness). */
  readonly random?: () => number;
  /** Waits `ms`, or rejects when `signal` aborts; default a timer. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** The document for `change`. */
export function buildWebhookPayload(change: StatusChange): WebhookPayload {
  return {
    version: WEBHOOK_PAYLOAD_VERSION,
    event: 'status-change',
    at: change.at,
    previous: change.previous,
    reason: change.reason,
    current: change.current,
    headline: formatHeadline(change),
    summary: formatSummary(change),
  };
}

/**
 * `sha256=<hex>`: HMAC-SHA256 with `secret` over `<timestamp>.<body>`, the exact bytes sent. The
 * timestamp is signed so a captured request cannot be replayed later with a fresh header.
 * @example signWebhook('s3cret-s3cret-s3cret', '1764136800', '{"version":1}') // 'sha256=…64 hex…'
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
  return `sha256=${mac}`;
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date; milliseconds, or undefined. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** The backoff before retry `retry` (1-based): AWS "full jitter". */
export function backoffDelayMs(
  retry: number,
  options: { baseDelayMs: number; maxDelayMs: number; random: number },
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(options.random * ceiling);
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error('closed'));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(new Error('closed'));
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt's outcome. */
type Attempt =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly error: string; readonly retryAfterMs?: number }
  | { readonly kind: 'fail'; readonly error: string };

/** Why a fetch failed, without the URL or anything secret: `ECONNREFUSED`, `timeout`. */
function networkError(err: unknown, timedOut: boolean): string {
  if (timedOut) return 'no answer in time (timeout)';
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  if (
    typeof cause === 'object' &&
    cause !== null &&
    'code' in cause &&
    typeof cause.code === 'string'
  )
    return `network error (${cause.code})`;
  return `network error (${err instanceof Error ? err.name : 'unknown'})`;
}

/**
 * A webhook channel. Each send signs and POSTs the change, retrying as {@link WebhookOptions}
 * says; `close()` cancels waits and requests in flight.
 */
export function createWebhookChannel(
  options: WebhookOptions,
  deps: WebhookDeps = {},
): NotificationChannel {
  const nowMs = deps.nowMs ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? defaultSleep;
  const doFetch = deps.fetch ?? fetch;
  const closing = new AbortController();

  async function attempt(body: string): Promise<Attempt> {
    const timestamp = String(Math.floor(nowMs() / 1000));
    const timeout = new AbortController();
    const timer = setTimeout(() => {
      timeout.abort();
    }, options.timeoutMs);
    try {
      const response = await doFetch(options.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.any([timeout.signal, closing.signal]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tattler-agent',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(options.secret, timestamp, body),
        },
      });
      // The answer's body is never needed: cancel it (releases the connection, reads nothing).
      await response.body?.cancel();
      const status = response.status;
      if (status >= 200 && status < 300) return { kind: 'delivered' };
      if (status >= 500 || status === 429) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), nowMs());
        return {
          kind: 'retry',
          error: `HTTP ${status}`,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        };
      }
      // Other 4xx (and 3xx: redirects are not followed) will not change on a retry.
      return { kind: 'fail', error: `HTTP ${status}` };
    } catch (err) {
      if (closing.signal.aborted) return { kind: 'fail', error: 'closed' };
      return { kind: 'retry', error: networkError(err, timeout.signal.aborted) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    name: 'webhook',
    async send(change) {
      const body = JSON.stringify(buildWebhookPayload(change));
      let last = 'not sent';
      for (let attempts = 1; attempts <= options.maxAttempts; attempts++) {
        const outcome = await attempt(body);
        if (outcome.kind === 'delivered') return { delivered: true, attempts };
        last = outcome.error;
        if (outcome.kind === 'fail' || attempts === options.maxAttempts)
          return { delivered: false, attempts, error: last };
        if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > options.maxRetryAfterMs) {
          return {
            delivered: false,
            attempts,
            error: `${last}, retry after ${Math.round(outcome.retryAfterMs / 1000)} s is too long`,
          };
        }
        const backoff = backoffDelayMs(attempts, { ...options, random: random() });
        try {
          await sleep(Math.max(backoff, outcome.retryAfterMs ?? 0), closing.signal);
        } catch {
          return { delivered: false, attempts, error: `${last}, then closed` };
        }
      }
      return { delivered: false, attempts: options.maxAttempts, error: last };
    },
    close() {
      closing.abort();
      return Promise.resolve();
    },
  };
}

// ---- config ------------------------------------------------------------------------------------

const webhookUrlCheck = urlCheck({
  protocols: ['http:', 'https:'],
  example: 'https://hooks.example.net/tattler',
  credentialsFix: 'requests are signed with secret',
});

function secretCheck(input: unknown, fail: (message: string) => never): string {
  // The value is never quoted back: it is a secret.
  if (typeof input !== 'string')
    return fail(
      'is not text — write the shared secret as a quoted string, e.g. generated by `openssl rand -hex 32`',
    );
  const bytes = Buffer.byteLength(input, 'utf8');
  if (bytes < MIN_SECRET_BYTES)
    return fail(
      `is ${bytes} bytes, at least ${MIN_SECRET_BYTES} — generate one with \`openssl rand -hex 32\``,
    );
  if (bytes > MAX_SECRET_BYTES)
    return fail(`is ${bytes} bytes, at most ${MAX_SECRET_BYTES} — shorten it`);
  return input;
}

/** The `notify.webhook` section: YAML → {@link WebhookOptions}. */
export const webhookConfigSchema = section(
  {
    url: requiredLeaf(webhookUrlCheck, 'url: https://hooks.example.net/tattler'),
    secret: requiredLeaf(secretCheck, 'secret: "<output of openssl rand -hex 32>"'),
    timeoutSeconds: leaf(integerCheck({ min: 1, max: 120, example: '10' })),
    attempts: leaf(integerCheck({ min: 1, max: 20, example: '5' })),
    maxDelaySeconds: leaf(integerCheck({ min: 1, max: 3_600, example: '30' })),
  },
  '{url: https://hooks.example.net/tattler, secret: "…"}',
).transform((parsed): WebhookOptions => ({
  url: parsed.url,
  secret: parsed.secret,
  timeoutMs: (parsed.timeoutSeconds ?? WEBHOOK_DEFAULTS.timeoutMs / 1000) * 1000,
  maxAttempts: parsed.attempts ?? WEBHOOK_DEFAULTS.maxAttempts,
  baseDelayMs: WEBHOOK_DEFAULTS.baseDelayMs,
  maxDelayMs: (parsed.maxDelaySeconds ?? WEBHOOK_DEFAULTS.maxDelayMs / 1000) * 1000,
  maxRetryAfterMs: WEBHOOK_DEFAULTS.maxRetryAfterMs,
}));
