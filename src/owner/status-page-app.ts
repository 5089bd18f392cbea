/**
 * The status page's request handling, without a socket: a plain request in, a plain response out
 * (the hono model). It checks Host, Origin, the form token, the lockout and the owner secret, in
 * that order, and only then asks the agent to override or resume. The node:http shell is
 * status-page.ts.
 * @module
 */
import { isIP } from 'node:net';
import type { LogSink } from '../logging/log.ts';
import { checkFormToken, issueFormToken, type FormAction } from './form-token.ts';
import {
  INITIAL_LOCKOUT,
  LOCKOUT_AFTER_FAILURES,
  lockoutRemainingMs,
  recordFailure,
  recordSuccess,
  type LockoutState,
} from './lockout.ts';
import type { OwnerSecretVerifier } from './owner-secret.ts';
import {
  MAX_REASON_CHARS,
  OVERRIDE_DURATIONS,
  lockoutText,
  PAGE_CSP,
  renderMessagePage,
  renderStatusPage,
  type PageNotice,
  type PublicDetail,
} from './page-html.ts';
import type { OwnerStatus } from './types.ts';

/** The largest form body read: the fields are a secret, a token, a reason and a duration (< 1 KiB). */
export const MAX_FORM_BYTES = 4096;
/** Secret checks in the queue, the running one included; more are refused (503): a flood costs one scrypt at a time. */
export const MAX_WAITING_CHECKS = 4;

/** What the page asks of the agent. */
export interface StatusPageDeps {
  /** The current view of the agent's state. */
  status(): OwnerStatus;
  /** Overrides the FAIL in force (its advisories only), for `forSeconds` or until resumed. */
  override(reason: string, forSeconds?: number): Promise<OwnerStatus>;
  /** Ends the override. */
  resume(): Promise<OwnerStatus>;
  /** A monotonic clock: form tokens and lockouts never follow a wall-clock change. */
  readonly clock: { monotonicMs(): number };
  readonly log: LogSink;
}

/** How the page is set up. */
export interface StatusPageAppOptions {
  /** Host names and addresses the page answers to, lower case (Host and Origin are checked against them). */
  readonly allowedHosts: readonly string[];
  /** What a viewer sees before giving the secret. */
  readonly publicDetail: PublicDetail;
  readonly verifier: OwnerSecretVerifier;
  /** The HMAC key of the form tokens, random per start (32 bytes). */
  readonly tokenKey: Uint8Array;
}

/** A request as the shell hands it over; header names lower case. */
export interface PageRequest {
  readonly method: string;
  /** The request target as sent (`/`, `/override?x`). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The address the connection arrived on: a Host naming it as an IP literal is allowed. */
  readonly localAddress?: string;
  /** Reads the body, at most `maxBytes`; rejects with {@link BodyTooLargeError} beyond. Called only for forms. */
  readBody(maxBytes: number): Promise<string>;
}

/** A response; `body` is not sent for HEAD. */
export interface PageResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The body was larger than the cap. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Headers of every answer. No `Access-Control-*` header is ever sent. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // `same-origin`, not `no-referrer`: under no-referrer browsers send `Origin: null` on our own
  // form posts (Fetch §3.1 "append a request Origin header"), and Origin is what we check.
  // Other sites (the vendor's update link) still get no referrer.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

function textResponse(
  status: number,
  text: string,
  extra: Readonly<Record<string, string>> = {},
): PageResponse {
  return {
    status,
    headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...extra },
    body: `${text}\n`,
  };
}

function htmlResponse(
  status: number,
  html: string,
  extra: Readonly<Record<string, string>> = {},
): PageResponse {
  return {
    status,
    headers: {
      ...SECURITY_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': PAGE_CSP,
      ...extra,
    },
    body: html,
  };
}

/** `example.local` from `Example.Local.:8080`, `::1` from `[::1]:8080`; undefined when malformed. */
export function hostnameOf(hostHeader: string): string | undefined {
  let url: URL;
  try {
    url = new URL(`http://${hostHeader}/`);
  } catch {
    return undefined;
  }
  // Userinfo or a path smuggled in the Host header: not a host.
  if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.host === '')
    return undefined;
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return name.toLowerCase();
}

