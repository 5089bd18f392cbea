import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addRequest, findRequest, isSettledFor, isWindowClosed, MAX_OUTSTANDING_REQUESTS, openNonceBook, settleNonceBook, type OutstandingRequest } from './nonce-book.ts';

const V6 = new Uint8Array(16).fill(1);
const V4 = new Uint8Array(4).fill(2);
function request(attempt: number, destination: Uint8Array, n: number): OutstandingRequest {
  return { attempt, destination, token: new Uint8Array(8).fill(n), nonce: new Uint8Array(16).fill(n), mode: 'identified', quarantined: false };
}

test('addRequest() keeps one nonce per (attempt, destination), all valid until the window closes', () => {
  let book = openNonceBook(1_000, { answerWindowMs: 10_000 });
  book = addRequest(book, request(0, V6, 1));
  book = addRequest(book, request(0, V4, 2));
  book = addRequest(book, request(1, V6, 3));
  assert.throws(() => addRequest(book, request(1, V6, 4)), RangeError);
  assert.throws(() => addRequest(book, request(2, V6, 1)), /nonce reused/);
  assert.equal(findRequest(book, new Uint8Array(8).fill(2))?.destination, V4);
  assert.equal(isWindowClosed(book, 10_999), false);
  assert.equal(isWindowClosed(book, 11_000), true);
});

test('addRequest() is bounded', () => {
  let book = openNonceBook(0);
  for (let i = 0; i < MAX_OUTSTANDING_REQUESTS; i++) book = addRequest(book, request(i, V6, i + 1));
  assert.throws(() => addRequest(book, request(99, V6, 200)), /at most/);
});

test('settleNonceBook() acts once; a later FAIL overrides a PASS and is reported', () => {
  const book = addRequest(openNonceBook(0), request(0, V6, 1));
  const first = settleNonceBook(book, { status: 'pass', token: new Uint8Array(8).fill(1) });
  assert.equal(first.action, 'act');
  assert.equal(settleNonceBook(first.book, { status: 'pass', token: new Uint8Array(8).fill(1) }).action, 'none');
  assert.equal(isSettledFor(first.book, 'pass'), true);
  assert.equal(isSettledFor(first.book, 'fail'), false);
  const fail = settleNonceBook(first.book, { status: 'fail', token: new Uint8Array(8).fill(1) });
  assert.equal(fail.action, 'act');
  assert.equal(fail.overrode?.status, 'pass');
  assert.equal(settleNonceBook(fail.book, { status: 'fail', token: new Uint8Array(8).fill(1) }).action, 'none');
  assert.equal(isSettledFor(fail.book, 'private'), true);
});
