/**
 * Ed25519: RFC 8032 §7.1 vectors, the edge cases of [P-2.5-5] with our chosen outcome (refuse
 * S ≥ L, wrong lengths, small-order and non-canonical keys), PEM files, key ids, byte helpers.
 * @module
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { test } from 'node:test';
import {
  checkPublicKey,
  compareBytes,
  concatBytes,
  decodePrivateKeyPem,
  decodePublicKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
  equalBytes,
  fromHex,
  generatePrivateKey,
  importPrivateKey,
  importPublicKey,
  keyId,
  sign,
  toHex,
  verify,
} from './index.ts';
import { isSmallOrderEncoding } from '../testing/edwards-reference.ts';
import { testKey } from '../testing/keys.ts';

// RFC 8032 §7.1, "Test Vectors for Ed25519": TEST 1, 2, 3 and 1024, as printed there.
const TEST_1024_MESSAGE =
  '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27088d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb751fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380db2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0';

const RFC8032 = [
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    secretKey: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: TEST_1024_MESSAGE,
    signature:
      '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
] as const;

for (const v of RFC8032) {
  test(`importPrivateKey() derives the RFC 8032 ${v.name} public key`, () => {
    assert.equal(toHex(importPrivateKey(fromHex(v.secretKey)).publicKey.raw), v.publicKey);
  });
  test(`sign() reproduces the RFC 8032 ${v.name} signature`, () => {
    assert.equal(
      toHex(sign(importPrivateKey(fromHex(v.secretKey)), fromHex(v.message))),
      v.signature,
    );
  });
  test(`verify() accepts the RFC 8032 ${v.name} signature`, () => {
    assert.equal(
      verify(importPublicKey(fromHex(v.publicKey)), fromHex(v.message), fromHex(v.signature)),
      true,
    );
  });
}

test('the RFC 8032 TEST 1024 message is 1023 bytes long', () => {
  assert.equal(fromHex(TEST_1024_MESSAGE).byteLength, 1023);
});

// L = 2^252 + 27742317777372353535851937790883648493, the order of the base point (RFC 8032 §5.1).
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function readLittleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.byteLength - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function writeLittleEndian(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let rest = n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  assert.equal(rest, 0n, 'value does not fit');
  return out;
}

const test1 = RFC8032[0];
const test1Key = importPublicKey(fromHex(test1.publicKey));
const test1Signature = fromHex(test1.signature);
const test1Message = fromHex(test1.message);

test('verify() returns false for a 63-byte signature', () => {
  assert.equal(verify(test1Key, test1Message, test1Signature.subarray(0, 63)), false);
});

test('verify() returns false for a 65-byte signature and an empty one', () => {
  assert.equal(
    verify(test1Key, test1Message, concatBytes(test1Signature, new Uint8Array(1))),
    false,
  );
  assert.equal(verify(test1Key, test1Message, new Uint8Array(0)), false);
});

test('verify() returns false for S + L (RFC 8032 §5.1.7: S must be below L)', () => {
  const s = readLittleEndian(test1Signature.subarray(32));
  assert.ok(s < L);
  // S + L < 2^253 always fits the 32-byte field; a verifier that reduces S mod L would accept it.
  const malleated = concatBytes(test1Signature.subarray(0, 32), writeLittleEndian(s + L, 32));
  assert.notEqual(toHex(malleated), test1.signature);
  assert.equal(verify(test1Key, test1Message, malleated), false);
});

test('verify() returns false when one bit of R is flipped', () => {
  for (const bit of [0, 7, 100, 255]) {
    const bad = Uint8Array.from(test1Signature);
    bad[bit >> 3] = (bad[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    assert.equal(verify(test1Key, test1Message, bad), false, `bit ${bit}`);
  }
});

test('verify() returns false for another message or another key', () => {
  assert.equal(verify(test1Key, fromHex('00'), test1Signature), false);
  assert.equal(
    verify(importPublicKey(fromHex(RFC8032[1].publicKey)), test1Message, test1Signature),
    false,
  );
});

test('sign() is deterministic and verify() accepts its output (fixed and generated keys)', () => {
  const message = new TextEncoder().encode('tattler');
  for (const key of [testKey(7), generatePrivateKey()]) {
    const signature = sign(key, message);
    assert.equal(signature.byteLength, 64);
    assert.deepEqual(sign(key, message), signature);
    assert.equal(verify(key.publicKey, message, signature), true);
  }
});

// The 8 points of small order, by their canonical encodings ("Taming the many EdDSAs", 2020).
const SMALL_ORDER = [
  ['identity (order 1)', '0100000000000000000000000000000000000000000000000000000000000000'],
  ['order 2: y = p − 1', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'],
  ['order 4: y = 0, x even', '0000000000000000000000000000000000000000000000000000000000000000'],
  ['order 4: y = 0, x odd', '0000000000000000000000000000000000000000000000000000000000000080'],
  ['order 8 (1)', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'],
  ['order 8 (2)', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85'],
  ['order 8 (3)', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'],
  ['order 8 (4)', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa'],
] as const;

test('the small-order table holds 8 distinct encodings, each of a point P with 8·P = identity', () => {
  assert.equal(new Set(SMALL_ORDER.map(([, hex]) => hex)).size, 8);
  for (const [name, hex] of SMALL_ORDER) assert.ok(isSmallOrderEncoding(fromHex(hex)), name);
  for (const v of RFC8032) assert.ok(!isSmallOrderEncoding(fromHex(v.publicKey)), v.name);
});

for (const [name, hex] of SMALL_ORDER) {
  test(`checkPublicKey() and importPublicKey() refuse the small-order point ${name}`, () => {
    assert.match(checkPublicKey(fromHex(hex)) ?? '', /small order/);
    assert.throws(() => importPublicKey(fromHex(hex)), RangeError);
  });
}

// y ≥ p (RFC 8032 §5.1.3 step 1 fails): p itself, p + 1 (≡ 1, a second identity), 2^255 − 1.
const NON_CANONICAL = [
  ['y = p', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'],
  ['y = p with the sign bit', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'],
  ['y = p + 1', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'],
  ['y = 2^255 − 1', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'],
] as const;

for (const [name, hex] of NON_CANONICAL) {
  test(`checkPublicKey() and importPublicKey() refuse the non-canonical encoding ${name}`, () => {
    assert.match(checkPublicKey(fromHex(hex)) ?? '', /non-canonical/);
    assert.throws(() => importPublicKey(fromHex(hex)), RangeError);
  });
}

test('checkPublicKey() refuses 31 and 33 bytes; importPrivateKey() throws RangeError on a 31-byte seed', () => {
  assert.match(checkPublicKey(new Uint8Array(31).fill(9)) ?? '', /expected 32 bytes, got 31/);
  assert.match(checkPublicKey(new Uint8Array(33).fill(9)) ?? '', /expected 32 bytes, got 33/);
  assert.throws(() => importPublicKey(new Uint8Array(33).fill(9)), RangeError);
  assert.throws(() => importPrivateKey(new Uint8Array(31)), RangeError);
});

test('checkPublicKey() accepts the RFC 8032 public keys', () => {
  for (const v of RFC8032) assert.equal(checkPublicKey(fromHex(v.publicKey)), undefined, v.name);
});

// RFC 8410 §10.1 and §10.3: an Ed25519 public key and its private key as PEM.
const RFC8410_PRIVATE_PEM =
  '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n';
const RFC8410_PUBLIC_PEM =
  '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n';

test('decodePrivateKeyPem() and decodePublicKeyPem() read the RFC 8410 example keys', () => {
  const key = decodePrivateKeyPem(RFC8410_PRIVATE_PEM);
  assert.equal(toHex(key.seed), 'd4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842');
  const publicKey = decodePublicKeyPem(RFC8410_PUBLIC_PEM);
  assert.equal(
    toHex(publicKey.raw),
    '19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1',
  );
  assert.deepEqual(key.publicKey.raw, publicKey.raw);
});

test('encodePrivateKeyPem() and encodePublicKeyPem() write the RFC 8410 examples byte for byte', () => {
  assert.equal(encodePrivateKeyPem(decodePrivateKeyPem(RFC8410_PRIVATE_PEM)), RFC8410_PRIVATE_PEM);
  assert.equal(encodePublicKeyPem(decodePublicKeyPem(RFC8410_PUBLIC_PEM)), RFC8410_PUBLIC_PEM);
});

test('PEM round trip keeps the seed, the public key and the key id', () => {
  for (const n of [1, 0x31, 0xff]) {
    const key = testKey(n);
    const back = decodePrivateKeyPem(encodePrivateKeyPem(key));
    assert.deepEqual(back.seed, key.seed);
    assert.deepEqual(back.publicKey.raw, key.publicKey.raw);
    const publicBack = decodePublicKeyPem(encodePublicKeyPem(key.publicKey));
    assert.deepEqual(publicBack.raw, key.publicKey.raw);
    assert.deepEqual(publicBack.kid, key.publicKey.kid);
  }
});

test('decodePrivateKeyPem() and decodePublicKeyPem() throw RangeError on junk, X25519 keys and the other kind of key file', () => {
  // An X25519 key (RFC 8410 §7, OID 1.3.101.110) has the same shape but is no signing key.
  const x25519 = createPrivateKey({
    key: Buffer.from('302e020100300506032b656e04220420' + '42'.repeat(32), 'hex'),
    format: 'der',
    type: 'pkcs8',
  });
  const x25519Private = x25519.export({ format: 'pem', type: 'pkcs8' }).toString();
  for (const pem of ['', 'not a key', RFC8410_PUBLIC_PEM, x25519Private]) {
    assert.throws(() => decodePrivateKeyPem(pem), RangeError, JSON.stringify(pem.slice(0, 30)));
  }
  for (const pem of ['', 'not a key', x25519Private, RFC8410_PRIVATE_PEM]) {
    assert.throws(() => decodePublicKeyPem(pem), RangeError, JSON.stringify(pem.slice(0, 30)));
  }
});

test('keyId() is the first 8 bytes of SHA-256 over the raw public key', () => {
  for (const v of RFC8032) {
    const raw = fromHex(v.publicKey);
    const expected = createHash('sha256').update(raw).digest('hex').slice(0, 16);
    assert.equal(toHex(keyId(raw)), expected, v.name);
    assert.equal(toHex(importPublicKey(raw).kid), expected, v.name);
    assert.equal(toHex(importPrivateKey(fromHex(v.secretKey)).publicKey.kid), expected, v.name);
  }
});

test('importPublicKey() and importPrivateKey() copy their input', () => {
  const raw = fromHex(test1.publicKey);
  const key = importPublicKey(raw);
  raw.fill(0);
  assert.equal(toHex(key.raw), test1.publicKey);
});

test('equalBytes() is true for equal content only, false (not throwing) for different lengths', () => {
  assert.equal(equalBytes(new Uint8Array(0), new Uint8Array(0)), true);
  assert.equal(equalBytes(fromHex('0102'), fromHex('0102')), true);
  assert.equal(equalBytes(fromHex('0102'), fromHex('0103')), false);
  assert.equal(equalBytes(fromHex('0102'), fromHex('010200')), false);
  assert.equal(equalBytes(fromHex('0102'), new Uint8Array(0)), false);
  // Views at an offset compare by content, not by their backing buffer.
  const buffer = fromHex('ff0102ff');
  assert.equal(equalBytes(buffer.subarray(1, 3), fromHex('0102')), true);
});

test('compareBytes() orders bytewise, shorter first on a common prefix', () => {
  assert.ok(compareBytes(fromHex('01'), fromHex('02')) < 0);
  assert.ok(compareBytes(fromHex('0200'), fromHex('0201')) < 0);
  assert.ok(compareBytes(fromHex('02'), fromHex('0100')) > 0);
  assert.ok(compareBytes(fromHex('01'), fromHex('0100')) < 0);
  assert.equal(compareBytes(fromHex('0102'), fromHex('0102')), 0);
});

test('toHex() and fromHex() round trip; fromHex() throws RangeError on odd or non-hex input', () => {
  assert.equal(toHex(fromHex('00ff10AB')), '00ff10ab');
  assert.equal(toHex(fromHex('ff0102ff').subarray(1, 3)), '0102');
  for (const bad of ['0', 'abc', '0g', 'zz', '0x00'])
    assert.throws(() => fromHex(bad), RangeError, bad);
});
