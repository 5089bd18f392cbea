import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodePrivateKeyPem } from '../../crypto/index.ts';
import { TEST_KEYS } from '../../testing/keys.ts';
import { runCli } from '../../testing/cli-run.ts';
import { defaultFeedDbPath, renderProgress } from './feed.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-feed-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An NVD 2.0 CVE object in the usual IoT shape: firmware (o:) AND hardware (h:). */
function nvdCve(id: string, model: string, firmware: string): Record<string, unknown> {
  return {
    id,
    published: '2021-02-02T13:15:12.570',
    lastModified: '2025-10-21T20:17:59.360',
    descriptions: [{ lang: 'en', value: 'command injection' }],
    metrics: { cvssMetricV31: [{ source: 'nvd@nist.gov', type: 'Primary', cvssData: { version: '3.1', baseScore: 9.8 } }] },
    configurations: [
      {
        operator: 'AND',
        nodes: [
          { operator: 'OR', negate: false, cpeMatch: [{ vulnerable: true, criteria: `cpe:2.3:o:dlink:${model}_firmware:${firmware}:*:*:*:*:*:*:*`, matchCriteriaId: 'A' }] },
          { operator: 'OR', negate: false, cpeMatch: [{ vulnerable: false, criteria: `cpe:2.3:h:dlink:${model}:-:*:*:*:*:*:*:*`, matchCriteriaId: 'B' }] },
        ],
      },
    ],
    references: [],
  };
}

test('feed import then feed stats: a summary, counts by source and KEV, and --json', async () => {
  const db = join(dir, 'data', 'feed.db');
  const page = join(dir, 'page.json');
  await writeFile(
    page,
    JSON.stringify({
      resultsPerPage: 3,
      startIndex: 0,
      totalResults: 3,
      format: 'NVD_CVE',
      version: '2.0',
      vulnerabilities: [
        { cve: nvdCve('CVE-2020-25506', 'dns-320', '2.06b01') },
        { cve: nvdCve('CVE-2020-25507', 'dns-320l', '1.11') },
        { cve: { id: 'CVE-2020-99999', lastModified: '2025-01-01T00:00:00.000', configurations: [] } },
      ],
    }),
  );
  const kev = join(dir, 'kev.json');
  await writeFile(kev, JSON.stringify({ catalogVersion: '2025.02.25', dateReleased: '2025-02-25T20:33:53.3676Z', vulnerabilities: [{ cveID: 'CVE-2020-25506', dateAdded: '2021-11-03' }] }));
  const run = await runCli(['feed', 'import', '--db', db, '--nvd', page, '--kev', kev]);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /imported 2 file\(s\)/);
  assert.match(run.out, /records read +4 /);
  assert.match(run.out, /advisories +2\n/);
  assert.match(run.out, /KEV entries +1\n/);
  assert.match(run.out, /not a device +1 /);
  assert.match(run.out, /peak RSS +\d/);
  assert.equal(run.err, '', 'no progress when stderr is not a terminal and the import is short');

  const stats = await runCli(['feed', 'stats', '--db', db]);
  assert.equal(stats.code, 0, stats.err);
  assert.match(stats.out, /nvd +3 records +2 advisories +2 products/);
  assert.match(stats.out, /KEV entries 1 \(catalog 2025\.02\.25\)/);
  assert.match(stats.out, /top vendors:\n {2}dlink +2 products +2 models/);
  const json = await runCli(['feed', 'stats', '--db', db, '--json']);
  const parsed = JSON.parse(json.out) as { records: Record<string, number>; models: number };
  assert.equal(parsed.records.nvd, 3, 'the application-only CVE is versioned, not stored');
  assert.equal(parsed.models, 2);

  const again = await runCli(['feed', 'import', '--db', db, '--nvd', page, '--json']);
  assert.equal(again.code, 0, again.err);
  const report = JSON.parse(again.out) as { advisories: number; olderIgnored: number; peakRssBytes: number; elapsedMs: number };
  assert.equal(report.advisories, 2, 're-importing the same versions replaces');
  assert.equal(report.olderIgnored, 0);
  assert.ok(report.peakRssBytes > 0);
});