/** The `host` part of an origin (`example.local:8080`), as URL serialises it; undefined when malformed. */
function canonicalHost(hostHeader: string): string | undefined {
  try {
    return new URL(`http://${hostHeader}/`).host;
  } catch {
    return undefined;
  }
}

/**
 * True when a Host header names this page: an allowed name, or an IP literal equal to the address
 * the connection arrived on. DNS rebinding needs a name the attacker controls, so it never passes.
 */
export function isAllowedHost(
  hostHeader: string | undefined,
  allowed: readonly string[],
  localAddress?: string,
): boolean {
  if (hostHeader === undefined) return false;
  const name = hostnameOf(hostHeader);
  if (name === undefined) return false;
  if (allowed.includes(name)) return true;
  if (localAddress === undefined || isIP(name) === 0) return false;
  const local = localAddress.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return canonicalIp(name) === canonicalIp(local);
}

function canonicalIp(address: string): string {
  // URL normalises IPv6 (zero compression, lower case); IPv4 is already canonical from both sides.
  return isIP(address) === 6 ? (hostnameOf(`[${address}]`) ?? address) : address;
}

/** Why a form post's origin was refused, or undefined when it is this page. */
export function crossOriginProblem(headers: PageRequest['headers']): string | undefined {
  const host = headers.host === undefined ? undefined : canonicalHost(headers.host);
  if (host === undefined) return 'no host';
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return `sec-fetch-site ${fetchSite}`;
  const origin = headers.origin;
  const claimed = origin ?? headers.referer;
  if (claimed === undefined) return 'no origin or referer';
  let url: URL;
  try {
    url = new URL(claimed);
  } catch {
    return 'origin not a URL';
  }
  if (origin !== undefined && url.origin !== origin) return 'origin not canonical';
  if (url.protocol !== 'http:' || url.host !== host) return 'foreign origin';
  return undefined;
}

type FormFields = Readonly<Record<string, string>>;

function parseForm(body: string): FormFields | undefined {
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(fields, name)) return undefined;
    fields[name] = value;
  }
  return fields;
}

