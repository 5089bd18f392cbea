/**
 * Per-form tokens of the status page: stateless, expiring HMACs over a server key, the form's
 * action and the time slot it was issued in. They stop cross-site forms (CSRF), not guessing;
 * the owner secret does that. Pure: the key and the time are arguments.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** One slot is 5 min; a token from the current or the previous slot is accepted: valid 5–10 min. */
export const TOKEN_SLOT_MS = 5 * 60 * 1000;
/** The forms a token can be issued for; a token for one is refused by the others. */
export const FORM_ACTIONS = ['login', 'override', 'resume'] as const;
export type FormAction = (typeof FORM_ACTIONS)[number];

/** Why a token was refused. */
export type TokenCheck = 'ok' | 'missing' | 'malformed' | 'expired' | 'bad';

/** base64url of 32 bytes. */
const MAC_CHARS = 43;

function macOf(key: Uint8Array, action: FormAction, slot: number): string {
  // Domain-separated: this key signs nothing else, and the action and slot are fixed-format.
  return createHmac('sha256', key)
    .update(`tattler-owner-form\0${action}\0${slot}`)
    .digest('base64url');
}

/**
 * A token for `action`, issued at `nowMs` (a monotonic clock): `<slot>.<mac>`.
 * @example issueFormToken(key, 'override', clock.monotonicMs()) // '5872.q1Xo…'
 */
export function issueFormToken(key: Uint8Array, action: FormAction, nowMs: number): string {
  const slot = Math.floor(nowMs / TOKEN_SLOT_MS);
  return `${slot}.${macOf(key, action, slot)}`;
}

/**
 * Checks a submitted token for `action` at `nowMs`; the MAC is compared in constant time.
 * @example checkFormToken(key, 'override', token, clock.monotonicMs()) // 'ok'
 */
export function checkFormToken(
  key: Uint8Array,
  action: FormAction,
  token: string | undefined,
  nowMs: number,
): TokenCheck {
  if (token === undefined || token === '') return 'missing';
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]+)$/.exec(token);
  const slotText = match?.[1];
  const mac = match?.[2];
  if (slotText === undefined || mac === undefined || mac.length !== MAC_CHARS) return 'malformed';
  const slot = Number(slotText);
  const expected = Buffer.from(macOf(key, action, slot));
  if (!timingSafeEqual(expected, Buffer.from(mac))) return 'bad';
  const current = Math.floor(nowMs / TOKEN_SLOT_MS);
  return slot === current || slot === current - 1 ? 'ok' : 'expired';
}
