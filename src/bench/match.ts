/**
 * `npm run bench:match`: exact (vendor, model) lookups per second against the collector's
 * in-memory index, built from 250,000 synthetic advisories, with the index's heap cost; rewrites
 * the `bench:match` section of docs/PERFORMANCE.md. Run with --expose-gc for the heap figure.
 * @module
 */
import { loadavg } from 'node:os';
import { describeEnvironment, publishReport } from './environment.ts';
import { matchDevice } from '../feed/match.ts';
import { MemoryIndex } from '../feed/memory-index.ts';
import type { Advisory, AffectedProduct, FeedReader, ProductMatchRow } from '../feed/types.ts';
import type { Interval } from '../protocol/index.ts';
import { MEASURE_DEFAULTS, measureCases, type BenchCase } from './measure.ts';
import { formatNumber } from './performance-section.ts';
import { createRng } from '../testing/prng.ts';

const COMMAND = 'npm run bench:match';
const SECTION = 'match';

// Shape of the synthetic set: NVD holds ~250k CVEs; the IoT part names ~30k device models.
const ADVISORIES = 250_000;
const VENDORS = 1_500;
const MODELS_PER_VENDOR = 20; // 1,500 × 20 = 30,000 (vendor, model) keys
const LOOKUP_KEYS = 1 << 16; // pre-drawn keys, cycled, so drawing them costs nothing in the loop
const GOAL_LOOKUPS_PER_SECOND = 1_000_000;


function vendorName(v: number): string {
  return `vendor${v}`;
}
function modelName(v: number, m: number): string {
  return `m${v}x${m}`;
}

/** A skewed pick in [0, n): a few vendors and models have most of the CVEs, as in NVD. */
function skewed(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(n * random() ** 2));
}

function intervalsFor(random: () => number): { intervals: Interval[]; fixed: string[] } {
  const major = 1 + Math.floor(random() * 9);
  const minor = Math.floor(random() * 20);
  const shape = random();
  if (shape < 0.6) {
    const fixed = `${major}.${minor}.${Math.floor(random() * 10)}`;
    return { intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: fixed, upperInclusive: false }], fixed: [fixed] };
  }
  if (shape < 0.8) {
    // Per-branch fixes: two channels.
    const a = `${major}.${minor}.${1 + Math.floor(random() * 9)}`;
    const b = `${major}.${minor + 1}.${1 + Math.floor(random() * 9)}`;
    return {
      intervals: [
        { kind: 'range', lower: `${major}.0`, lowerInclusive: true, upper: a, upperInclusive: false },
        { kind: 'range', lower: `${major}.${minor + 1}`, lowerInclusive: true, upper: b, upperInclusive: false },
      ],
      fixed: [a, b],
    };
  }
  if (shape < 0.95) return { intervals: [{ kind: 'exact-list', prefix: `${major}.${minor}.`, suffixes: ['1', '2', '3 build 200101'] }], fixed: [] };
  return { intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false }], fixed: [] };
}

/** The synthetic rows: one per affected product of each advisory (1–3 products each). */
function syntheticRows(random: () => number): ProductMatchRow[] {
  const rows: ProductMatchRow[] = [];
  for (let i = 0; i < ADVISORIES; i++) {
    const v = skewed(random, VENDORS);
    const count = 1 + Math.floor(random() * 3);
    const products: AffectedProduct[] = [];
    for (let p = 0; p < count; p++) {
      const { intervals, fixed } = intervalsFor(random);
      const model = modelName(v, skewed(random, MODELS_PER_VENDOR));
      products.push({ vendor: vendorName(v), model, hwVersion: null, intervals, fixed, confidence: 'high', reason: `cpe:2.3:o:${vendorName(v)}:${model}_firmware` });
    }
    const id = `CVE-${2000 + (i % 25)}-${10000 + i}`;
    const advisory: Advisory = { source: 'nvd', id, aliases: [], cvss: Math.round(random() * 100) / 10, published: null, products, remediationUrls: [] };
    const provenance = { source: 'nvd' as const, recordId: id, importedAtMs: 0, catalogVersion: null };
    for (const product of products) rows.push({ advisory, product, kev: random() < 0.01, provenance });
  }
  return rows;
}