function fieldOf(fields: FormFields, name: string): string | undefined {
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** The reason as kept: trimmed, one line, printable; undefined when empty or too long (UTF-16 units, as `maxlength`). */
export function cleanReason(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const reason = raw.replace(/\s+/g, ' ').trim();
  // Control and format characters (C0, C1, bidi overrides) could disguise the reason in a log or page.
  if (reason === '' || reason.length > MAX_REASON_CHARS || /[\p{Cc}\p{Cf}]/u.test(reason)) {
    return undefined;
  }
  return reason;
}

const TEXT = Object.freeze({
  wrongSecret: (left: number): string =>
    `That is not the owner secret. Check it and try again (${left} ${left === 1 ? 'try' : 'tries'} left before the page locks for a while).`,
  foreign:
    'This form was sent from another website or without saying where it came from, so it was refused. Open this device’s page directly and use the form there.',
  token: 'The form was incomplete or is not from this page. Fill it in again on this page.',
  expired: 'The form was open too long (forms are valid for 5 to 10 minutes). Fill it in again.',
  reason: `Say in a few words why you override (1 to ${MAX_REASON_CHARS} characters, one line).`,
  duration: 'Choose how long the override lasts from the list.',
  fields: 'The form was not filled in as expected. Fill it in again on this page.',
  notQuarantined: 'There is nothing to override: the device is not cut off from the internet.',
  notOverridden: 'There is nothing to resume: no override is in force.',
  busy: 'The device is checking other attempts. Wait a moment and try again.',
  store:
    'The device cannot read its owner secret store, so nothing was changed. Restart the device; if this keeps happening, ask whoever set it up to make a new owner secret.',
  failed:
    'The device could not apply the change, so nothing was changed. Try again in a minute; if this keeps happening, restart the device.',
  overridden:
    'Override in force: the device can reach the internet again. It is still unsafe until it is updated.',
  resumed: 'Protection resumed: the device is cut off from the internet again until it is updated.',
});

/** The page's request handler: one per listening page; holds the lockout and the check queue. */
export interface StatusPageApp {
  request(request: PageRequest): Promise<PageResponse>;
}

/**
 * A handler for `options` and `deps`.
 * @example const app = createStatusPageApp(options, deps); const res = await app.request({ method: 'GET', url: '/', headers: { host: 'localhost' }, readBody });
 */
export function createStatusPageApp(
  options: StatusPageAppOptions,
  deps: StatusPageDeps,
): StatusPageApp {
  let lockout: LockoutState = INITIAL_LOCKOUT;
  let checking: Promise<unknown> = Promise.resolve();
  let waiting = 0;

  function now(): number {
    return deps.clock.monotonicMs();
  }

  function page(
    status: number,
    detail: PublicDetail,
    notice?: PageNotice,
    extra: Readonly<Record<string, string>> = {},
  ): PageResponse {
    const at = now();
    const tokens = {
      login: issueFormToken(options.tokenKey, 'login', at),
      override: issueFormToken(options.tokenKey, 'override', at),
      resume: issueFormToken(options.tokenKey, 'resume', at),
    };
    const view = {
      status: deps.status(),
      detail,
      tokens,
      lockoutRemainingMs: lockoutRemainingMs(lockout, at),
    };
    return htmlResponse(
      status,
      renderStatusPage(notice === undefined ? view : { ...view, notice }),
      extra,
    );
  }

  function refuse(
    status: number,
    text: string,
    extra: Readonly<Record<string, string>> = {},
  ): PageResponse {
    return page(status, options.publicDetail, { kind: 'error', text }, extra);
  }

  /** One scrypt at a time, checked against the lockout right before it runs. */
  async function checkSecret(
    secret: string,
  ): Promise<'right' | 'wrong' | 'locked' | 'busy' | 'unreadable'> {
    if (waiting >= MAX_WAITING_CHECKS) return 'busy';
    waiting += 1;
    const run = checking.then(async () => {
      if (lockoutRemainingMs(lockout, now()) > 0) return 'locked' as const;
      let right: boolean;
      try {
        right = await options.verifier.verify(secret);
      } catch (err) {
        deps.log(
          'error',
          'owner_secret_unreadable',
          `the owner secret store cannot be read: ${err instanceof Error ? err.message : 'unknown error'}`,
        );
        return 'unreadable' as const;
      }
      if (right) {
        lockout = recordSuccess();
        return 'right' as const;
      }
      const after = recordFailure(lockout, now());
      lockout = after.state;
      deps.log('warn', 'owner_secret_wrong', 'a wrong owner secret was given on the status page', {
        failures: lockout.failures,
      });
      if (after.engagedMs > 0) {
        deps.log(
          'warn',
          'owner_lockout',
          `too many wrong owner secrets: the status page refuses secrets for ${Math.round(after.engagedMs / 1000)} s`,
          {
            lockoutSeconds: Math.round(after.engagedMs / 1000),
            level: lockout.level,
          },
        );
      }
      return 'wrong' as const;
    });
    checking = run
      .catch(() => undefined)
      .finally(() => {
        waiting -= 1;
      });
    return run;
  }

  function lockedResponse(): PageResponse {
    const remaining = lockoutRemainingMs(lockout, now());
    return refuse(429, lockoutText(remaining), {
      'retry-after': String(Math.ceil(remaining / 1000)),
    });
  }

  async function form(action: FormAction, request: PageRequest): Promise<PageResponse> {
    const problem = crossOriginProblem(request.headers);
    if (problem !== undefined) {
      deps.log('info', 'owner_form_refused', `a form post to /${action} was refused: ${problem}`);
      return refuse(403, TEXT.foreign);
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return refuse(415, TEXT.fields);
    const length = Number(request.headers['content-length'] ?? '0');
    if (!Number.isFinite(length) || length > MAX_FORM_BYTES)
      return refuse(413, TEXT.fields, { connection: 'close' });
    let body: string;
    try {
      body = await request.readBody(MAX_FORM_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return refuse(413, TEXT.fields, { connection: 'close' });
      throw err;
    }
    const fields = parseForm(body);
    if (fields === undefined) return refuse(400, TEXT.fields);
    const token = checkFormToken(options.tokenKey, action, fieldOf(fields, 'token'), now());
    if (token !== 'ok') {
      deps.log(
        'info',
        'owner_form_refused',
        `a form post to /${action} was refused: token ${token}`,
      );
      return refuse(403, token === 'expired' ? TEXT.expired : TEXT.token);
    }
    let reason = '';
    let forSeconds: number | undefined;
    if (action === 'override') {
      const cleaned = cleanReason(fieldOf(fields, 'reason'));
      if (cleaned === undefined) return refuse(400, TEXT.reason);
      reason = cleaned;
      const duration = OVERRIDE_DURATIONS.find(
        (d) => d.value === (fieldOf(fields, 'duration') ?? 'until-resume'),
      );
      if (duration === undefined) return refuse(400, TEXT.duration);
      forSeconds = duration.seconds;
      if (deps.status().status !== 'quarantined') return refuse(409, TEXT.notQuarantined);
    }
    if (action === 'resume' && deps.status().status !== 'overridden')
      return refuse(409, TEXT.notOverridden);
    if (lockoutRemainingMs(lockout, now()) > 0) return lockedResponse();
    const secret = fieldOf(fields, 'secret') ?? '';
    const outcome = await checkSecret(secret);
    switch (outcome) {
      case 'locked':
        return lockedResponse();
      case 'busy':
        return refuse(503, TEXT.busy, { 'retry-after': '1' });
      case 'unreadable':
        return refuse(503, TEXT.store);
      case 'wrong':
        return lockoutRemainingMs(lockout, now()) > 0
          ? lockedResponse()
          : refuse(403, TEXT.wrongSecret(LOCKOUT_AFTER_FAILURES - lockout.failures));
      case 'right':
        break;
    }
    if (action === 'login') return page(200, 'full');
    try {
      if (action === 'override') {
        const after = await deps.override(reason, forSeconds);
        deps.log('info', 'owner_override', 'the owner overrode the quarantine on the status page', {
          advisories: after.advisories.map((a) => a.id).join(' '),
          forSeconds: forSeconds ?? null,
        });
        return page(200, 'full', { kind: 'ok', text: TEXT.overridden });
      }
      await deps.resume();
      deps.log('info', 'owner_resume', 'the owner ended the override on the status page');
      return page(200, 'full', { kind: 'ok', text: TEXT.resumed });
    } catch (err) {
      deps.log(
        'error',
        `owner_${action}_failed`,
        `the agent did not apply the owner's ${action}: ${err instanceof Error ? err.message : 'unknown error'}`,
      );
      return page(500, 'full', { kind: 'error', text: TEXT.failed });
    }
  }

  async function request(request: PageRequest): Promise<PageResponse> {
    // Chrome's Private Network Access preflight: never granted.
    if (request.headers['access-control-request-private-network'] !== undefined) {
      return textResponse(403, 'forbidden: this page is not shared with other websites');
    }
    if (!isAllowedHost(request.headers.host, options.allowedHosts, request.localAddress)) {
      deps.log(
        'debug',
        'owner_host_refused',
        'a request with a Host header not in the allowlist was refused',
      );
      return textResponse(
        421,
        'misdirected request: open this page by the device’s address or configured name',
      );
    }
    const path = request.url.split('?')[0] ?? '/';
    const action =
      path === '/login'
        ? 'login'
        : path === '/override'
          ? 'override'
          : path === '/resume'
            ? 'resume'
            : undefined;
    if (path !== '/' && action === undefined) {
      return htmlResponse(
        404,
        renderMessagePage('Not found', 'There is nothing here. The status page is at /.'),
      );
    }
    if (request.method === 'OPTIONS') {
      return textResponse(405, 'method not allowed: this page is not shared with other websites', {
        allow: path === '/' ? 'GET, HEAD' : 'POST',
      });
    }
    if (action === undefined) {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return htmlResponse(
          405,
          renderMessagePage('Method not allowed', 'Open the status page with a normal link.'),
          { allow: 'GET, HEAD' },
        );
      }
      return page(200, options.publicDetail);
    }
    if (request.method !== 'POST') {
      return htmlResponse(
        405,
        renderMessagePage('Method not allowed', 'Use the forms on the status page.'),
        { allow: 'POST' },
      );
    }
    return form(action, request);
  }

  return { request };
}
