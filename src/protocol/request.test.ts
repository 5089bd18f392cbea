/**
 * Request framing properties that the vectors do not pin down: every body size pads to exactly
 * 1232 bytes, and decoded requests never alias the datagram.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDENTIFIED } from '../testing/vector-cases.ts';
import { decodeRequest, encodeRequest, MAX_REQUEST_BODY_BYTES, requestBodyBytes, REQUEST_BYTES, type Request } from './index.ts';

const FRAME = { messageId: 1, token: new Uint8Array(8).fill(7) };

test('encodeRequest() makes exactly 1232 bytes for every body size up to the maximum', () => {
  if (IDENTIFIED.kind !== 'identified') assert.fail('fixture is identified');
  const base = requestBodyBytes(IDENTIFIED);
  let seen = 0;
  for (let extra = 0; base + extra <= MAX_REQUEST_BODY_BYTES; extra++) {
    const request: Request = { ...IDENTIFIED, swName: `fw${'x'.repeat(Math.min(extra, 62))}`, ...(extra > 62 ? { sbomUrl: `https://${'s'.repeat(Math.min(extra - 62, 240))}` } : {}) };
    if (requestBodyBytes(request) > MAX_REQUEST_BODY_BYTES) break;
    const datagram = encodeRequest(request, FRAME);
    assert.equal(datagram.byteLength, REQUEST_BYTES);
    assert.deepEqual(decodeRequest(datagram).request, request);
    seen++;
  }
  assert.ok(seen > 250, `covered ${seen} body sizes`);
});

test('decodeRequest() returns values that do not alias the datagram', () => {
  const datagram = encodeRequest(IDENTIFIED, FRAME);
  const { request, frame } = decodeRequest(datagram);
  if (request.kind !== 'identified') assert.fail('expected identified');
  const nonce = Uint8Array.from(request.nonce);
  const token = Uint8Array.from(frame.token);
  datagram.fill(0xee);
  assert.deepEqual(request.nonce, nonce);
  assert.deepEqual(frame.token, token);
});
