/**
 * `npm run bench:feed` (second part): times `planFeed`, `signFeedPlan` + `encodeBundle` and
 * `verifyBundle` on synthetic advisories in memory, compares them with one Ed25519 sign and verify
 * measured in the same run, and rewrites the `bench:feed-bundle` section of docs/PERFORMANCE.md.
 * @module
 */
import { loadavg } from 'node:os';
import { describeEnvironment, publishReport } from './environment.ts';
import { sign, verify } from '../crypto/index.ts';
import { encodeBundle, verifyBundle } from '../feed/bundle.ts';
import { MemoryFeedReader } from '../feed/memory-index.ts';
import { planFeed, signFeedPlan } from '../feed/publish.ts';
import { EMPTY_PUBLISHER_POLICY } from '../feed/publisher-policy.ts';
import { sign1ToBeSigned, type Root } from '../protocol/index.ts';
import { TEST_KEYS } from '../testing/keys.ts';
import { MEASURE_DEFAULTS, measureCases, type BenchCase } from './measure.ts';
import { formatNumber, type RatioSpec } from './performance-section.ts';
import { syntheticAdvisories } from './synthetic-advisories.ts';
import { SYNTHETIC_DEFAULTS } from './synthetic-nvd.ts';

const COMMAND = 'npm run bench:feed';
const SECTION = 'feed-bundle';
/**
 * Distinct (vendor, model) pairs: 20,000 gives ~90,000 records and ~6,000 pages (a ~20 MB
 * bundle) and keeps this part under a minute on 2 cores; BENCH_BUNDLE_MODELS overrides it.
 */
const DEFAULT_MODELS = 20_000;
/** Every 20th advisory is in KEV, so some records are quarantine-eligible. */
const KEV_EVERY = 20;
const NOW = 1_700_000_000;
const FEED_VERSION = 1;
/** A Sig_structure of a typical feed record's size (§9: a signed record is ~220 bytes). */
const TYPICAL_PAYLOAD_BYTES = 160;

interface Timed<T> {
  readonly value: T;
  readonly ms: number;
}

