/**
 * The request mixes of `npm run bench:collector`: pre-built 1232-byte request datagrams for the
 * load generator (tools/udp-load.c), and the check that a server's answer is the one the mix
 * expects. Pure: requests in, bytes out.
 * @module
 */
import type { PublicKey } from '../crypto/index.ts';
import { decodeResponse, encodeRequest, verifySign1, type Request } from '../protocol/index.ts';
import { identifiedRequest, privateRequest } from '../testing/collector-fixture.ts';

/** The mixes, each one datagram file for the generator. */
export const MIXES = ['pass', 'fail10', 'fail', 'private'] as const;
/** One request mix. */
export type Mix = (typeof MIXES)[number];

/** What each mix sends, as printed in the table. */
export const MIX_LABELS: Readonly<Record<Mix, string>> = Object.freeze({
  pass: 'all PASS',
  fail10: '10 % FAIL',
  fail: 'all FAIL',
  private: 'all private',
});

/** The answer a request of a mix must get from the collector (or the coap-package baseline). */
export type ExpectedAnswer = 'pass' | 'fail' | 'private';

/** Distinct requests per mix: each with its own nonce and message id. */
export const DATAGRAMS_PER_MIX = 1024;
/** A FAIL every this many requests in the `fail10` mix (1024 / 10 → 103 FAILs, 10.06 %). */
const FAIL10_PERIOD = 10;

// The test feed lists the DIR-859 as vulnerable below 2.0 (src/testing/collector-fixture.ts):
// 1.05B03 gets a signed FAIL, the fixed 2.0 an unsigned PASS ([P-5.1-4]).
const VULNERABLE_VERSION = '1.05B03';
const FIXED_VERSION = '2.0';

/** The `index`-th datagram's nonce: 16 bytes, the index in the first four, the mix in the fifth. */
function nonceOf(mix: Mix, index: number): Uint8Array {
  const nonce = new Uint8Array(16).fill(0x5a);
  new DataView(nonce.buffer).setUint32(0, index);
  nonce[4] = MIXES.indexOf(mix);
  return nonce;
}

/** The answer request `index` of `mix` expects. */
export function expectedAnswer(mix: Mix, index: number): ExpectedAnswer {
  switch (mix) {
    case 'pass':
      return 'pass';
    case 'fail':
      return 'fail';
    case 'fail10':
      return index % FAIL10_PERIOD === 0 ? 'fail' : 'pass';
    case 'private':
      return 'private';
  }
}

function requestOf(mix: Mix, index: number): Request {
  const nonce = nonceOf(mix, index);
  switch (expectedAnswer(mix, index)) {
    case 'pass':
      return identifiedRequest({ nonce, swVersion: { version: FIXED_VERSION } });
    case 'fail':
      return identifiedRequest({ nonce, swVersion: { version: VULNERABLE_VERSION } });
    case 'private': {
      const base = privateRequest(0);
      if (base.kind !== 'private')
        throw new TypeError('privateRequest() returned a non-private request');
      return { ...base, nonce };
    }
  }
}

/**
 * The `count` request datagrams of `mix`, each 1232 bytes, back to back: the generator's input.
 * The token (bytes 4..11) is a placeholder that the generator overwrites with a sequence number.
 * @example buildMixDatagrams('fail10').byteLength === 1024 * 1232
 */
export function buildMixDatagrams(mix: Mix, count = DATAGRAMS_PER_MIX): Uint8Array {
  const token = new Uint8Array(8);
  const parts: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    parts.push(encodeRequest(requestOf(mix, index), { messageId: index & 0xffff, token }));
  }
  return Buffer.concat(parts);
}

/** The request datagram `index` of `mix` alone, with `token`, for checking one real answer. */
export function mixDatagram(mix: Mix, index: number, token: Uint8Array): Uint8Array {
  return encodeRequest(requestOf(mix, index), { messageId: index & 0xffff, token });
}

/**
 * A description of what is wrong with `answer` to `request` when `expected.answer` was due, or
 * `undefined` when it is right: the echoed token, the size, the decoded kind and verdict status,
 * and a FAIL's signature under `expected.signer`.
 */
export function checkAnswer(
  request: Uint8Array,
  answer: Uint8Array,
  expected: { answer: ExpectedAnswer; signer: PublicKey },
): string | undefined {
  let decoded;
  try {
    decoded = decodeResponse(answer);
  } catch (err) {
    return `undecodable answer (${answer.byteLength} bytes): ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!Buffer.from(decoded.frame.token).equals(Buffer.from(request.subarray(4, 12))))
    return 'the answer does not echo the token';
  if (answer.byteLength > request.byteLength)
    return `answer of ${answer.byteLength} bytes exceeds its request`;
  const response = decoded.response;
  switch (expected.answer) {
    case 'pass':
      if (response.kind !== 'unsigned-verdict')
        return `expected an unsigned PASS verdict, got a ${response.kind} answer`;
      return response.verdict.status === 'pass'
        ? undefined
        : `expected PASS, got ${response.verdict.status.toUpperCase()}`;
    case 'fail':
      if (response.kind !== 'verdict')
        return `expected a signed FAIL verdict, got a ${response.kind} answer`;
      if (response.verdict.value.status !== 'fail')
        return `expected FAIL, got ${response.verdict.value.status.toUpperCase()}`;
      return verifySign1(response.verdict.sign1, expected.signer)
        ? undefined
        : 'the FAIL verdict does not verify with the collector key';
    case 'private':
      return response.kind === 'private'
        ? undefined
        : `expected a private answer, got a ${response.kind} answer`;
  }
}
