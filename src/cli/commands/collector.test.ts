import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../testing/cli-run.ts';

const EXAMPLE = fileURLToPath(new URL('../../../examples/collector.yaml', import.meta.url));
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-collector-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('tattler collector --check-config accepts the example and prints the summary', async () => {
  const run = await runCli(['collector', '--check-config', EXAMPLE]);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^config ok\n/);
  assert.match(run.out, /listen {6}192\.0\.2\.53:5683 \(IPv4\), \[2001:db8::53\]:5683 \(IPv6\)/);
  assert.match(run.out, /nothing stored per device/);
  assert.equal(run.err, '');
});

test('tattler collector --check-config lists every problem and exits 1', async () => {
  const file = join(dir, 'bad.yaml');
  await writeFile(
    file,
    'listen: [{address: "0.0.0.0:5683"}]\nfeed: {file: b, root: r}\nkey: k\ncertificate: c\noperator: X\nworkerz: 2\n',
  );
  const run = await runCli(['collector', '--check-config', file]);
  assert.equal(run.code, 1);
  assert.equal(run.out, '');
  assert.match(
    run.err,
    /bad\.yaml: listen\[0\]\.address: "0\.0\.0\.0:5683" is not an IP address — write the address and the port separately/,
  );
  assert.match(run.err, /bad\.yaml: workerz: unknown key — did you mean "workers"\?/);
  assert.match(run.err, /2 problems in /);
});

test('tattler collector --config validates, names a missing key before fetching the feed, and exits 1', async () => {
  const run = await runCli(['collector', '--config', EXAMPLE]);
  assert.equal(run.code, 1);
  assert.match(run.out, /operator {4}Example ISP/);
  // The example's feed is a URL; the local key is checked first, so no request leaves the host.
  assert.match(run.err, /examples\/keys\/collector\.key: no such file/);
  const missing = await runCli(['collector', '--config', join(dir, 'none.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /none\.yaml: no such file/);
});

test('tattler collector needs exactly one of --config and --check-config', async () => {
  assert.equal((await runCli(['collector'])).code, 1);
  assert.equal(
    (await runCli(['collector', '--config', EXAMPLE, '--check-config', EXAMPLE])).code,
    1,
  );
});
