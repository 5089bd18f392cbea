import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  COLLECTOR_DEFAULTS,
  CollectorConfigError,
  MAX_CONFIG_BYTES,
  loadCollectorConfig,
  parseCollectorConfig,
  suggestKey,
  summarizeCollectorConfig,
  type ConfigProblem,
} from './config.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/collector.yaml', import.meta.url));
const FILE = '/etc/tattler/collector.yaml';
const MINIMAL = `
listen: [{address: 192.0.2.53}]
feed: {file: bundle.cbor, root: root.cbor}
key: collector.key
certificate: collector.cert.cbor
operator: Example ISP
`;

/** The problems parseCollectorConfig reports for `text` (fails the test if it accepts it). */
function problemsOf(text: string): readonly ConfigProblem[] {
  try {
    parseCollectorConfig(text, FILE);
  } catch (err) {
    if (err instanceof CollectorConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a CollectorConfigError');
}

function problemAt(text: string, path: string): string {
  const found = problemsOf(text).find((p) => p.path === path);
  assert.ok(found, `no problem at ${path}: ${JSON.stringify(problemsOf(text))}`);
  return found.message;
}

test('loadCollectorConfig() accepts examples/collector.yaml', async () => {
  const config = await loadCollectorConfig(EXAMPLE);
  assert.deepEqual(
    config.listen.map((l) => [l.address, l.family, l.port]),
    [
      ['192.0.2.53', 4, 5683],
      ['2001:db8::53', 6, 5683],
    ],
  );
  assert.deepEqual(config.feed.source, {
    kind: 'url',
    url: 'https://feed.example.net/tattler/bundle.cbor',
  });
  assert.equal(config.policy.minCvss10, 70);
  assert.deepEqual(config.policy.deny, ['CVE-2017-17215']);
  assert.deepEqual(config.policy.verdictLifetimeSeconds, {
    fail: 7 * 86_400,
    pass: 86_400,
    warn: 86_400,
    unknown: 3600,
  });
  assert.equal(config.privacy.notify.enabled, false);
  assert.deepEqual(config.metrics?.dashboard, { enabled: false, sampleIntervalSeconds: 10, allowedHosts: [] });
  assert.equal(config.stats?.retentionSeconds, 400 * 86_400);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.policy.exempt));
});

test('parseCollectorConfig() applies every default', () => {
  const config = parseCollectorConfig(MINIMAL, FILE);
  const d = COLLECTOR_DEFAULTS;
  assert.equal(config.listen[0]?.port, d.port);
  assert.equal(config.feed.pullIntervalSeconds, 900);
  assert.deepEqual(config.policy, {
    ...d.policy,
    deny: [],
    allow: [],
    exempt: [],
    verdictLifetimeSeconds: { fail: 7 * 86_400, pass: 86_400, warn: 86_400, unknown: 3600 },
  });
  assert.deepEqual(config.rateLimit, d.rateLimit);
  assert.deepEqual(config.privacy, {
    notify: { enabled: false, databasePath: null, retentionSeconds: 30 * 86_400 },
  });
  assert.equal(config.metrics, null);
  assert.equal(config.stats, null);
  assert.equal(config.workers, 1);
  assert.ok(Object.isFrozen(COLLECTOR_DEFAULTS) && Object.isFrozen(COLLECTOR_DEFAULTS.rateLimit));
});

test('parseCollectorConfig() resolves relative paths against the config file directory', () => {
  const config = parseCollectorConfig(
    `${MINIMAL}privacy: {notify: {enabled: true, database: ../db/notify.db}}\n`,
    FILE,
  );
  assert.deepEqual(config.feed.source, { kind: 'file', path: '/etc/tattler/bundle.cbor' });
  assert.equal(config.feed.rootPath, '/etc/tattler/root.cbor');
  assert.equal(config.keyPath, '/etc/tattler/collector.key');
  assert.equal(config.certificatePath, '/etc/tattler/collector.cert.cbor');
  assert.equal(config.privacy.notify.databasePath, '/etc/db/notify.db');
  const absolute = parseCollectorConfig(
    MINIMAL.replace('collector.key', '/etc/tattler/keys/collector.key'),
    FILE,
  );
  assert.equal(absolute.keyPath, '/etc/tattler/keys/collector.key');
});

