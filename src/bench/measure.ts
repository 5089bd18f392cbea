/**
 * Fixed-time throughput measurement: warm each case up, then time it in several rounds that
 * interleave all cases, and keep the median round. The clock is passed in, so this is testable.
 * @module
 */

/** One operation to measure; it returns a number that is summed, so V8 cannot drop the call. */
export interface BenchCase {
  /** Stable short identifier, used to refer to the case in ratios. */
  readonly id: string;
  /** What is measured, as printed in the table. */
  readonly name: string;
  readonly op: () => number;
}

/** How long to warm up and measure, and the clock to do it with. */
export interface MeasureOptions {
  /** Monotonic time in nanoseconds (the shell passes `process.hrtime.bigint`). */
  readonly clock: () => bigint;
  /** Time each case runs unmeasured before the first round (JIT tiers up, caches fill). */
  readonly warmupNs: bigint;
  /** Time each case runs in one measured round. */
  readonly runNs: bigint;
  /** Measured rounds per case; the median round is reported (the upper one for an even count). */
  readonly rounds: number;
  /** Target length of one timed batch: long enough that reading the clock costs nothing. */
  readonly batchNs: bigint;
}

/** Defaults: ~1 s warm-up, 3 rounds of ~2 s, clock read every ~1 ms. */
export const MEASURE_DEFAULTS: Omit<MeasureOptions, 'clock'> = Object.freeze({
  warmupNs: 1_000_000_000n,
  runNs: 2_000_000_000n,
  rounds: 3,
  batchNs: 1_000_000n,
});

/** One timed run: how many operations completed in how many nanoseconds. */
export interface Run {
  readonly ops: number;
  readonly elapsedNs: number;
}

/** The result for one case: the median run and the spread of all runs. */
export interface Measurement {
  readonly id: string;
  readonly name: string;
  readonly opsPerSecond: number;
  readonly nsPerOp: number;
  /** Fastest and slowest run, in ns per operation. */
  readonly minNsPerOp: number;
  readonly maxNsPerOp: number;
  readonly runs: readonly Run[];
  /** Sum of every value the operation returned; only there so the work is observable. */
  readonly checksum: number;
}

interface Timed {
  readonly run: Run;
  readonly checksum: number;
}

/** Runs `op` in batches of `batch` calls until `durationNs` has passed. */
function runFor(op: () => number, batch: number, durationNs: bigint, clock: () => bigint): Timed {
  let checksum = 0;
  let ops = 0;
  const start = clock();
  const end = start + durationNs;
  let now = start;
  do {
    for (let i = 0; i < batch; i++) checksum += op();
    ops += batch;
    now = clock();
  } while (now < end);
  return { run: { ops, elapsedNs: Number(now - start) }, checksum };
}

/**
 * Warms `op` up for `warmupNs` while doubling the batch until one batch lasts `batchNs`, and
 * returns that batch size.
 */
function warmUp(op: () => number, options: MeasureOptions): { batch: number; checksum: number } {
  const { clock, warmupNs, batchNs } = options;
  let batch = 1;
  let checksum = 0;
  const end = clock() + warmupNs;
  for (;;) {
    const timed = runFor(op, batch, 0n, clock);
    checksum += timed.checksum;
    const tooShort = BigInt(timed.run.elapsedNs) < batchNs;
    if (tooShort && batch < 2 ** 30) batch *= 2;
    if (clock() >= end) return { batch, checksum };
  }
}

function nsPerOp(run: Run): number {
  return run.elapsedNs / run.ops;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Measures every case: a warm-up each, then `rounds` rounds in which every case runs for
 * `runNs` in turn, so slow drifts of the machine (frequency, neighbours) hit all cases alike.
 * @example measureCases([{ id: 'noop', name: 'noop', op: () => 0 }], { ...MEASURE_DEFAULTS, clock: () => process.hrtime.bigint() })
 */
export function measureCases(cases: readonly BenchCase[], options: MeasureOptions): Measurement[] {
  if (!Number.isInteger(options.rounds) || options.rounds < 1) {
    throw new RangeError(`rounds: expected a positive integer, got ${options.rounds}`);
  }
  const state = cases.map((c) => {
    const warm = warmUp(c.op, options);
    return { c, batch: warm.batch, checksum: warm.checksum, runs: [] as Run[] };
  });
  for (let round = 0; round < options.rounds; round++) {
    for (const s of state) {
      const timed = runFor(s.c.op, s.batch, options.runNs, options.clock);
      s.runs.push(timed.run);
      s.checksum += timed.checksum;
    }
  }
  return state.map((s) => {
    const perOp = s.runs.map(nsPerOp);
    const ns = median(perOp);
    return {
      id: s.c.id,
      name: s.c.name,
      opsPerSecond: 1e9 / ns,
      nsPerOp: ns,
      minNsPerOp: Math.min(...perOp),
      maxNsPerOp: Math.max(...perOp),
      runs: s.runs,
      checksum: s.checksum,
    };
  });
}
