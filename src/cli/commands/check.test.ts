import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommanderError } from 'commander';
import { MemoryFeedReader } from '../../feed/memory-index.ts';
import type { Advisory } from '../../feed/types.ts';
import { runCli } from '../../testing/cli-run.ts';
import { CliExit } from '../exit.ts';
import { checkCommand, type CheckDeps } from './check.ts';

const DIR_859: Advisory = {
  source: 'nvd',
  id: 'CVE-2019-17621',
  aliases: [],
  cvss: 9.8,
  published: '2019-12-30',
  remediationUrls: [],
  products: [
    {
      vendor: 'dlink',
      model: 'dir859',
      hwVersion: null,
      intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '1.06b01', upperInclusive: false }],
      fixed: ['1.06b01'],
      confidence: 'high',
      reason: 'cpe:2.3:o:dlink:dir-859_firmware:* < 1.06b01 AND cpe:2.3:h:dlink:dir-859:-',
    },
  ],
};

async function check(argv: readonly string[], deps?: CheckDeps): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const opened: string[] = [];
  const reader = new MemoryFeedReader([DIR_859], { kev: ['CVE-2019-17621'] });
  const command = checkCommand(
    { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } },
    deps ?? { openReader: (path) => (opened.push(path), reader) },
  );
  command.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await command.parseAsync([...argv], { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CliExit || e instanceof CommanderError) return { code: e instanceof CliExit ? e.code : e.exitCode, out, err };
    throw e;
  }
}

const DEVICE = ['--db', 'feed.db', '--vendor', 'D-Link', '--model', 'DIR-859'];

test('tattler check --json prints exactly one object in the documented shape', async () => {
  const run = await check([...DEVICE, '--version', '1.05B03', '--json']);
  assert.equal(run.code, 0);
  assert.equal(run.out.trim().split('\n').length, 1);
  const doc: unknown = JSON.parse(run.out);
  assert.deepEqual(doc, {
    status: 'vulnerable',
    matches: [
      {
        id: 'CVE-2019-17621',
        source: 'nvd',
        kev: true,
        cvss: 9.8,
        fixed: ['1.06b01'],
        confidence: 'high',
        reason: (doc as { matches: { reason: string }[] }).matches[0]?.reason,
      },
    ],
  });
  assert.deepEqual(Object.keys((doc as { matches: object[] }).matches[0] ?? {}), ['id', 'source', 'kev', 'cvss', 'fixed', 'confidence', 'reason']);
});

test('tattler check --json: not-vulnerable and unknown also exit 0', async () => {
  const fixed = await check([...DEVICE, '--version', '1.06B01', '--json']);
  assert.deepEqual([fixed.code, JSON.parse(fixed.out)], [0, { status: 'not-vulnerable', matches: [] }]);
  const unknown = await check(['--db', 'x', '--vendor', 'D-Link', '--model', 'DIR-859L', '--version', '1.05', '--json']);
  assert.deepEqual([unknown.code, JSON.parse(unknown.out)], [0, { status: 'unknown', matches: [] }]);
});

test('tattler check without --json explains the advisory, KEV, fix and confidence', async () => {
  const run = await check([...DEVICE, '--version', '1.05B03']);
  assert.equal(run.code, 0);
  assert.match(run.out, /VULNERABLE/);
  assert.match(run.out, /CVE-2019-17621 · KEV \(known exploited\) · CVSS 9\.8 · confidence high/);
  assert.match(run.out, /fixed in 1\.06b01/);
  assert.match(run.out, /version 1\.05B03 is in < 1\.06b01/);
  assert.match((await check([...DEVICE, '--version', '1.06b01'])).out, /NOT VULNERABLE/);
  assert.match((await check(['--db', 'x', '--vendor', 'Acme', '--model', 'Z', '--version', '1'])).out, /UNKNOWN/);
});

test('tattler check exits 1 on bad input: empty version, bad CPE, name with nothing left, missing option', async () => {
  const empty = await check([...DEVICE, '--version', ' ']);
  assert.deepEqual([empty.code, /--version: expected a non-empty value/.test(empty.err)], [1, true]);
  const cpe = await check([...DEVICE, '--version', '1.0', '--cpe', 'cpe:/h:dlink']);
  assert.deepEqual([cpe.code, /cpe/.test(cpe.err)], [1, true]);
  const name = await check(['--db', 'x', '--vendor', 'D-Link', '--model', '--', '--version', '1.0']);
  assert.equal(name.code, 1);
  const missing = await check(['--db', 'x', '--vendor', 'D-Link', '--version', '1.0']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /--model/);
});

test('tattler check names the missing database and "tattler feed import"', async () => {
  const run = await runCli(['check', '--db', '/nonexistent/tattler-feed.db', '--vendor', 'D-Link', '--model', 'DIR-859', '--version', '1.0', '--json']);
  assert.equal(run.code, 1);
  assert.equal(run.out, '');
  assert.match(run.err, /\/nonexistent\/tattler-feed\.db/);
  assert.match(run.err, /tattler feed import/);
});
