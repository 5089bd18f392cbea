/**
 * The demo's data preparation: every file it promises, checked with the verification code the
 * collector and the devices run; the collector accepts the config; a directory of ours is
 * remade, one that is not ours is refused and left as it was.
 * @module
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodePrivateKeyPem, keyId } from '../crypto/index.ts';
import { verifyBundle } from '../feed/bundle.ts';
import { decodeCbor, formatPrefix, isSelfSigned, readKeyCertificate, readRoot, verifySign1 } from '../protocol/index.ts';
import { keyByKid, trustAnchorsOf } from '../protocol/trust-root.ts';
import { runCli } from '../testing/cli-run.ts';
import { DEMO_MARKER, DEMO_OPERATOR, DemoSetupError, prepareDemoData, writeDemoCollectorConfig, type DemoFiles } from './setup.ts';
import { DEMO_SCOPE } from './types.ts';

const nowSeconds = Math.floor(Date.now() / 1000);
let tmp = '';
let files: DemoFiles | undefined;
const lines: string[] = [];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tattler-demo-setup-'));
  files = await prepareDemoData(join(tmp, 'demo-data'), { nowSeconds, progress: (line) => lines.push(line) });
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function prepared(): DemoFiles {
  assert.ok(files !== undefined, 'prepareDemoData ran');
  return files;
}

async function bytesOf(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

test('prepareDemoData() writes every file it names, private keys mode 0600, and says what it did', async () => {
  const f = prepared();
  for (const path of [f.rootPath, f.certificatePath, f.collectorKeyPath, f.bundlePath, f.feedDbPath, join(f.dir, DEMO_MARKER), ...f.created.map((c) => c.path)]) {
    assert.ok(path.startsWith(f.dir), `${path} inside the demo directory`);
    await stat(path);
  }
  const keys = await readdir(join(f.dir, 'keys'));
  assert.deepEqual(keys.filter((k) => k.endsWith('.key')).sort(), ['collector.key', 'feed.key', 'registry.key', 'root.key']);
  for (const key of keys.filter((k) => k.endsWith('.key'))) {
    assert.equal((await stat(join(f.dir, 'keys', key))).mode & 0o777, 0o600, key);
    assert.match(await readFile(join(f.dir, 'keys', key), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  }
  assert.equal(lines[0], 'creating trust root…');
  assert.ok(lines.some((l) => l.startsWith('importing 14 NVD records')), lines.join('\n'));
  assert.ok(lines.some((l) => l === `signed feed version ${String(f.feedVersion)}: ${String(f.recordCount)} records (6 quarantine-eligible), 4096 pages, valid 7 days`), lines.join('\n'));
});

test('prepareDemoData(): the root is self-signed and the bundle verifies against it as the collector checks it', async () => {
  const f = prepared();
  const root = readRoot(decodeCbor(await bytesOf(f.rootPath)));
  assert.ok(isSelfSigned(root));
  assert.equal(root.value.threshold, 1);
  const verified = verifyBundle(await bytesOf(f.bundlePath), root.value, { nowSeconds });
  assert.ok(verified.ok, verified.ok ? '' : `${verified.reason}: ${verified.message}`);
  const m = verified.bundle.manifest;
  assert.equal(m.feedVersion, f.feedVersion);
  assert.equal(m.recordCount, f.recordCount);
  assert.ok(m.recordCount > 0);
  assert.ok(m.expiresAt - nowSeconds >= 86_400, 'the feed lasts at least a day');
  // A day later it still verifies; after its expiry it does not.
  assert.ok(verifyBundle(await bytesOf(f.bundlePath), root.value, { nowSeconds: nowSeconds + 86_400 }).ok);
  assert.equal(verifyBundle(await bytesOf(f.bundlePath), root.value, { nowSeconds: m.expiresAt }).ok, false);
});

test('prepareDemoData(): the collector certificate is signed by a registry key of the root, for DEMO_SCOPE, for at least a day', async () => {
  const f = prepared();
  const root = readRoot(decodeCbor(await bytesOf(f.rootPath)));
  const certificate = readKeyCertificate(decodeCbor(await bytesOf(f.certificatePath)));
  const issuer = keyByKid(trustAnchorsOf(root.value).registryKeys, certificate.sign1.kid);
  assert.ok(issuer !== undefined, 'issued by a registry key of the root');
  assert.ok(verifySign1(certificate.sign1, issuer));
  const c = certificate.value;
  assert.deepEqual(c.scope.map(formatPrefix), [...DEMO_SCOPE]);
  assert.equal(c.operator, DEMO_OPERATOR);
  assert.ok(c.notBefore <= nowSeconds && c.notAfter - nowSeconds >= 86_400, 'valid now and for a day');
  // The certificate is for the collector key the config names.
  const collector = decodePrivateKeyPem(await readFile(f.collectorKeyPath, 'utf8'));
  assert.deepEqual(keyId(c.subject), collector.publicKey.kid);
});

test('writeDemoCollectorConfig(): tattler collector --check-config accepts it, with relative paths', async () => {
  const f = prepared();
  const config = await writeDemoCollectorConfig(f, { listen: [{ address: '127.0.0.1', port: 0 }, { address: '::1', port: 0 }], httpPort: 0 });
  assert.equal(config, join(f.dir, 'collector.yaml'));
  const text = await readFile(config, 'utf8');
  assert.ok(!text.includes(f.dir), 'no absolute paths in the config');
  const checked = await runCli(['collector', '--check-config', config]);
  assert.equal(checked.code, 0, checked.err + checked.out);
  assert.match(checked.out, /operator {4}Tattler demo ISP/);
  assert.match(checked.out, /rate limit {2}1000\/s, burst 2000/);
  assert.match(checked.out, /dashboard on/);
});

test('prepareDemoData() remakes a directory it made before, leaving nothing of the old run', async () => {
  const dir = join(tmp, 'again');
  const first = await prepareDemoData(dir, { nowSeconds, progress: () => undefined });
  const firstRoot = await bytesOf(first.rootPath);
  await writeFile(join(dir, 'left-over.txt'), 'from the first run');
  const second = await prepareDemoData(dir, { nowSeconds: nowSeconds + 1, progress: () => undefined });
  assert.equal(second.feedVersion, first.feedVersion + 1);
  await assert.rejects(stat(join(dir, 'left-over.txt')), { code: 'ENOENT' });
  // New keys: the first run's root is gone (its bytes were read before the second run started).
  assert.notDeepEqual(await bytesOf(second.rootPath), firstRoot);
  await stat(join(dir, DEMO_MARKER));
});

test('prepareDemoData() refuses a non-empty directory it did not make, and leaves it untouched', async () => {
  const dir = join(tmp, 'users');
  await mkdir(dir);
  await writeFile(join(dir, 'notes.txt'), 'mine');
  await assert.rejects(prepareDemoData(dir, { nowSeconds, progress: () => undefined }), (err: unknown) => {
    assert.ok(err instanceof DemoSetupError);
    assert.equal(err.code, 'DIR_NOT_OURS');
    assert.match(err.message, /was not made by tattler demo; remove it or pass --data DIR/);
    return true;
  });
  assert.deepEqual(await readdir(dir), ['notes.txt']);
  assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'mine');
});

test('prepareDemoData() takes an empty existing directory', async () => {
  const dir = join(tmp, 'empty');
  await mkdir(dir);
  const f = await prepareDemoData(dir, { nowSeconds, progress: () => undefined });
  await stat(f.bundlePath);
});

test('prepareDemoData() refuses a relative directory (a caller bug: RangeError)', async () => {
  await assert.rejects(prepareDemoData('demo-data', { nowSeconds, progress: () => undefined }), RangeError);
});
