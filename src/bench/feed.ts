/**
 * `npm run bench:feed`: generates (or reuses) the synthetic NVD-scale dataset, times
 * `tattler feed import` of it in a child process (throughput, peak RSS), times SQLite-backed
 * lookups (ops/s and p99), and rewrites the `bench:feed` section of docs/PERFORMANCE.md.
 * @module
 */
import { spawn } from 'node:child_process';
import { access, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { describeEnvironment, publishReport } from './environment.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FeedStore } from '../feed/store.ts';
import { MEASURE_DEFAULTS, measureCases, type BenchCase } from './measure.ts';
import { formatNumber, type RatioSpec } from './performance-section.ts';
import { SYNTHETIC_DEFAULTS, writeSyntheticNvd } from './synthetic-nvd.ts';
import { createRng } from './synthetic-nvd-records.ts';

const COMMAND = 'npm run bench:feed';
const SECTION = 'feed';
const TATTLER = fileURLToPath(new URL('../../bin/tattler.js', import.meta.url));
/** The goal for the import: streaming, whatever the input size. */
const PEAK_RSS_GOAL_BYTES = 300e6;
/** Individually timed lookups for the latency percentiles. */
const LATENCY_SAMPLES = 20_000;

interface ImportRun {
  readonly recordsRead: number;
  readonly advisories: number;
  readonly products: number;
  readonly intervals: number;
  readonly bytesRead: number;
  readonly elapsedMs: number;
  readonly peakRssBytes: number;
  readonly skipped: Readonly<Record<string, number>>;
}

function isImportRun(value: unknown): value is ImportRun {
  return typeof value === 'object' && value !== null && ['recordsRead', 'elapsedMs', 'peakRssBytes'].every((k) => typeof (value as Record<string, unknown>)[k] === 'number');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The dataset directory, generated once per (records, seed) and reused from the temp dir. */
async function dataset(records: number, seed: number): Promise<string> {
  const dir = join(tmpdir(), `tattler-bench-nvd-${records}-${seed}-v1`);
  const marker = join(dir, '.complete');
  if (await exists(marker)) return dir;
  process.stderr.write(`bench:feed: generating ${records} synthetic CVE records in ${dir}…\n`);
  await rm(dir, { recursive: true, force: true });
  await writeSyntheticNvd({ out: dir, records, seed });
  await writeFile(marker, '');
  return dir;
}

/** Runs `tattler feed import --json` in a child process and returns its report. */
function runImport(db: string, nvd: string): Promise<ImportRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TATTLER, 'feed', 'import', '--db', db, '--nvd', nvd, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`tattler feed import exited with ${String(code)}`));
        return;
      }
      const report: unknown = JSON.parse(out);
      if (isImportRun(report)) resolve(report);
      else reject(new Error(`tattler feed import: unexpected output ${out.slice(0, 200)}`));
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/**
 * The SQLite lookup cases. The in-memory index lookups of the collector belong to the matcher's
 * benchmark; add them to this section through `extraCases` when it exists.
 */
export function sqliteLookupCases(store: FeedStore, keys: readonly (readonly [string, string])[]): BenchCase[] {
  let i = 0;
  let j = 0;
  return [
    {
      id: 'sqlite-hit',
      name: 'FeedStore.lookup: known (vendor, model)',
      op: () => {
        const key = keys[i++ % keys.length];
        return key === undefined ? 0 : store.lookup(key[0], key[1]).length;
      },
    },
    {
      id: 'sqlite-miss',
      name: 'FeedStore.lookup: unknown model',
      op: () => store.lookup('dlink', `no-such-model-${j++ % 1000}`).length,
    },
  ];
}

const RATIOS: readonly RatioSpec[] = [{ label: 'lookup of a known model ÷ lookup of an unknown model', numerator: 'sqlite-hit', denominator: 'sqlite-miss' }];