test('feed import exits 1 on a truncated file, naming it, and leaves the database unchanged', async () => {
  const db = join(dir, 'strict.db');
  const good = join(dir, 'good.json');
  await writeFile(good, JSON.stringify({ vulnerabilities: [{ cve: nvdCve('CVE-2020-25506', 'dns-320', '2.06b01') }] }));
  assert.equal((await runCli(['feed', 'import', '--db', db, '--nvd', good, '--quiet'])).code, 0);
  const before = await runCli(['feed', 'stats', '--db', db, '--json']);
  const truncated = join(dir, 'truncated.json');
  await writeFile(truncated, (await readFile(good, 'utf8')).slice(0, 200));
  const run = await runCli(['feed', 'import', '--db', db, '--nvd', truncated]);
  assert.equal(run.code, 1);
  assert.ok(run.err.includes(`BAD_JSON: ${truncated}: near byte`), run.err);
  assert.match(run.err, /import rolled back: .*strict\.db is unchanged/);
  const strict = await runCli(['feed', 'import', '--db', db, '--strict', '--nvd', good, '--kev', good]);
  assert.equal(strict.code, 1);
  assert.match(strict.err, /BAD_RECORD: .*good\.json: \$\.vulnerabilities\[0\]: .*cveID/);
  const afterStats = await runCli(['feed', 'stats', '--db', db, '--json']);
  assert.equal(afterStats.out.replace(/"lastImportMs": \d+/, ''), before.out.replace(/"lastImportMs": \d+/, ''));
  const none = await runCli(['feed', 'import', '--db', db]);
  assert.equal(none.code, 1);
  assert.match(none.err, /nothing to import/);
  const missing = await runCli(['feed', 'stats', '--db', join(dir, 'missing.db')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /run "tattler feed import --db/);
});

test('feed aliases add then check finds the device by the alias; list shows provenance; build publishes under it', async () => {
  const db = join(dir, 'aliases.db');
  const page = join(dir, 'aliases-page.json');
  await writeFile(page, JSON.stringify({ vulnerabilities: [{ cve: nvdCve('CVE-2020-25506', 'dns-320', '2.06b01') }] }));
  assert.equal((await runCli(['feed', 'import', '--db', db, '--nvd', page, '--quiet'])).code, 0);
  const device = ['check', '--db', db, '--vendor', 'ACME Storage', '--model', 'DNS-320', '--version', '2.06b01', '--json'];
  const before = JSON.parse((await runCli(device)).out) as { status: string };
  assert.equal(before.status, 'unknown');

  const add = await runCli(['feed', 'aliases', 'add', '--db', db, 'ACME Storage=D-Link Systems, Inc.']);
  assert.equal(add.code, 0, add.err);
  assert.match(add.out, /vendor alias acmestorage → dlink\n/, 'the vendor side is resolved through the maintained table');
  const after = JSON.parse((await runCli(device)).out) as { status: string; matches: { id: string }[] };
  assert.equal(after.status, 'vulnerable');
  assert.deepEqual(after.matches.map((m) => m.id), ['CVE-2020-25506']);

  const list = await runCli(['feed', 'aliases', 'list', '--db', db]);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /acmestorage → dlink {2}\(config: tattler feed aliases add, \d{4}-/);
  const json = JSON.parse((await runCli(['feed', 'aliases', 'list', '--db', db, '--json'])).out) as { alias: string; canonical: string; origin: string }[];
  assert.deepEqual(json.map((e) => [e.alias, e.canonical, e.origin]), [['acmestorage', 'dlink', 'config']]);

  // feed build publishes under the configured alias too: dlink, its 3 table aliases and acmestorage.
  const key = join(dir, 'aliases-feed.key');
  await writeFile(key, encodePrivateKeyPem(TEST_KEYS.feed));
  const build = await runCli(['feed', 'build', '--db', db, '--signing-key', key, '--out', join(dir, 'aliases.bundle')]);
  assert.equal(build.code, 0, build.err);
  assert.match(build.out, /records 5: eligible 0, under aliases 4/);
});

test('feed aliases add refuses malformed pairs, naming the argument and the fix', async () => {
  const db = join(dir, 'aliases-bad.db');
  const cases: [string, RegExp][] = [
    ['acme', /"acme": expected ALIAS=CANONICAL/],
    ['=dlink', /expected ALIAS=CANONICAL/],
    ['a=b=c', /expected ALIAS=CANONICAL/],
    [', . =dlink', /the alias name .*nothing left after canonicalisation; use a name with letters or digits/],
    ['D-Link=dlink', /D-Link=dlink": the alias already is the vendor dlink; nothing to add/],
    ['dlink=acme', /dlink: is a canonical vendor with aliases of its own .*alias it the other way round: acme=dlink/],
  ];
  for (const [arg, message] of cases) {
    const run = await runCli(['feed', 'aliases', 'add', '--db', db, arg]);
    assert.equal(run.code, 1, arg);
    assert.match(run.err, message, arg);
  }
  const empty = await runCli(['feed', 'aliases', 'list', '--db', db]);
  assert.equal(empty.code, 0, empty.err);
  assert.match(empty.out, /no configured vendor aliases/);
});

test('defaultFeedDbPath() prefers an absolute XDG_DATA_HOME, then HOME', () => {
  assert.equal(defaultFeedDbPath({ XDG_DATA_HOME: '/x/data', HOME: '/h/alice' }), '/x/data/tattler/feed.db');
  assert.equal(defaultFeedDbPath({ XDG_DATA_HOME: 'relative', HOME: '/h/alice' }), '/h/alice/.local/share/tattler/feed.db');
  assert.equal(defaultFeedDbPath({}), undefined);
});

test('renderProgress() shows a bar only for a terminal, with bytes, files and records/s', () => {
  const p = { file: 'a.json', filesDone: 1, totalFiles: 4, bytesRead: 50e6, totalBytes: 200e6, recordsRead: 20_000 };
  assert.equal(renderProgress(p, 2_000, { bar: false }), ' 25% 50 MB / 200 MB, file 2/4, 20,000 records, 10,000 records/s');
  assert.match(renderProgress(p, 2_000, { bar: true }), /^\[#{8}\.{22}\] {2}25% /);
});