function timed<T>(f: () => T): Timed<T> {
  const start = process.hrtime.bigint();
  const value = f();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

function signatureCases(): BenchCase[] {
  const key = TEST_KEYS.feed;
  const message = sign1ToBeSigned(new Uint8Array(17).fill(0xa3), new Uint8Array(TYPICAL_PAYLOAD_BYTES).fill(0x61));
  const signature = sign(key, message);
  return [
    { id: 'sign', name: `Ed25519 sign (${message.byteLength} B Sig_structure)`, op: () => sign(key, message).byteLength },
    { id: 'verify', name: 'Ed25519 verify (same message)', op: () => (verify(key.publicKey, message, signature) ? 1 : 0) },
  ];
}

const RATIOS: readonly RatioSpec[] = [{ label: 'Ed25519 verify ÷ Ed25519 sign', numerator: 'verify', denominator: 'sign' }];

/** A count with thousands separators (formatNumber is for rates: it prints 0 as "0.000"). */
function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function percent(part: number, whole: number): string {
  return `${Math.round((100 * part) / whole)} %`;
}

async function run(): Promise<void> {
  const models = Number(process.env.BENCH_BUNDLE_MODELS ?? DEFAULT_MODELS);
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  process.stderr.write(`bench:feed: generating advisories for ${formatCount(models)} models…\n`);
  const generated = syntheticAdvisories({ seed: SYNTHETIC_DEFAULTS.seed, models, maxRecords: 10_000_000 });
  const kev = generated.advisories.filter((_, i) => i % KEV_EVERY === 0).map((a) => a.id);
  const reader = new MemoryFeedReader(generated.advisories, { kev });
  const options = { policy: EMPTY_PUBLISHER_POLICY, feedVersion: FEED_VERSION, issuedAt: NOW, expiresAt: NOW + 7 * 86_400 };

  process.stderr.write('bench:feed: planning, signing and verifying the bundle…\n');
  const plan = timed(() => planFeed(reader, options));
  const built = timed(() => encodeBundle(TEST_KEYS.feed, { feedVersion: FEED_VERSION, issuedAt: options.issuedAt, expiresAt: options.expiresAt, ...signFeedPlan(TEST_KEYS.feed, plan.value) }));
  const root: Root = { version: 1, threshold: 1, rootKeys: [TEST_KEYS.root1.publicKey.raw], feedKeys: [TEST_KEYS.feed.publicKey.raw], registryKeys: [TEST_KEYS.registry.publicKey.raw], issuedAt: NOW - 86_400 };
  const verified = timed(() => verifyBundle(built.value, root, { nowSeconds: NOW }));
  if (!verified.value.ok) throw new Error(`verifyBundle refused its own bundle: ${verified.value.reason} ${verified.value.message}`);

  process.stderr.write('bench:feed: measuring one Ed25519 sign and verify…\n');
  const measureOptions = { ...MEASURE_DEFAULTS, clock: () => process.hrtime.bigint() };
  const measurements = measureCases(signatureCases(), measureOptions);
  const signNs = measurements.find((m) => m.id === 'sign')?.nsPerOp ?? Number.NaN;
  const verifyNs = measurements.find((m) => m.id === 'verify')?.nsPerOp ?? Number.NaN;

  const { report } = plan.value;
  // Every record and page is signed and verified once; the manifest adds one of each.
  const documents = report.records + report.pages + 1;
  const signFloorMs = (documents * signNs) / 1e6;
  const verifyFloorMs = (documents * verifyNs) / 1e6;
  const notes = [
    `Input: ${formatCount(generated.models)} models (BENCH_BUNDLE_MODELS, default ${formatCount(DEFAULT_MODELS)}) from ${formatCount(generated.advisories.length)} device advisories: the synthetic NVD set (seed ${SYNTHETIC_DEFAULTS.seed}) parsed by \`parseNvdCve\` in memory, every ${KEV_EVERY}th advisory in KEV, the maintained vendor alias table; ${formatCount(report.rows)} rows, ${formatCount(report.products)} products.`,
    `Output: ${formatCount(report.records)} records (${formatCount(report.aliasRecords)} under aliases), ${formatCount(report.pages)} bucket pages, ${formatCount(report.entries)} entries (${formatCount(report.overflowEntries)} trimmed by the 16-page limit); bundle ${(built.value.byteLength / 1e6).toFixed(1)} MB.`,
    `\`planFeed\`: ${seconds(plan.ms)} (${formatNumber((plan.ms * 1e6) / report.records)} ns per record).`,
    `\`signFeedPlan\` + \`encodeBundle\`: ${seconds(built.ms)}; ${formatCount(documents)} documents × one Ed25519 sign = ${seconds(signFloorMs)}, so signing is ${percent(signFloorMs, built.ms)} of it (time ÷ floor ${(built.ms / signFloorMs).toFixed(2)}×).`,
    `\`verifyBundle\`: ${seconds(verified.ms)}; ${formatCount(documents)} documents × one Ed25519 verify = ${seconds(verifyFloorMs)}, so verifying signatures is ${percent(verifyFloorMs, verified.ms)} of it (time ÷ floor ${(verified.ms / verifyFloorMs).toFixed(2)}×).`,
    'Plan, sign and verify run once each (wall clock, one thread); the machine is shared, so compare them with the Ed25519 rows of the same run rather than across runs.',
  ];
  const section = {
    name: SECTION,
    title: 'Feed: bundle build and verify (`src/bench/bundle.ts`)',
    environment: describeEnvironment(COMMAND, loadAtStart),
    method: `plan, sign + encode and verify of one bundle run once each; the Ed25519 rows: ${Number(measureOptions.warmupNs) / 1e9} s warm-up, ${measureOptions.rounds} interleaved rounds of ${Number(measureOptions.runNs) / 1e9} s, median round shown.`,
    measurements,
    ratios: RATIOS,
    notes,
  };
  await publishReport(section);
}

try {
  await run();
} catch (err) {
  process.stderr.write(`bench:feed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
