import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOKEN_SLOT_MS, checkFormToken, issueFormToken } from './form-token.ts';

const KEY = new Uint8Array(32).fill(7);
const T0 = 1_000_000_000;

test('checkFormToken() accepts a fresh token for its own action', () => {
  assert.equal(checkFormToken(KEY, 'override', issueFormToken(KEY, 'override', T0), T0), 'ok');
});

test('checkFormToken() accepts a token for 5 to 10 minutes, then calls it expired', () => {
  const slotStart = Math.floor(T0 / TOKEN_SLOT_MS) * TOKEN_SLOT_MS;
  const token = issueFormToken(KEY, 'resume', slotStart);
  assert.equal(checkFormToken(KEY, 'resume', token, slotStart + 2 * TOKEN_SLOT_MS - 1), 'ok');
  assert.equal(checkFormToken(KEY, 'resume', token, slotStart + 2 * TOKEN_SLOT_MS), 'expired');
  const late = issueFormToken(KEY, 'resume', slotStart + TOKEN_SLOT_MS - 1);
  assert.equal(
    checkFormToken(KEY, 'resume', late, slotStart + TOKEN_SLOT_MS),
    'ok',
    'at least 5 min',
  );
  assert.equal(
    checkFormToken(KEY, 'resume', token, slotStart - 1),
    'expired',
    'not from the future',
  );
});

test('checkFormToken() refuses a token for another action, another key, or tampered', () => {
  const token = issueFormToken(KEY, 'login', T0);
  assert.equal(checkFormToken(KEY, 'override', token, T0), 'bad');
  assert.equal(checkFormToken(new Uint8Array(32).fill(8), 'login', token, T0), 'bad');
  const [slot, mac] = token.split('.');
  assert.equal(
    checkFormToken(KEY, 'login', `${Number(slot) + 1}.${mac ?? ''}`, T0),
    'bad',
    'slot is under the MAC',
  );
  assert.equal(
    checkFormToken(
      KEY,
      'login',
      `${slot ?? ''}.${(mac ?? '').slice(0, -1)}A`.replace(/AA$/, 'AB'),
      T0,
    ) === 'ok',
    false,
  );
});

test('checkFormToken() refuses missing and malformed tokens', () => {
  assert.equal(checkFormToken(KEY, 'login', undefined, T0), 'missing');
  assert.equal(checkFormToken(KEY, 'login', '', T0), 'missing');
  for (const token of [
    'x',
    '1.',
    '.abc',
    '1.abc',
    '1.a+b',
    `${'9'.repeat(13)}.${'a'.repeat(43)}`,
  ]) {
    assert.equal(checkFormToken(KEY, 'login', token, T0), 'malformed', token);
  }
});
