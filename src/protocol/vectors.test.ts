/**
 * The golden and negative vectors in vectors/protocol/*.json, checked both ways: the code
 * rebuilds every golden datagram byte for byte, decodes the file's hex to the file's JSON, and
 * refuses every hostile datagram with exactly the file's code.
 * @module
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromHex, importPublicKey, toHex, type PublicKey } from '../crypto/index.ts';
import {
  bucketEntryBytes,
  decodeRequest,
  decodeResponse,
  isProtocolError,
  MAX_BUCKET_ENTRY_BYTES,
  verifyCoseSignature,
  verifySign1,
  type Response,
  type Sign1,
} from './index.ts';
import { goldenVectors, negativeVectors } from '../testing/vector-cases.ts';
import { toVectorJson } from '../testing/vector-json.ts';

const DIR = join(import.meta.dirname, '..', '..', 'vectors', 'protocol');

interface GoldenFile {
  publicKeys: Record<string, string>;
  vectors: { name: string; direction: 'request' | 'response'; hex: string; bytes: number; decoded: unknown }[];
}
interface NegativeFile {
  publicKeys: Record<string, string>;
  vectors: { name: string; direction: 'request' | 'response'; hex: string; code: string }[];
}

function readVectorFile(file: string): unknown {
  return JSON.parse(readFileSync(join(DIR, `${file}.json`), 'utf8'));
}

function keysOf(publicKeys: Record<string, string>): Map<string, PublicKey> {
  const out = new Map<string, PublicKey>();
  for (const hex of Object.values(publicKeys)) {
    const key = importPublicKey(fromHex(hex));
    out.set(toHex(key.kid), key);
  }
  return out;
}

function verifyBy(keys: Map<string, PublicKey>, sign1: Sign1): boolean {
  const key = keys.get(toHex(sign1.kid));
  return key !== undefined && verifySign1(sign1, key);
}

/** Every signature inside an answer, verified with the vector file's public keys. */
function allSignaturesValid(response: Response, keys: Map<string, PublicKey>): boolean {
  switch (response.kind) {
    case 'verdict': {
      const record = response.verdict.value.record;
      return verifyBy(keys, response.verdict.sign1) && (record === undefined || verifyBy(keys, record.sign1));
    }
    case 'private':
      return verifyBy(keys, response.bucket.sign1) && verifyBy(keys, response.policy.sign1);
    case 'certificate':
      return verifyBy(keys, response.certificate.sign1);
    case 'root':
      return response.root.sign.signatures.every((s) => {
        const key = keys.get(toHex(s.kid));
        return key !== undefined && verifyCoseSignature(response.root.sign, s, key);
      });
    case 'unsigned-verdict':
    case 'not-found':
    case 'busy':
      return true;
  }
}

for (const [file, vectors] of Object.entries(goldenVectors())) {
  const doc = readVectorFile(file) as GoldenFile;
  const keys = keysOf(doc.publicKeys);
  test(`vectors/protocol/${file}.json holds exactly the vectors the code builds`, () => {
    assert.deepEqual(doc.vectors.map((v) => v.name), vectors.map((v) => v.name));
  });
  for (const v of vectors) {
    const stored = doc.vectors.find((x) => x.name === v.name);
    test(`${file}/${v.name}: encoder output equals the stored hex`, () => {
      assert.ok(stored);
      assert.equal(toHex(v.bytes), stored.hex);
    });
    test(`${file}/${v.name}: the stored hex decodes to the stored value, within the size rule`, () => {
      assert.ok(stored);
      const bytes = fromHex(stored.hex);
      assert.ok(bytes.byteLength <= 1232, `${bytes.byteLength} bytes`);
      if (stored.direction === 'request') {
        assert.equal(bytes.byteLength, 1232);
        assert.deepEqual(toVectorJson(decodeRequest(bytes)), stored.decoded);
      } else {
        const decoded = decodeResponse(bytes);
        assert.deepEqual(toVectorJson(decoded), stored.decoded);
        assert.ok(allSignaturesValid(decoded.response, keys), 'every signature verifies with the file’s public keys');
      }
    });
  }
}

test('the fullest bucket page holds 15 entries of the largest allowed size', () => {
  const fullest = goldenVectors()['private-answer']?.find((v) => v.name === 'fullest');
  assert.ok(fullest);
  const { response } = decodeResponse(fullest.bytes);
  if (response.kind !== 'private') assert.fail(`expected a private answer, got ${response.kind}`);
  assert.equal(response.bucket.value.entries.length, 15);
  for (const entry of response.bucket.value.entries) assert.ok(bucketEntryBytes(entry) <= MAX_BUCKET_ENTRY_BYTES);
  assert.ok(Math.max(...response.bucket.value.entries.map(bucketEntryBytes)) >= MAX_BUCKET_ENTRY_BYTES - 2, 'entries are near the worst size');
});

const negative = readVectorFile('negative') as NegativeFile;
const negativeKeys = keysOf(negative.publicKeys);
test('vectors/protocol/negative.json holds exactly the vectors the code builds', () => {
  const built = negativeVectors();
  assert.deepEqual(negative.vectors.map((v) => [v.name, v.hex, v.code]), built.map((v) => [v.name, toHex(v.bytes), v.code]));
});
for (const v of negative.vectors) {
  test(`negative/${v.name}: refused with ${v.code}`, () => {
    const bytes = fromHex(v.hex);
    let code: string | undefined;
    try {
      const decoded = v.direction === 'request' ? decodeRequest(bytes) : decodeResponse(bytes);
      if ('response' in decoded && !allSignaturesValid(decoded.response, negativeKeys)) code = 'BAD_SIGNATURE';
    } catch (err) {
      assert.ok(isProtocolError(err), `expected ProtocolError, got ${String(err)}`);
      code = err.code;
    }
    assert.equal(code, v.code);
  });
}