function heapUsed(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function run(): Promise<void> {
  const hasGc = typeof globalThis.gc === 'function';
  if (!hasGc) process.stderr.write('bench:match: no global.gc (run node with --expose-gc); the heap figure is rough\n');
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const random = createRng(0x7a771e);
  const rows = syntheticRows(random);
  const heapBefore = heapUsed();
  const buildStart = process.hrtime.bigint();
  const index = MemoryIndex.fromRows(rows);
  const buildMs = Number(process.hrtime.bigint() - buildStart) / 1e6;
  const heapAfter = heapUsed();
  const { keys, rows: rowCount } = index.size;

  const hits: [string, string][] = [];
  const mixed: [string, string][] = [];
  for (let i = 0; i < LOOKUP_KEYS; i++) {
    const v = Math.floor(random() * VENDORS);
    const key: [string, string] = [vendorName(v), modelName(v, Math.floor(random() * MODELS_PER_VENDOR))];
    if (index.has(key[0], key[1])) hits.push(key);
    // 1 in 10 mixed lookups asks for a model the feed does not know.
    mixed.push(random() < 0.1 ? [key[0], `${key[1]}unknown`] : key);
  }
  const reader: FeedReader = {
    lookup: (v, m) => [...index.lookup(v, m)],
    rows: () => rows.values(),
    canonicalVendor: (v) => v,
  };
  let h = 0;
  let x = 0;
  let d = 0;
  const cases: BenchCase[] = [
    { id: 'hit', name: 'index lookup, known (vendor, model)', op: () => { const k = hits[h++ & (hits.length - 1)] ?? ['', '']; return index.lookup(k[0], k[1]).length; } },
    { id: 'mixed', name: 'index lookup, 90% known / 10% unknown', op: () => { const k = mixed[x++ & (LOOKUP_KEYS - 1)] ?? ['', '']; return index.lookup(k[0], k[1]).length; } },
    {
      id: 'match',
      name: 'matchDevice() end to end (canonicalise, look up, compare versions)',
      op: () => {
        const k = hits[d++ & (hits.length - 1)] ?? ['', ''];
        return matchDevice(reader, { vendor: k[0], model: k[1], version: '3.4.5' }).matches.length;
      },
    },
  ];
  // hits.length must be a power of two for the mask: trim it.
  hits.length = 2 ** Math.floor(Math.log2(hits.length));
  const options = { ...MEASURE_DEFAULTS, clock: () => process.hrtime.bigint() };
  process.stderr.write(`bench:match: ${formatNumber(rowCount)} rows, ${formatNumber(keys)} keys; measuring ${cases.length} cases, about 21 s…\n`);
  const measurements = measureCases(cases, options);
  const hit = measurements.find((m) => m.id === 'hit');
  const notes = [
    `Data: ${formatNumber(ADVISORIES)} synthetic advisories (seeded PRNG, skewed towards a few vendors and models), ${formatNumber(rowCount)} product rows under ${formatNumber(keys)} (vendor, model) keys; keys already canonical.`,
    `Index heap cost: ${mib(heapAfter - heapBefore)} (${formatNumber((heapAfter - heapBefore) / keys)} bytes per key) on top of the rows, measured as heapUsed after − before building, ${hasGc ? 'each after global.gc()' : 'WITHOUT global.gc (rough)'}; built in ${formatNumber(buildMs)} ms.`,
    `Goal ≥ ${formatNumber(GOAL_LOOKUPS_PER_SECOND)} lookups/s on one core: ${hit !== undefined && hit.opsPerSecond >= GOAL_LOOKUPS_PER_SECOND ? 'met' : 'NOT met'} (known keys ${hit === undefined ? '?' : formatNumber(hit.opsPerSecond)}/s).`,
    'SQLite-backed lookups and p99 per lookup are not measured here (bench:feed).',
  ];
  const ratios = [{ label: 'matchDevice() ÷ index lookup', numerator: 'match', denominator: 'hit' }];
  const report = {
    name: SECTION,
    title: 'Matching: in-memory index lookups (`src/bench/match.ts`)',
    environment: describeEnvironment(COMMAND, loadAtStart),
    method: `${Number(options.warmupNs) / 1e9} s warm-up per case, then ${options.rounds} interleaved rounds of ${Number(options.runNs) / 1e9} s; median round shown; one thread; lookups cycle through ${formatNumber(LOOKUP_KEYS)} pre-drawn keys.`,
    measurements,
    ratios,
    notes,
  };
  await publishReport(report);
}

try {
  await run();
} catch (err) {
  process.stderr.write(`bench:match: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
