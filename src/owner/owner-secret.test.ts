import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  OwnerSecretError,
  decodeSecretHash,
  generateSecret,
  hashSecret,
  openOwnerSecret,
  readSecretHash,
  rotateSecret,
  verifySecret,
} from './owner-secret.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-owner-secret-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('generateSecret() gives 4 groups of 5 base32 characters, different each time', () => {
  const a = generateSecret();
  assert.match(a, /^[A-Z2-7]{5}(?:-[A-Z2-7]{5}){3}$/);
  assert.notEqual(a, generateSecret());
  assert.equal(
    generateSecret((n) => new Uint8Array(n).fill(31)),
    '77777-77777-77777-77777',
  );
});

test('hashSecret() and verifySecret() accept the secret however it is typed, and nothing else', async () => {
  const secret = 'Q7MZK-2XWPA-LD4NB-R6TUE';
  const record = await hashSecret(secret);
  assert.equal(record.algorithm, 'scrypt');
  assert.equal(record.hash.length, 64);
  assert.ok(!JSON.stringify(record).includes('Q7MZK'));
  assert.equal(await verifySecret(record, secret), true);
  assert.equal(await verifySecret(record, 'q7mzk 2xwpa ld4nb r6tue'), true);
  assert.equal(await verifySecret(record, 'Q7MZK-2XWPA-LD4NB-R6TUF'), false);
  assert.equal(await verifySecret(record, ''), false);
  const other = await hashSecret(secret);
  assert.notEqual(other.salt, record.salt, 'a fresh salt per hash');
  assert.notEqual(other.hash, record.hash);
});

test('openOwnerSecret() generates once, stores only a hash in a 0600 file, and verifies', async () => {
  const path = join(dir, 'owner-secret.json');
  const first = await openOwnerSecret(path);
  const secret = first.newSecret;
  assert.ok(secret !== undefined);
  const info = await stat(path);
  assert.equal(info.mode & 0o777, 0o600);
  const text = await readFile(path, 'utf8');
  assert.ok(
    !text.includes(secret) && !text.includes(secret.replaceAll('-', '')),
    'never stored in clear',
  );
  assert.equal(await first.verifier.verify(secret), true);
  assert.equal(await first.verifier.verify('AAAAA-AAAAA-AAAAA-AAAAA'), false);
  const second = await openOwnerSecret(path);
  assert.equal(second.newSecret, undefined, 'shown only at first start');
  assert.equal(await second.verifier.verify(secret), true);
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
});

test('rotateSecret() replaces the secret; a running verifier sees the new one at once', async () => {
  const path = join(dir, 'rotate.json');
  const { verifier, newSecret } = await openOwnerSecret(path);
  assert.ok(newSecret !== undefined);
  const rotated = await rotateSecret(path);
  assert.notEqual(rotated, newSecret);
  assert.equal(await verifier.verify(rotated), true);
  assert.equal(await verifier.verify(newSecret), false);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('readSecretHash() tightens a store readable by others to 0600', async () => {
  const path = join(dir, 'wide.json');
  await writeFile(path, `${JSON.stringify(await hashSecret('AAAAA-BBBBB-CCCCC-DDDDD'))}\n`);
  await chmod(path, 0o644);
  await readSecretHash(path);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('openOwnerSecret() refuses a damaged store instead of replacing it', async () => {
  const path = join(dir, 'damaged.json');
  await writeFile(path, '{"version":1', { mode: 0o600 });
  await assert.rejects(
    openOwnerSecret(path),
    (err: unknown) => err instanceof OwnerSecretError && err.code === 'BAD_JSON',
  );
  assert.equal(await readFile(path, 'utf8'), '{"version":1');
});

test('decodeSecretHash() refuses unknown keys, wrong types and costs over the bound', async () => {
  const good = await hashSecret('AAAAA-BBBBB-CCCCC-DDDDD');
  const cases: readonly [string, unknown, string][] = [
    ['unknown key', { ...good, secret: 'x' }, 'BAD_FIELD'],
    ['version', { ...good, version: 2 }, 'BAD_FIELD'],
    ['N not a power of two', { ...good, N: 20_000 }, 'BAD_FIELD'],
    ['cost too high', { ...good, N: 1 << 20, r: 8 }, 'BAD_FIELD'],
    ['salt not hex', { ...good, salt: 'zz' }, 'BAD_FIELD'],
    ['array', [good], 'BAD_JSON'],
  ];
  for (const [name, value, code] of cases) {
    assert.throws(
      () => decodeSecretHash(JSON.stringify(value)),
      (err: unknown) => err instanceof OwnerSecretError && err.code === code,
      name,
    );
  }
  assert.throws(
    () => decodeSecretHash(' '.repeat(5000)),
    (err: unknown) => err instanceof OwnerSecretError && err.code === 'TOO_LARGE',
  );
  assert.deepEqual(decodeSecretHash(JSON.stringify(good)), good);
});