test('parseCollectorConfig() names the key path, the problem and the fix', () => {
  const listen = MINIMAL.replace(
    'listen: [{address: 192.0.2.53}]',
    'listen: [{address: 192.0.2.53}, {address: "0.0.0.0:5683"}]',
  );
  assert.equal(
    new CollectorConfigError('collector.yaml', problemsOf(listen)).message,
    'collector.yaml: listen[1].address: "0.0.0.0:5683" is not an IP address — write the address and the port separately: {address: 0.0.0.0, port: 5683}',
  );
  const cases: [string, string, RegExp][] = [
    [
      'listen: [{address: "[2001:db8::1]:53"}]',
      'listen[0].address',
      /port separately: \{address: 2001:db8::1, port: 53\}/,
    ],
    ['listen: [{address: ns.example.net}]', 'listen[0].address', /not host names/],
    ['listen: [{address: 192.0.2.1, port: 65536}]', 'listen[0].port', /0\.\.65535/],
    ['listen: []', 'listen', /at least one address/],
    ['feed: {file: b, root: r, pullInterval: 900}', 'feed.pullInterval', /no unit .* e\.g\. 15m/],
    ['feed: {file: b, root: r, pullInterval: 2d}', 'feed.pullInterval', /outside 1m\.\.1d/],
    ['feed: {root: r}', 'feed', /no feed source/],
    ['feed: {file: b, url: "https://x.example/b", root: r}', 'feed.url', /keep one/],
    ['feed: {url: "ftp://x.example/b", root: r}', 'feed.url', /not http: or https:/],
    ['feed: {file: b}', 'feed.root', /missing — add it/],
    ['policy: {minCvss: 9.25}', 'policy.minCvss', /one decimal/],
    ['policy: {minCvss: 11}', 'policy.minCvss', /0\.\.10/],
    ['policy: {kevOnly: yes}', 'policy.kevOnly', /true or false/],
    ['policy: {deny: ["not an id"]}', 'policy.deny[0]', /advisory id/],
    [
      'policy: {deny: [CVE-2021-36260], allow: [CVE-2021-36260]}',
      'policy.allow[0]',
      /also in deny/,
    ],
    ['policy: {exempt: [10.1.2.3/8]}', 'policy.exempt[0]', /host bits/],
    ['policy: {verdictLifetime: {pass: 46d}}', 'policy.verdictLifetime.pass', /outside 1m\.\.45d/],
    ['policy: {verdictLifetime: {unknown: 10s}}', 'policy.verdictLifetime.unknown', /outside 1m\.\.45d/],
    ['rateLimit: {ratePerSecond: 0}', 'rateLimit.ratePerSecond', /more than 0/],
    ['rateLimit: {ipv6PrefixLength: 129}', 'rateLimit.ipv6PrefixLength', /16\.\.128/],
    ['rateLimit: {slip: 11}', 'rateLimit.slip', /0\.\.10/],
    ['privacy: {notify: {enabled: true}}', 'privacy.notify.database', /missing while enabled/],
    ['privacy: {notify: {retention: 1y}}', 'privacy.notify.retention', /not a duration/],
    ['metrics: 9464', 'metrics', /not a map/],
    ['metrics: {dashboard: {enabled: on}}', 'metrics.dashboard.enabled', /true or false/],
    ['metrics: {dashboard: {sampleInterval: 500ms}}', 'metrics.dashboard.sampleInterval', /not a duration/],
    ['metrics: {dashboard: {sampleInterval: 10m}}', 'metrics.dashboard.sampleInterval', /outside 1s\.\.5m/],
    ['metrics: {dashboard: {sampleInterval: 10}}', 'metrics.dashboard.sampleInterval', /no unit .* e\.g\. 10s/],
    ['metrics: {dashboard: true}', 'metrics.dashboard', /not a map — write keys under it, e\.g\. \{enabled: true/],
    ['metrics: {dashbaord: {enabled: true}}', 'metrics.dashbaord', /did you mean "dashboard"/],
    ['stats: {retention: 30d}', 'stats.database', /missing — add it, e\.g\. database: stats\.db/],
    ['stats: {database: s.db, retention: 12h}', 'stats.retention', /outside 1d\.\.3650d/],
    ['stats: {database: s.db, flushInterval: 2h}', 'stats.flushInterval', /outside 1s\.\.1h/],
    ['stats: {database: s.db, flushinterval: 1m}', 'stats.flushinterval', /did you mean "flushInterval"/],
    ['stats: stats.db', 'stats', /not a map/],
    ['workers: 65', 'workers', /1\.\.64/],
  ];
  for (const [line, path, pattern] of cases) {
    const key = line.split(':')[0] ?? '';
    const text =
      MINIMAL.split('\n')
        .filter((l) => !l.startsWith(`${key}:`))
        .join('\n') + `\n${line}\n`;
    assert.match(problemAt(text, path), pattern, line);
  }
});

test('parseCollectorConfig() reads the dashboard and stats sections with their defaults', () => {
  const config = parseCollectorConfig(
    `${MINIMAL}metrics: {address: 127.0.0.1, port: 9464, dashboard: {enabled: true, sampleInterval: 1s}}\nstats: {database: ../db/stats.db, flushInterval: 2s}\n`,
    FILE,
  );
  assert.deepEqual(config.metrics?.dashboard, { enabled: true, sampleIntervalSeconds: 1, allowedHosts: [] });
  assert.deepEqual(config.stats, { databasePath: '/etc/db/stats.db', retentionSeconds: 400 * 86_400, flushIntervalSeconds: 2 });
  const defaults = parseCollectorConfig(`${MINIMAL}metrics: {}\nstats: {database: stats.db}\n`, FILE);
  assert.ok(defaults.metrics !== null);
  assert.deepEqual(defaults.metrics.dashboard, { enabled: false, sampleIntervalSeconds: 10, allowedHosts: [] });
  assert.deepEqual(COLLECTOR_DEFAULTS.metrics.dashboard, defaults.metrics.dashboard);
  assert.deepEqual(defaults.stats, { databasePath: '/etc/tattler/stats.db', retentionSeconds: 400 * 86_400, flushIntervalSeconds: 60 });
  const summary = summarizeCollectorConfig(config);
  assert.match(summary, /^metrics {5}127\.0\.0\.1:9464; dashboard on at \/dashboard, a chart point every 1s$/m);
  assert.match(summary, /^stats {7}hourly aggregate counts in \/etc\/db\/stats\.db, written every 2s, kept 400d$/m);
  const off = summarizeCollectorConfig(parseCollectorConfig(MINIMAL, FILE));
  assert.match(off, /^metrics {5}off$/m);
  assert.match(off, /^stats {7}off \(no counts persisted\)$/m);
});

test('parseCollectorConfig() reads metrics.dashboard.allowedHosts: host names, lower case, at most 8', () => {
  const hosts = (list: string): readonly string[] | undefined =>
    parseCollectorConfig(`${MINIMAL}metrics: {dashboard: {enabled: true, allowedHosts: ${list}}}\n`, FILE).metrics?.dashboard.allowedHosts;
  assert.deepEqual(hosts('[Collector.Example.NET., ops-1.example.net, collector.example.net]'), ['collector.example.net', 'ops-1.example.net']);
  for (const bad of ['[http://collector.example.net]', '[collector.example.net:9464]', '["-bad.example"]', '[""]'])
    assert.match(problemAt(`${MINIMAL}metrics: {dashboard: {allowedHosts: ${bad}}}\n`, 'metrics.dashboard.allowedHosts[0]'), /is not a host name/, bad);
  assert.match(problemAt(`${MINIMAL}metrics: {dashboard: {allowedHosts: collector.example.net}}\n`, 'metrics.dashboard.allowedHosts'), /not a list/);
  const nine = `[${Array.from({ length: 9 }, (_, i) => `h${i}.example`).join(', ')}]`;
  assert.match(problemAt(`${MINIMAL}metrics: {dashboard: {allowedHosts: ${nine}}}\n`, 'metrics.dashboard.allowedHosts'), /9 entries, at most 8/);
});

test('parseCollectorConfig() reports missing required settings', () => {
  const problems = problemsOf('workers: 2\n');
  assert.deepEqual(
    problems.map((p) => p.path),
    ['listen', 'feed', 'key', 'certificate', 'operator'],
  );
  for (const p of problems) assert.match(p.message, /^missing — add/);
});

test('parseCollectorConfig() reports every problem at once', () => {
  const text = `
listen: [{address: 300.0.0.1}, {address: 192.0.2.1, port: -1}]
feed: {file: b, root: r, pullInterval: soon}
key: k
certificate: c
operator: ${'x'.repeat(65)}
policy: {minCvss: ten}
`;
  assert.deepEqual(
    problemsOf(text).map((p) => p.path),
    ['listen[0].address', 'listen[1].port', 'feed.pullInterval', 'operator', 'policy.minCvss'],
  );
});

test('parseCollectorConfig() refuses unknown keys and suggests the near one', () => {
  const text = `${MINIMAL}ratelimit: {burst: 5}\npolicy: {kev_only: true, mincvss: 9}\nlisten_on: x\ncolour: blue\n`;
  assert.equal(problemAt(text, 'ratelimit'), 'unknown key — did you mean "rateLimit"?');
  assert.equal(problemAt(text, 'policy.kev_only'), 'unknown key — did you mean "kevOnly"?');
  assert.equal(problemAt(text, 'policy.mincvss'), 'unknown key — did you mean "minCvss"?');
  assert.match(
    problemAt(text, 'colour'),
    /^unknown key — remove it; the keys here are listen, feed, key/,
  );
  assert.equal(suggestKey('wrokers', ['workers', 'key']), 'workers');
  assert.equal(suggestKey('tableSizes', ['tableSize', 'slip']), 'tableSize');
  assert.equal(suggestKey('something', ['tableSize', 'slip']), undefined);
});

test('parseCollectorConfig() refuses YAML errors with their line', () => {
  const problems = problemsOf('listen: [\nkey: a\n');
  assert.ok(problems.length > 0);
  assert.match(problems[0]?.path ?? '', /^line \d+, column \d+$/);
  assert.match(problemsOf(`${MINIMAL}key: again\n`)[0]?.message ?? '', /unique/);
  assert.match(problemsOf('')[0]?.message ?? '', /empty/);
  assert.match(problemsOf('- a\n- b\n')[0]?.message ?? '', /not a map/);
});

test('parseCollectorConfig() enforces its limits', () => {
  assert.match(
    problemsOf(`# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`)[0]?.message ?? '',
    /at most 1048576/,
  );
  const seventeen = Array.from({ length: 17 }, (_, i) => `{address: 192.0.2.${i + 1}}`).join(', ');
  assert.match(
    problemAt(MINIMAL.replace('[{address: 192.0.2.53}]', `[${seventeen}]`), 'listen'),
    /17 addresses, at most 16/,
  );
  const ids = Array.from({ length: 17 }, (_, i) => `CVE-2024-${1000 + i}`).join(', ');
  assert.match(problemAt(`${MINIMAL}policy: {deny: [${ids}]}\n`, 'policy.deny'), /at most 16/);
  // 16 CVE ids fit the wire's list limit, but not the 200-byte signed policy document.
  const sixteen = Array.from({ length: 16 }, (_, i) => `CVE-2024-${1000 + i}`).join(', ');
  assert.match(
    problemAt(
      `${MINIMAL}policy: {deny: [${sixteen}], allow: [${sixteen.replaceAll('2024', '2023')}]}\n`,
      'policy',
    ),
    /signed policy document, at most 200/,
  );
  // "Billion laughs": aliases expanding a list again and again are refused, not expanded.
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++)
    laughs.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(', ')}]`,
    );
  assert.match(problemsOf(laughs.join('\n'))[0]?.message ?? '', /alias/i);
});

test('parseCollectorConfig() normalises IPv6 and keeps duplicates out', () => {
  const config = parseCollectorConfig(MINIMAL.replace('192.0.2.53', '"2001:DB8:0:0::53"'), FILE);
  assert.equal(config.listen[0]?.address, '2001:db8::53');
  const twice = MINIMAL.replace(
    '[{address: 192.0.2.53}]',
    '[{address: 192.0.2.53}, {address: 192.0.2.53, port: 5683}]',
  );
  assert.match(problemAt(twice, 'listen[1]'), /listed twice/);
});

test('parseCollectorConfig() never echoes URL credentials', () => {
  const text = MINIMAL.replace(
    '{file: bundle.cbor, root: root.cbor}',
    '{url: "https://user:s3cret@feed.example/b", root: r}',
  );
  const message = problemAt(text, 'feed.url');
  assert.match(message, /credentials/);
  assert.doesNotMatch(message, /s3cret/);
});

test('loadCollectorConfig() explains unreadable and non-UTF-8 files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-config-'));
  try {
    await assert.rejects(
      loadCollectorConfig(join(dir, 'missing.yaml')),
      /missing\.yaml: no such file — check the path/,
    );
    const latin1 = join(dir, 'latin1.yaml');
    await writeFile(latin1, Buffer.from([0x6f, 0x70, 0x3a, 0x20, 0xe9, 0x0a]));
    await assert.rejects(loadCollectorConfig(latin1), /not UTF-8/);
    const copy = join(dir, 'collector.yaml');
    await writeFile(copy, await readFile(EXAMPLE));
    assert.equal((await loadCollectorConfig(copy)).keyPath, join(dir, 'keys/collector.key'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
