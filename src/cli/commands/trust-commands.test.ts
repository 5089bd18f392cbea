import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../testing/cli-run.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-trust-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function generate(role: string): Promise<{ key: string; pub: string; kid: string }> {
  const run = await runCli(['keys', 'generate', '--role', role, '--out', dir]);
  assert.equal(run.code, 0, run.err);
  const kid = /key ([0-9a-f]{16})/.exec(run.out)?.[1] ?? '';
  return { key: join(dir, `${role}-${kid}.key`), pub: join(dir, `${role}-${kid}.pub`), kid };
}

test('keys generate writes ROLE-KID.key (0600) and ROLE-KID.pub and prints the fingerprint', async () => {
  const k = await generate('collector');
  assert.match(k.kid, /^[0-9a-f]{16}$/);
  assert.equal((await stat(k.key)).mode & 0o777, 0o600);
  assert.match(await readFile(k.key, 'utf8'), /BEGIN PRIVATE KEY/);
  assert.match(await readFile(k.pub, 'utf8'), /BEGIN PUBLIC KEY/);
  assert.equal((await readdir(dir)).some((f) => f.endsWith('.tmp')), false);
  const bad = await runCli(['keys', 'generate', '--role', 'admin', '--out', dir]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /Allowed choices are root, feed, registry, collector/);
});

test('root init, rotate and verify follow a chain and refuse an under-signed link', async () => {
  const [a, b, c, d] = [await generate('root'), await generate('root'), await generate('root'), await generate('root')];
  const feed = await generate('feed');
  const feed2 = await generate('feed');
  const registry = await generate('registry');
  const v1 = join(dir, 'root-v1.cbor');
  const init = await runCli(['root', 'init', '--threshold', '2', '--keys', a.pub, b.pub, c.pub, '--feed-key', feed.pub, '--registry-key', registry.pub, '--sign', a.key, b.key, '--out', v1]);
  assert.equal(init.code, 0, init.err);
  assert.match(init.out, /root v1: threshold 2 of 3/);
  const v2 = join(dir, 'root-v2.cbor');
  const rotate = await runCli(['root', 'rotate', '--from', v1, '--out', v2, '--threshold', '3', '--keys', a.pub, b.pub, c.pub, d.pub, '--feed-key', feed2.pub, '--sign', a.key, b.key, c.key]);
  assert.equal(rotate.code, 0, rotate.err);
  const weak = await runCli(['root', 'rotate', '--from', v2, '--out', join(dir, 'root-v3.cbor'), '--sign', a.key, b.key]);
  assert.equal(weak.code, 1);
  assert.match(weak.err, /root-v3\.cbor: not written: ROOT_UNDER_SIGNED_PREVIOUS: root v3: 2 valid signature\(s\) of v2's root keys, threshold 3/);
  const verify = await runCli(['root', 'verify', v2, '--trusted', v1]);
  assert.equal(verify.code, 0, verify.err);
  assert.match(verify.out, /ok {6}.*root-v2\.cbor: root v2\ncurrent: root v2: threshold 3 of 4/);
  const rollback = await runCli(['root', 'verify', v2, v1, '--trusted', v1]);
  assert.equal(rollback.code, 2);
  assert.match(rollback.out, /REFUSED .*root-v1\.cbor: ROOT_ROLLBACK/);
});

test('registry issue and show: a certificate of at most 7 days, with errors that name the fix', async () => {
  const collector = await generate('collector');
  const registry = await generate('registry');
  const cert = join(dir, 'collector.cert.cbor');
  const issue = await runCli(['registry', 'issue', '--key', collector.pub, '--operator', 'Example ISP', '--scope', '2001:db8::/32', '192.0.2.0/24', '--expires-in', '7d', '--signing-key', registry.key, '--out', cert]);
  assert.equal(issue.code, 0, issue.err);
  const show = await runCli(['registry', 'show', cert]);
  assert.equal(show.code, 0, show.err);
  const shown = JSON.parse(show.out) as Record<string, unknown>;
  assert.equal(shown.subjectKid, collector.kid);
  assert.equal(shown.issuerKid, registry.kid);
  assert.deepEqual(shown.scope, ['2001:db8::/32', '192.0.2.0/24']);
  assert.match(String(shown.status), /^valid for (6d23h|7d)/);
  const tooLong = await runCli(['registry', 'issue', '--key', collector.pub, '--operator', 'X', '--scope', '2001:db8::/32', '--expires-in', '8d', '--signing-key', registry.key, '--out', cert]);
  assert.match(tooLong.err, /--expires-in 8d: certificates last at most 7d/);
  const badScope = await runCli(['registry', 'issue', '--key', collector.pub, '--operator', 'X', '--scope', '2001:db8::1/32', '--expires-in', '1d', '--signing-key', registry.key, '--out', cert]);
  assert.match(badScope.err, /--scope 2001:db8::1\/32: .*host bits are set; write ADDRESS\/LENGTH/);
  const swapped = await runCli(['registry', 'issue', '--key', collector.key, '--operator', 'X', '--scope', '2001:db8::/32', '--expires-in', '1d', '--signing-key', registry.key, '--out', cert]);
  assert.match(swapped.err, /collector-[0-9a-f]+\.key: not an Ed25519 public key .*private key.*pass the matching \.pub file/);
  const notCert = await runCli(['registry', 'show', collector.pub]);
  assert.match(notCert.err, /\.pub: not a valid key certificate .*pass a file written by "tattler registry issue"/);
});

test('every new command has help with an example', async () => {
  for (const argv of [['keys', 'generate'], ['root', 'init'], ['root', 'rotate'], ['root', 'verify'], ['registry', 'issue'], ['registry', 'show']]) {
    const run = await runCli([...argv, '--help']);
    assert.equal(run.code, 0, argv.join(' '));
    assert.match(run.out, /Examples?:\n {2}tattler /, argv.join(' '));
  }
});