async function run(): Promise<void> {
  const records = Number(process.env.BENCH_FEED_RECORDS ?? SYNTHETIC_DEFAULTS.records);
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const dir = await dataset(records, SYNTHETIC_DEFAULTS.seed);
  const db = join(tmpdir(), `tattler-bench-feed-${process.pid}.db`);
  process.stderr.write(`bench:feed: importing ${records} records into ${db}…\n`);
  const wallStart = process.hrtime.bigint();
  const imported = await runImport(db, dir);
  const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6;
  const dbBytes = (await stat(db)).size;

  const store = FeedStore.open(db, { readonly: true });
  try {
    const seen = new Map<string, readonly [string, string]>();
    for (const r of store.rows()) seen.set(`${r.product.vendor}\u0000${r.product.model}`, [r.product.vendor, r.product.model]);
    const models = [...seen.values()];
    const rng = createRng(7);
    const keys: (readonly [string, string])[] = Array.from({ length: 10_000 }, () => models[Math.floor(rng() * models.length)] ?? ['dlink', 'none']);
    const latencies: number[] = [];
    for (let k = 0; k < LATENCY_SAMPLES; k++) {
      const key: readonly [string, string] = keys[k % keys.length] ?? ['dlink', 'none'];
      const t = process.hrtime.bigint();
      store.lookup(key[0], key[1]);
      latencies.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    latencies.sort((a, b) => a - b);
    const options = { ...MEASURE_DEFAULTS, clock: () => process.hrtime.bigint() };
    const measurements = measureCases(sqliteLookupCases(store, keys), options);
    const rowsPerHit = measurements[0] === undefined ? 0 : keys.reduce((sum, key) => sum + store.lookup(key[0], key[1]).length, 0) / keys.length;

    const rate = imported.recordsRead / (imported.elapsedMs / 1000);
    const notes = [
      `Dataset: ${formatNumber(records)} synthetic NVD API 2.0 records (\`src/bench/synthetic-nvd.ts\`, seed ${SYNTHETIC_DEFAULTS.seed}), ${(imported.bytesRead / 1e6).toFixed(0)} MB in ${Math.ceil(records / 2000)} page files; ${formatNumber(imported.skipped.NOT_A_DEVICE ?? 0)} application-only records (not stored).`,
      `Import (\`tattler feed import --json\` in a child process, one transaction): ${formatNumber(rate)} records/s, ${(imported.elapsedMs / 1000).toFixed(1)} s (${(wallMs / 1000).toFixed(1)} s wall with process start); ${formatNumber(imported.advisories)} advisories, ${formatNumber(imported.products)} products, ${formatNumber(imported.intervals)} intervals; database ${(dbBytes / 1e6).toFixed(0)} MB.`,
      `Peak RSS of the import: ${(imported.peakRssBytes / 1e6).toFixed(0)} MB (goal < ${PEAK_RSS_GOAL_BYTES / 1e6} MB: ${imported.peakRssBytes < PEAK_RSS_GOAL_BYTES ? 'met' : 'NOT met'}); it includes SQLite's 64 MiB page cache.`,
      `SQLite lookup latency over ${formatNumber(LATENCY_SAMPLES)} individually timed known-model lookups (${rowsPerHit.toFixed(1)} rows each on average): p50 ${percentile(latencies, 0.5).toFixed(1)} µs, p99 ${percentile(latencies, 0.99).toFixed(1)} µs, max ${(latencies.at(-1) ?? Number.NaN).toFixed(1)} µs.`,
      'In-memory index lookups (the collector\'s path, goal ≥ 1,000,000/s) are measured by the matcher\'s benchmark, not here.',
    ];
    const report = {
      name: SECTION,
      title: 'Feed: import and SQLite lookups (`src/bench/feed.ts`)',
      environment: describeEnvironment(COMMAND, loadAtStart),
      method: `the import runs once (records/s from its own clock, peak RSS from getrusage); lookups: ${Number(options.warmupNs) / 1e9} s warm-up, ${options.rounds} interleaved rounds of ${Number(options.runNs) / 1e9} s over 10,000 seeded random (vendor, model) keys; median round shown.`,
      measurements,
      ratios: RATIOS,
      notes,
    };
    await publishReport(report);
  } finally {
    store.close();
    await rm(db, { force: true });
    await rm(`${db}-wal`, { force: true });
    await rm(`${db}-shm`, { force: true });
  }
}

try {
  await run();
} catch (err) {
  process.stderr.write(`bench:feed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
