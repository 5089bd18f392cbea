import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStatsStore } from '../../collector/stats-store.ts';
import { encodePrivateKeyPem } from '../../crypto/index.ts';
import { AdvisoryDatesError, loadAdvisoryDates } from '../../report/advisory-dates.ts';
import { CSV_COLUMNS, PRIVATE_HEADING } from '../../report/format.ts';
import type { VendorReport } from '../../report/types.ts';
import { runCli, type CliRun } from '../../testing/cli-run.ts';
import { writeCollectorDir } from '../../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../../testing/trust-keys.ts';
import { CliExit } from '../exit.ts';
import { reportCommand } from './report.ts';

const FEEDS = fileURLToPath(new URL('../../../vectors/feeds/', import.meta.url));
const DAY = 86_400;
const nowSeconds = Math.floor(Date.now() / 1000);
let dir = '';
let files: { feedDb: string; bundle: string; root: string; stats: string; config: string; noStatsConfig: string };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-report-'));
  const collectorDir = join(dir, 'collector');
  await mkdir(collectorDir);
  const config = await writeCollectorDir(collectorDir, ['stats: {database: stats.db}'], { nowSeconds });
  const noStatsDir = join(dir, 'no-stats');
  await mkdir(noStatsDir);
  const noStatsConfig = await writeCollectorDir(noStatsDir, [], { nowSeconds });
  // The feed an operator builds from the real records in vectors/feeds/, replacing the test feed.
  const feedDb = join(dir, 'feed.db');
  const imported = await runCli([
    'feed', 'import', '--db', feedDb, '--quiet',
    '--nvd', join(FEEDS, 'nvd'),
    '--kev', join(FEEDS, 'kev', 'known_exploited_vulnerabilities.json'),
    '--csaf', join(FEEDS, 'csaf'),
  ]);
  assert.equal(imported.code, 0, imported.err);
  const feedKey = join(dir, 'feed.key');
  await writeFile(feedKey, encodePrivateKeyPem(TRUST_KEYS.feed), { mode: 0o600 });
  const bundle = join(collectorDir, 'bundle.cbor');
  const built = await runCli(['feed', 'build', '--db', feedDb, '--signing-key', feedKey, '--out', bundle]);
  assert.equal(built.code, 0, built.err);
  // Counts as the collector flushes them: cumulative snapshots, three days apart.
  const stats = join(collectorDir, 'stats.db');
  const store = openStatsStore(stats, { retentionSeconds: 400 * DAY });
  store.record(
    {
      identified: [{ vendor: 'nuuo', model: 'nvrmini', status: 'fail', count: 1 }],
      private: [{ bucket: 'abc', count: 2 }],
    },
    nowSeconds - 3 * DAY,
  );
  store.record(
    {
      identified: [
        { vendor: '(unlisted)', model: '(unlisted)', status: 'unknown', count: 4 },
        { vendor: 'dlink', model: 'dir859', status: 'pass', count: 1 },
        { vendor: 'dlink', model: 'dir859', status: 'warn', count: 2 },
        { vendor: 'nuuo', model: 'nvrmini', status: 'fail', count: 3 },
      ],
      private: [
        { bucket: '012', count: 1 },
        { bucket: 'abc', count: 7 },
      ],
    },
    nowSeconds,
  );
  store.close();
  files = { feedDb, bundle, root: join(collectorDir, 'root.cbor'), stats, config, noStatsConfig };
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function explicit(...extra: string[]): string[] {
  return ['report', 'vendors', '--stats', files.stats, '--feed', files.bundle, '--root', files.root, ...extra];
}

function daysSince(isoDay: string, at: number): number {
  return Math.floor((at - Date.parse(`${isoDay}T00:00:00Z`) / 1000) / DAY);
}

function parseJsonReport(run: CliRun): VendorReport {
  assert.equal(run.code, 0, run.err);
  return JSON.parse(run.out) as VendorReport;
}

test('loadAdvisoryDates() maps ids and aliases of a real feed database to their first publication day', () => {
  const dates = loadAdvisoryDates(files.feedDb);
  // NVD `published` 2018-08-04T...; the CSAF advisory's alias (its tracking id) gets its day.
  assert.equal(dates.get('CVE-2018-14933'), '2018-08-04');
  assert.equal(dates.get('CVE-2019-17621'), '2019-12-30');
  assert.equal(dates.get('CVE-2024-3850'), '2024-06-04');
  assert.equal(dates.get('ICSA-24-156-01'), '2024-06-04');
  assert.throws(
    () => loadAdvisoryDates(files.stats),
    (err: unknown) => err instanceof AdvisoryDatesError && err.code === 'NOT_A_FEED_DB' && err.message.startsWith(files.stats),
  );
  assert.throws(
    () => loadAdvisoryDates(join(dir, 'missing.db')),
    (err: unknown) => err instanceof AdvisoryDatesError && err.code === 'OPEN_FAILED',
  );
});

