/**
 * Outstanding requests of one answer window (docs/protocol.md §8.4): one nonce and CoAP
 * token per (attempt, destination), all valid until the window closes; the first accepted answer
 * settles the window; a later valid FAIL overrides a non-FAIL and is reported. Immutable values.
 * @module
 */
import { equalBytes } from '../crypto/index.ts';
import { NONCE_BYTES } from './limits.ts';
import type { Status } from './verdict.ts';

/**
 * Most requests one window holds: 4 attempts (1 + 3 retries) × 2 destinations (IPv4 and IPv6
 * anycast) = 8, doubled for a certificate or root query per destination and attempt = 16.
 * Adding more is a caller bug (RangeError), so the book is bounded.
 */
export const MAX_OUTSTANDING_REQUESTS = 16;

/** Default answer window: 30 s from the first send (devices are probed within ~30 s of joining). */
export const DEFAULT_ANSWER_WINDOW_MS = 30_000;

/** One sent request, waiting for its answer. */
export interface OutstandingRequest {
  /** 0 for the first send, then 1, 2, … for retries. */
  readonly attempt: number;
  /** The address the request was sent to (4 or 16 bytes). */
  readonly destination: Uint8Array;
  readonly token: Uint8Array;
  readonly nonce: Uint8Array;
  readonly mode: 'identified' | 'private';
  /** The request carried the quarantined flag: only a signed answer may change anything. */
  readonly quarantined: boolean;
}

/** The accepted answer that settled the window. */
export interface Settlement {
  readonly status: Status;
  readonly token: Uint8Array;
}

/** The requests of one answer window. */
export interface NonceBook {
  readonly openedAtMs: number;
  readonly closesAtMs: number;
  readonly requests: readonly OutstandingRequest[];
  readonly settled?: Settlement;
}

/** What settling did: act on the answer, or nothing (a duplicate); `overrode` reports a conflict. */
export interface SettleOutcome {
  readonly book: NonceBook;
  readonly action: 'act' | 'none';
  /** Set when a valid FAIL replaced an earlier accepted non-FAIL answer ([P-8.4-5]). */
  readonly overrode?: Settlement;
}

/** Opens an empty window at the monotonic time `nowMs`. */
export function openNonceBook(nowMs: number, options: { answerWindowMs?: number } = {}): NonceBook {
  const windowMs = options.answerWindowMs ?? DEFAULT_ANSWER_WINDOW_MS;
  if (!(windowMs > 0)) throw new RangeError(`answerWindowMs: expected > 0, got ${windowMs}`);
  return { openedAtMs: nowMs, closesAtMs: nowMs + windowMs, requests: [] };
}

/**
 * Records a sent request. Throws `RangeError` on misuse: a reused nonce or token, a second
 * request for the same (attempt, destination), a full book, or a wrong nonce size.
 */
export function addRequest(book: NonceBook, request: OutstandingRequest): NonceBook {
  if (request.nonce.byteLength !== NONCE_BYTES) throw new RangeError(`nonce: expected ${NONCE_BYTES} bytes, got ${request.nonce.byteLength}`);
  if (book.requests.length >= MAX_OUTSTANDING_REQUESTS) throw new RangeError(`nonce book: at most ${MAX_OUTSTANDING_REQUESTS} requests per window`);
  for (const r of book.requests) {
    if (equalBytes(r.nonce, request.nonce)) throw new RangeError('nonce book: nonce reused');
    if (equalBytes(r.token, request.token)) throw new RangeError('nonce book: token reused');
    if (r.attempt === request.attempt && equalBytes(r.destination, request.destination) && r.mode === request.mode) {
      throw new RangeError(`nonce book: attempt ${request.attempt} to this destination already has a nonce`);
    }
  }
  return { ...book, requests: [...book.requests, request] };
}

/** The outstanding request with CoAP token `token`, if any. */
export function findRequest(book: NonceBook, token: Uint8Array): OutstandingRequest | undefined {
  return book.requests.find((r) => equalBytes(r.token, token));
}

/** True once the window has closed: no answer is accepted after that. */
export function isWindowClosed(book: NonceBook, nowMs: number): boolean {
  return nowMs >= book.closesAtMs;
}

/**
 * True when an answer with `status` can no longer change anything, so the trust rule refuses it
 * before any signature work: the window is settled by a FAIL, or by a non-FAIL and this is no FAIL.
 */
export function isSettledFor(book: NonceBook, status: Status | 'private'): boolean {
  if (book.settled === undefined) return false;
  if (book.settled.status === 'fail') return true;
  return status !== 'fail' && status !== 'private';
}

/**
 * Applies an accepted answer: the first one settles the window (every nonce of it is consumed),
 * a valid FAIL replaces an earlier non-FAIL and reports it, anything else is a duplicate.
 */
export function settleNonceBook(book: NonceBook, accepted: Settlement): SettleOutcome {
  const previous = book.settled;
  if (previous === undefined) return { book: { ...book, settled: accepted }, action: 'act' };
  if (previous.status !== 'fail' && accepted.status === 'fail') {
    return { book: { ...book, settled: accepted }, action: 'act', overrode: previous };
  }
  return { book, action: 'none' };
}
