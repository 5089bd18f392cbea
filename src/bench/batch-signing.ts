/**
 * `npm run bench:batch-signing`: what Roughtime's batching (one signature over a Merkle root of
 * the answers of a short batch, each answer carrying its path; draft-ietf-ntp-roughtime §6.3)
 * would save the collector on an all-FAIL load, against one Ed25519 signature per verdict.
 * A measurement only: the wire format signs each verdict (docs/PERFORMANCE.md says why it stays).
 * @module
 */
import { loadavg } from 'node:os';
import { sha256, sign, verify } from '../crypto/index.ts';
import { encodeVerdictPayload, readFeedRecord, decodeCbor, type Verdict } from '../protocol/index.ts';
import { COLLECTOR_ADDRESS, DEVICE_ADDRESS, NONCE, testBundle } from '../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { describeEnvironment, publishReport } from './environment.ts';
import { MEASURE_DEFAULTS, measureCases, type BenchCase, type Measurement } from './measure.ts';

const COMMAND = 'npm run bench:batch-signing';
/** Batch sizes measured: answers per signature. */
const BATCHES = [8, 64] as const;
/** A FAIL answer's size today (bench:collector's all-FAIL mix), bytes. */
const FAIL_ANSWER_BYTES = 305;
const REQUEST_BYTES = 1232;

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

/** The FAIL verdict payload of the fixture's DIR-859 with nonce `i` (~250 bytes with its record). */
function failPayloads(count: number): Uint8Array[] {
  const record = testBundle().recordsFor('dlink', 'dir859')[0];
  if (record === undefined) throw new Error('fixture feed: no DIR-859 record');
  const tag = readFeedRecord(decodeCbor(record.bytes));
  return Array.from({ length: count }, (_, i) => {
    const nonce = NONCE.slice();
    new DataView(nonce.buffer).setUint32(0, i);
    const verdict: Verdict = { nonce, status: 'fail', destination: COLLECTOR_ADDRESS, source: DEVICE_ADDRESS, lifetimeSeconds: 604_800, feedVersion: 42, record: tag };
    return encodeVerdictPayload(verdict);
  });
}

/** Merkle root over `leaves` (RFC 6962 §2.1 shape: 0x00 leaf, 0x01 node prefixes), and every level. */
function merkle(payloads: readonly Uint8Array[]): { root: Uint8Array; levels: Uint8Array[][] } {
  let level = payloads.map((p) => sha256(LEAF, p));
  const levels = [level];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] ?? new Uint8Array(32);
      next.push(sha256(NODE, left, level[i + 1] ?? left));
    }
    level = next;
    levels.push(level);
  }
  return { root: level[0] ?? new Uint8Array(32), levels };
}

/** The audit path of leaf `index`. */
function pathOf(levels: readonly Uint8Array[][], index: number): Uint8Array[] {
  const path: Uint8Array[] = [];
  let i = index;
  for (const level of levels.slice(0, -1)) {
    const sibling = level[i ^ 1] ?? level[i];
    if (sibling !== undefined) path.push(sibling);
    i >>= 1;
  }
  return path;
}

/** The device's side: recompute the root from its answer and path, then one verification. */
function verifyPath(payload: Uint8Array, index: number, path: readonly Uint8Array[], rootSignature: Uint8Array): boolean {
  let hash = sha256(LEAF, payload);
  let i = index;
  for (const sibling of path) {
    hash = (i & 1) === 0 ? sha256(NODE, hash, sibling) : sha256(NODE, sibling, hash);
    i >>= 1;
  }
  return verify(TRUST_KEYS.collector.publicKey, hash, rootSignature);
}

function cases(): BenchCase[] {
  const key = TRUST_KEYS.collector;
  const payloads = failPayloads(256);
  let next = 0;
  const each: BenchCase = {
    id: 'sign-each',
    name: 'sign one FAIL verdict (today: one signature per answer)',
    op: () => sign(key, payloads[next++ & 255] ?? new Uint8Array(0)).byteLength,
  };
  const batched = BATCHES.map(
    (size): BenchCase => ({
      id: `batch-${size}`,
      name: `sign a batch of ${size} FAIL verdicts (Merkle root + ${size} paths)`,
      op: () => {
        const start = (next += size) & 255;
        const batch = Array.from({ length: size }, (_, i) => payloads[(start + i) & 255] ?? new Uint8Array(0));
        const { root, levels } = merkle(batch);
        const signature = sign(key, root);
        let bytes = signature.byteLength;
        for (let i = 0; i < size; i++) bytes += pathOf(levels, i).length;
        return bytes;
      },
    }),
  );
  const sample = failPayloads(64);
  const { root, levels } = merkle(sample);
  const rootSignature = sign(key, root);
  const path = pathOf(levels, 37);
  const verifyEach = sign(key, sample[37] ?? new Uint8Array(0));
  return [
    each,
    ...batched,
    {
      id: 'verify-each',
      name: 'device: verify one signed verdict',
      op: () => (verify(key.publicKey, sample[37] ?? new Uint8Array(0), verifyEach) ? 1 : 0),
    },
    {
      id: 'verify-path-64',
      name: 'device: verify a batch-64 answer (6 hashes + 1 signature)',
      op: () => (verifyPath(sample[37] ?? new Uint8Array(0), 37, path, rootSignature) ? 1 : 0),
    },
  ];
}

function notes(measurements: readonly Measurement[]): string[] {
  const ns = (id: string): number => measurements.find((m) => m.id === id)?.nsPerOp ?? Number.NaN;
  const each = ns('sign-each');
  const lines = BATCHES.map((size) => {
    const perAnswer = ns(`batch-${size}`) / size;
    const depth = Math.ceil(Math.log2(size));
    const answerBytes = FAIL_ANSWER_BYTES + depth * 32 + 2;
    return (
      `Batch of ${size}: ${(perAnswer / 1000).toFixed(2)} µs of signing work per answer against ` +
      `${(each / 1000).toFixed(2)} µs (${(each / perAnswer).toFixed(1)}× less); each FAIL answer grows by ` +
      `${depth} × 32 + 2 bytes to ≈ ${answerBytes} bytes, within the ${REQUEST_BYTES}-byte request (BAF ≤ 1 holds).`
    );
  });
  lines.push(
    `Device side: ${(ns('verify-path-64') / 1000).toFixed(1)} µs to check a batch-64 answer against ` +
      `${(ns('verify-each') / 1000).toFixed(1)} µs for a signed verdict: the same one verification, plus six hashes.`,
  );
  return lines;
}

async function run(): Promise<void> {
  const options = { ...MEASURE_DEFAULTS, clock: () => process.hrtime.bigint() };
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const measurements = measureCases(cases(), options);
  await publishReport({
    name: 'batch-signing',
    title: 'Batch signing: one signature per Merkle batch (Roughtime) against one per answer (`src/bench/batch-signing.ts`)',
    environment: describeEnvironment(COMMAND, loadAtStart),
    method:
      'Each case timed like bench:protocol (warm-up, 3 interleaved rounds, median). A batch case is ' +
      'one whole batch: leaf hashes, the tree, one Ed25519 signature, and every answer\'s path.',
    measurements,
    ratios: BATCHES.map((size) => ({ label: `batch of ${size} ÷ one signature`, numerator: `batch-${size}`, denominator: 'sign-each' })),
    notes: notes(measurements),
  });
}

try {
  await run();
} catch (err) {
  process.stderr.write(`bench:batch-signing: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