test('report vendors --format csv: the real feed\'s rows with the stored counts', async () => {
  const run = await runCli(explicit('--feed-db', files.feedDb, '--format', 'csv'));
  const after = Math.floor(Date.now() / 1000);
  assert.equal(run.code, 0, run.err);
  const lines = run.out.split('\r\n');
  assert.equal(lines[0], CSV_COLUMNS.join(','));
  const nuuo = lines.find((l) => l.startsWith('model,nuuo,nvrmini,'))?.split(',');
  assert.ok(nuuo !== undefined, run.out);
  const column = (name: (typeof CSV_COLUMNS)[number]): string | undefined => nuuo[CSV_COLUMNS.indexOf(name)];
  assert.equal(column('announcements'), '3');
  assert.equal(column('fail'), '3');
  assert.equal(column('seen_vulnerable'), '3');
  assert.equal(column('advisories'), 'CVE-2018-14933');
  assert.equal(column('kev'), 'yes');
  assert.equal(column('eligible'), 'yes');
  assert.ok(
    [daysSince('2018-08-04', nowSeconds), daysSince('2018-08-04', after)].includes(Number(column('days_since_advisory'))),
  );
  // Most seen vulnerable first: NUUO (3, KEV) before D-Link (2).
  assert.ok(lines[1]?.startsWith('model,nuuo,nvrmini,'), lines[1]);
  assert.ok(lines[2]?.startsWith('model,dlink,dir859,,3,1,0,2,0,2,CVE-2019-17621,no,'), lines[2]);
  assert.ok(lines.includes(`unlisted,,,,4${','.repeat(12)}`));
  assert.ok(lines.includes(`private,,,abc,7${','.repeat(12)}`));
  assert.ok(lines.includes(`private,,,012,1${','.repeat(12)}`));
  assert.equal(run.err, '');
});

test('report vendors --format json --since: only the recent hours, the window and the feed version', async () => {
  const all = parseJsonReport(await runCli(explicit('--format', 'json', '--feed-db', files.feedDb)));
  const recent = parseJsonReport(await runCli(explicit('--format', 'json', '--since', '1d', '--feed-db', files.feedDb)));
  const nuuo = (r: VendorReport): VendorReport['rows'][number] | undefined => r.rows.find((row) => row.vendor === 'nuuo');
  assert.equal(nuuo(all)?.announcements.fail, 3);
  assert.equal(nuuo(recent)?.announcements.fail, 2);
  assert.deepEqual(recent.private, [
    { bucket: '012', count: 1 },
    { bucket: 'abc', count: 5 },
  ]);
  const hour = (s: number): number => Math.floor(s / 3600) * 3600;
  assert.deepEqual(all.window, { fromSeconds: hour(nowSeconds - 3 * DAY), toSeconds: hour(nowSeconds) + 3600 });
  assert.deepEqual(recent.window, { fromSeconds: hour(nowSeconds), toSeconds: hour(nowSeconds) + 3600 });
  assert.equal(typeof all.feedVersion, 'number');
  assert.equal(all.unlisted, 4);
  // Every model of the feed has a row, announced or not (moxa nport5110 was not).
  const moxa = all.rows.find((row) => row.vendor === 'moxa');
  assert.ok(moxa !== undefined);
  assert.equal(moxa.vulnerable, 0);
  assert.ok(moxa.advisories.includes('CVE-2016-9361'));
});

test('report vendors --config: the stats store, feed and root the collector config names; md by default', async () => {
  const run = await runCli(['report', 'vendors', '--config', files.config]);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^# Vendor report\n\nWindow: \d{4}-\d\d-\d\dT\d\d:00:00Z to .*\. Feed version: \d+\./);
  assert.match(run.out, /\n\| nuuo \| nvrmini \| 3 \| 3 \| CVE-2018-14933 \| yes \| 10\.0 \| no \| — \|\n/);
  assert.ok(run.out.includes(`## ${PRIVATE_HEADING}`));
  assert.ok(run.out.includes('| abc | 7 |'));
  // Without --feed-db the days column is empty, and stderr says how to fill it.
  assert.match(run.err, /--feed-db FILE/);
});

