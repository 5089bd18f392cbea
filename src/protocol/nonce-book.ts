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
 * Most announcements (page 0) one window holds: 4 attempts (1 + 3 retries) × 2 destinations
 * (IPv4 and IPv6 anycast) = 8, doubled for a certificate or root query per destination and
 * attempt = 16 ([P-8.4-2]). A configuration whose attempts × destinations exceed it is refused.
 */
export const MAX_OUTSTANDING_REQUESTS = 16;

/**
 * Most requests of every kind one window holds ([P-8.4-2]): the 16 above plus 16 further bucket
 * page requests (a bucket has at most 16 pages, [P-6.3-5], so 15 further pages and one re-request).
 * Adding more is a caller bug (RangeError), so the book is bounded: 32 × ~60 bytes.
 */
export const MAX_BOOK_ENTRIES = 32;

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
  /**
   * Private mode, a page request ([P-8.5-7]): the bucket page asked for. Absent: an announcement
   * (page 0 of the attempt). Only announcements are unique per (attempt, destination).
   */
  readonly page?: number;
}

/** One sent certificate query (kind 2), waiting for its answer; it carries no nonce ([P-5.3-1]). */
export interface OutstandingQuery {
  readonly attempt: number;
  /** The collector address the query was sent to: the one whose answer named `kid`. */
  readonly destination: Uint8Array;
  readonly token: Uint8Array;
  /** The collector key whose certificate is wanted. */
  readonly kid: Uint8Array;
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
  /** Certificate queries of this window ([P-8.7-3]); absent: none. */
  readonly queries?: readonly OutstandingQuery[];
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
  if (bookEntries(book) >= MAX_BOOK_ENTRIES) throw new RangeError(`nonce book: at most ${MAX_BOOK_ENTRIES} requests per window`);
  // Announcements carry no `page`; a page request names its page, even page 0 asked for again.
  const announcements = book.requests.filter((r) => r.page === undefined).length;
  if (request.page === undefined && announcements >= MAX_OUTSTANDING_REQUESTS) throw new RangeError(`nonce book: at most ${MAX_OUTSTANDING_REQUESTS} announcements per window`);
  for (const r of book.requests) {
    if (equalBytes(r.nonce, request.nonce)) throw new RangeError('nonce book: nonce reused');
    if (request.page === undefined && r.page === undefined && r.attempt === request.attempt && equalBytes(r.destination, request.destination) && r.mode === request.mode) {
      throw new RangeError(`nonce book: attempt ${request.attempt} to this destination already has a nonce`);
    }
  }
  assertFreshToken(book, request.token);
  return { ...book, requests: [...book.requests, request] };
}

/** Requests and queries the book holds. */
export function bookEntries(book: NonceBook): number {
  return book.requests.length + (book.queries?.length ?? 0);
}

function assertFreshToken(book: NonceBook, token: Uint8Array): void {
  if (book.requests.some((r) => equalBytes(r.token, token)) || (book.queries ?? []).some((q) => equalBytes(q.token, token))) {
    throw new RangeError('nonce book: token reused');
  }
}

/**
 * Records a sent certificate query. Throws `RangeError` on misuse: a reused token, a second query
 * for the same kid, or a full book.
 */
export function addQuery(book: NonceBook, query: OutstandingQuery): NonceBook {
  if (bookEntries(book) >= MAX_BOOK_ENTRIES) throw new RangeError(`nonce book: at most ${MAX_BOOK_ENTRIES} requests per window`);
  assertFreshToken(book, query.token);
  const queries = book.queries ?? [];
  if (queries.some((q) => equalBytes(q.kid, query.kid))) throw new RangeError('nonce book: this kid was already queried in this window');
  return { ...book, queries: [...queries, query] };
}

/** The outstanding certificate query with CoAP token `token`, if any. */
export function findQuery(book: NonceBook, token: Uint8Array): OutstandingQuery | undefined {
  return book.queries?.find((q) => equalBytes(q.token, token));
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
