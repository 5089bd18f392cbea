import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { encodePrivateKeyPem } from '../../crypto/index.ts';
import { encodeCbor, signRoot, type Root } from '../../protocol/index.ts';
import { TEST_KEYS, testKey } from '../../testing/keys.ts';
import { ListFeedReader, testRow } from '../../testing/memory-feed-reader.ts';
import { CliExit } from '../exit.ts';
import { feedBuildCommand, feedVerifyCommand, type FeedPublishDeps } from './feed-publish.ts';

const NOW = 1_700_000_000;
let dir = '';
let clock = NOW;
const rows = [
  testRow({ vendor: 'dlink', model: 'dir859' }, { id: 'CVE-2019-17621', remediationUrls: ['https://support.dlink.com/x'] }, { kev: true }),
  testRow({ vendor: 'hikvision', model: 'ds2cd2032i' }, { id: 'CVE-2021-36260' }),
];
const deps: FeedPublishDeps = { openFeed: () => ({ reader: new ListFeedReader(rows), close: () => undefined }), nowSeconds: () => clock };

async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } };
  const program = new Command('tattler').exitOverride().configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });
  const feed = new Command('feed').exitOverride();
  feed.addCommand(feedBuildCommand(io, deps).exitOverride()).addCommand(feedVerifyCommand(io, deps).exitOverride());
  program.addCommand(feed);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CliExit) return { code: e.code, out, err };
    if (e instanceof CommanderError) return { code: e.exitCode, out, err };
    return { code: 1, out, err: err + (e instanceof Error ? e.message : String(e)) };
  }
}

function rootFile(feedKeys: readonly Uint8Array[]): Uint8Array {
  const root: Root = { version: 1, threshold: 1, rootKeys: [TEST_KEYS.root1.publicKey.raw], feedKeys, registryKeys: [TEST_KEYS.registry.publicKey.raw], issuedAt: NOW - 86_400 };
  return encodeCbor(signRoot([TEST_KEYS.root1], root));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-feed-publish-'));
  await writeFile(join(dir, 'feed.key'), encodePrivateKeyPem(TEST_KEYS.feed));
  await writeFile(join(dir, 'root.cbor'), rootFile([TEST_KEYS.feed.publicKey.raw]));
  await writeFile(join(dir, 'other-root.cbor'), rootFile([testKey(0x55).publicKey.raw]));
  await writeFile(join(dir, 'policy.json'), JSON.stringify({ version: 1, withdrawn: ['CVE-2021-36260'], updateHosts: { dlink: ['update.dlink.example'] } }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('feed build writes a bundle that feed verify accepts; versions increase from --previous', async () => {
  clock = NOW;
  const v1 = join(dir, 'v1.bundle');
  const build = await run(['feed', 'build', '--db', 'mem', '--signing-key', join(dir, 'feed.key'), '--out', v1, '--policy', join(dir, 'policy.json'), '--expires-in', '2d']);
  assert.equal(build.code, 0, build.err);
  assert.match(build.out, new RegExp(`wrote .*v1\\.bundle: feed v${NOW}, \\d+ bytes`));
  assert.match(build.out, /rows 2 \(withdrawn 1\), products 1/);
  assert.match(build.out, /records 4: eligible 4, under aliases 3/); // dlink and its 3 aliases in the built-in table
  assert.match(build.out, /buckets 4096, pages 4096 \[1p×4096\]/);
  assert.match(build.out, /models per bucket: min 0, median 0, p99 0, max 1/);

  const verify = await run(['feed', 'verify', v1, '--root', join(dir, 'root.cbor'), '--json']);
  assert.equal(verify.code, 0, verify.err);
  const json = JSON.parse(verify.out) as { ok: boolean; feedVersion: number; records: number; pages: number };
  assert.deepEqual([json.ok, json.feedVersion, json.records, json.pages], [true, NOW, 4, 4096]);

  const v2 = join(dir, 'v2.bundle');
  const next = await run(['feed', 'build', '--db', 'mem', '--signing-key', join(dir, 'feed.key'), '--out', v2, '--previous', v1]);
  assert.equal(next.code, 0, next.err);
  assert.match(next.out, new RegExp(`feed v${NOW + 1},`));
  const back = await run(['feed', 'build', '--db', 'mem', '--signing-key', join(dir, 'feed.key'), '--out', join(dir, 'v3.bundle'), '--previous', v2, '--version', '5']);
  assert.equal(back.code, 1);
  assert.match(back.err, /--version 5: not above .*v2\.bundle's version 1700000001; versions strictly increase/);
});

test('feed verify exits 2 with the reason: unauthorised feed key, expiry, not a bundle', async () => {
  clock = NOW;
  const file = join(dir, 'x.bundle');
  assert.equal((await run(['feed', 'build', '--db', 'mem', '--signing-key', join(dir, 'feed.key'), '--out', file])).code, 0);
  const other = await run(['feed', 'verify', file, '--root', join(dir, 'other-root.cbor')]);
  assert.equal(other.code, 2);
  assert.match(other.out, /^REFUSED .*x\.bundle: KEY_NOT_AUTHORISED: manifest: signed by a key that is not a feed key of root v1/);
  clock = NOW + 8 * 86_400;
  const expired = await run(['feed', 'verify', file, '--root', join(dir, 'root.cbor'), '--json']);
  assert.equal(expired.code, 2);
  assert.equal((JSON.parse(expired.out) as { reason: string }).reason, 'EXPIRED');
  clock = NOW;
  const junk = join(dir, 'junk.bundle');
  await writeFile(junk, 'not cbor');
  const bad = await run(['feed', 'verify', junk, '--root', join(dir, 'root.cbor')]);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /REFUSED .*junk\.bundle: MALFORMED/);
  const badPolicy = join(dir, 'bad-policy.json');
  await writeFile(badPolicy, JSON.stringify({ version: 1, deny: { advisories: [7] } }));
  const refused = await run(['feed', 'build', '--db', 'mem', '--signing-key', join(dir, 'feed.key'), '--out', file, '--policy', badPolicy]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /bad-policy\.json: \$\.deny\.advisories\[0\]: expected an advisory id/);
  assert.ok((await readFile(file)).byteLength > 0);
});