test('report vendors --output writes the file atomically, the same text as standard output', async () => {
  const output = join(dir, 'vendors.csv');
  const written = await runCli(explicit('--format', 'csv', '--output', output));
  assert.equal(written.code, 0, written.err);
  assert.equal(written.out, '');
  assert.match(written.err, /wrote .*vendors\.csv/);
  const printed = await runCli(explicit('--format', 'csv'));
  assert.equal(await readFile(output, 'utf8'), printed.out);
});

test('report vendors: an expired feed is still used, with a note', async () => {
  let out = '';
  let err = '';
  const command = reportCommand(
    { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } },
    { nowSeconds: () => nowSeconds + 60 * DAY },
  );
  await command.parseAsync(['vendors', '--stats', files.stats, '--feed', files.bundle, '--root', files.root, '--format', 'json'], { from: 'user' });
  assert.match(err, /expired at .*signatures verify, so the report uses it as history/);
  const report = JSON.parse(out) as VendorReport;
  assert.ok(report.rows.some((row) => row.vendor === 'nuuo' && row.kev));
});

test('report vendors: clear errors and exit 1 for missing or wrong inputs', async () => {
  const cases: [string, string[], RegExp][] = [
    ['nothing given', ['report', 'vendors'], /missing --stats FILE, --feed FILE, --root FILE; pass --config/],
    ['no stats section', ['report', 'vendors', '--config', files.noStatsConfig], /no stats section.*stats: \{database: stats\.db\}/],
    ['stats is the feed db', explicit().map((a) => (a === files.stats ? files.feedDb : a)), /not a Tattler stats database.*NOT_A_STATS_STORE/],
    ['stats missing', explicit().map((a) => (a === files.stats ? join(dir, 'none.db') : a)), /none\.db: cannot open the stats database.*OPEN_FAILED/],
    ['root is not a root', explicit().map((a) => (a === files.root ? files.bundle : a)), /bundle\.cbor: not a valid root document/],
    ['feed missing', explicit().map((a) => (a === files.bundle ? join(dir, 'none.cbor') : a)), /none\.cbor: no such file/],
    ['feed db is the stats db', explicit('--feed-db', files.stats), /not a Tattler feed database.*NOT_A_FEED_DB/],
  ];
  for (const [name, argv, message] of cases) {
    const run = await runCli(argv);
    assert.equal(run.code, 1, name);
    assert.match(run.err, message, name);
    assert.equal(run.out, '', name);
  }
  // A config with several problems: one line on stderr (docs/report.md), the first problem and a count.
  const badConfig = join(dir, 'bad-collector.yaml');
  await writeFile(badConfig, 'listen: nowhere\nfeed: 3\nkey: 4\n');
  const bad = await runCli(['report', 'vendors', '--config', badConfig]);
  assert.equal(bad.code, 1);
  assert.equal(bad.err.trimEnd().split('\n').length, 1, bad.err);
  assert.match(bad.err, /bad-collector\.yaml.*and \d+ more problem/);
  const badSince = await runCli(explicit('--since', 'soon'));
  assert.notEqual(badSince.code, 0);
  assert.match(badSince.err, /--since.*expected a number and a unit/);
  const badFormat = await runCli(explicit('--format', 'xlsx'));
  assert.notEqual(badFormat.code, 0);
  assert.match(badFormat.err, /csv, json, md/);
});

test('report vendors: a feed signed under another root is refused', async () => {
  // A bundle is refused by a root whose feed keys did not sign it: build one with the root's key as feed key.
  const otherKey = join(dir, 'other.key');
  await writeFile(otherKey, encodePrivateKeyPem(TRUST_KEYS.collector), { mode: 0o600 });
  const other = join(dir, 'other.cbor');
  const built = await runCli(['feed', 'build', '--db', files.feedDb, '--signing-key', otherKey, '--out', other]);
  assert.equal(built.code, 0, built.err);
  const run = await runCli(explicit().map((a) => (a === files.bundle ? other : a)));
  assert.equal(run.code, 1);
  assert.match(run.err, /other\.cbor: feed bundle refused \(KEY_NOT_AUTHORISED/);
  await assert.rejects(
    reportCommand({ out: { write: () => true }, err: { write: () => true } }).parseAsync(
      ['vendors', '--stats', files.stats, '--feed', other, '--root', files.root],
      { from: 'user' },
    ),
    CliExit,
  );
});
