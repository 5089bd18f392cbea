/**
 * Renders the results of `npm run bench:collector` into the shared report shape: the maximum rates
 * as table rows, the ratios between servers, the goals met or missed, and a latency and memory
 * table. Pure: results in, strings and records out.
 * @module
 */
import type { Measurement } from './measure.ts';
import { MIX_LABELS, type Mix } from './collector-mixes.ts';
import { formatNumber, type RatioSpec } from './performance-section.ts';

/** The servers measured side by side. */
export type ServerKind = 'echo' | 'coap' | 'collector';

/** Latency of one fixed-rate run, from the scheduled send time, in µs. */
export interface LatencyRun {
  readonly rate: number;
  readonly lossFraction: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** Everything measured for one server, mix and worker count. */
export interface ComboResult {
  readonly server: ServerKind;
  readonly workers: number;
  readonly mix: Mix;
  readonly maxRate: number;
  /** The lowest rate that lost too much, when one did. */
  readonly failedRate: number | undefined;
  /** The generator's CPU time ÷ wall time at the highest passing step. */
  readonly generatorCpuShare: number;
  readonly atHalf: LatencyRun | undefined;
  readonly atEighty: LatencyRun | undefined;
  /** Server RSS (summed over its processes) at the start and end of the 80 % run, bytes. */
  readonly rssStartBytes: number | undefined;
  readonly rssEndBytes: number | undefined;
  /** Length of the 80 % run, seconds (the drift window). */
  readonly eightySeconds: number;
  /** Server CPU time (user + system, all its processes) per answer during the 80 % run, µs. */
  readonly serverCpuUsPerAnswer: number | undefined;
}

/** The goals of the issue, checked against one run's figures. */
export const GOALS = Object.freeze({
  /** PASS-heavy and private rates, as a fraction of the echo baseline's. */
  ofEcho: 0.7,
  /** …and as a multiple of the coap-package baseline's. */
  timesCoap: 3,
  /** All-FAIL rate as a fraction of the raw Ed25519 signing rate on one core. */
  ofSigning: 0.6,
  /** Two workers' PASS rate as a multiple of one worker's. */
  twoWorkers: 1.5,
  p99AtHalfUs: 1_000,
  p99AtEightyUs: 5_000,
  rssDriftBytes: 20 * 2 ** 20,
});

/** The stable id of a combination, used in ratios. */
export function comboId(server: ServerKind, workers: number, mix: Mix): string {
  return `${server}-w${workers}-${mix}`;
}

/** The measurement id of the raw signing rate. */
export const SIGN_ID = 'ed25519-sign';

function serverLabel(server: ServerKind, workers: number): string {
  switch (server) {
    case 'echo':
      return 'node:dgram echo';
    case 'coap':
      return 'coap package + our core';
    case 'collector':
      return `collector, ${workers} worker${workers === 1 ? '' : 's'}`;
  }
}

function mixLabel(result: ComboResult): string {
  return result.server === 'echo' ? 'any (echoed)' : MIX_LABELS[result.mix];
}

/** Each combination's maximum rate as a table row (ops/s = requests per second answered). */
export function rateMeasurements(results: readonly ComboResult[]): Measurement[] {
  return results.map((r) => {
    const nsPerOp = r.maxRate > 0 ? 1e9 / r.maxRate : Number.POSITIVE_INFINITY;
    return {
      id: comboId(r.server, r.workers, r.mix),
      name: `${serverLabel(r.server, r.workers)} · ${mixLabel(r)}: max rate at < 0.1 % loss`,
      opsPerSecond: r.maxRate,
      nsPerOp,
      minNsPerOp: nsPerOp,
      maxNsPerOp: nsPerOp,
      runs: [],
      checksum: 0,
    };
  });
}

function find(
  results: readonly ComboResult[],
  server: ServerKind,
  workers: number,
  mix: Mix,
): ComboResult | undefined {
  return results.find((r) => r.server === server && r.workers === workers && r.mix === mix);
}

/**
 * The ratios of the issue, as time per request of A ÷ B: `echo ÷ collector` is the collector's
 * rate as a share of echo's. Only ratios whose both sides were measured are listed.
 */
export function collectorRatios(
  results: readonly ComboResult[],
  signMeasured: boolean,
): RatioSpec[] {
  const has = (id: string): boolean =>
    id === SIGN_ID ? signMeasured : results.some((r) => comboId(r.server, r.workers, r.mix) === id);
  const echo = comboId('echo', 1, 'pass');
  const specs: RatioSpec[] = [
    {
      label: 'echo ÷ collector all PASS (1 worker): its share of echo',
      numerator: echo,
      denominator: comboId('collector', 1, 'pass'),
    },
    {
      label: 'echo ÷ collector 10 % FAIL (1 worker)',
      numerator: echo,
      denominator: comboId('collector', 1, 'fail10'),
    },
    {
      label: 'echo ÷ collector all private (1 worker)',
      numerator: echo,
      denominator: comboId('collector', 1, 'private'),
    },
    {
      label: 'coap package ÷ collector, all PASS (1 worker): times faster',
      numerator: comboId('coap', 1, 'pass'),
      denominator: comboId('collector', 1, 'pass'),
    },
    {
      label: 'coap package ÷ collector, all private (1 worker)',
      numerator: comboId('coap', 1, 'private'),
      denominator: comboId('collector', 1, 'private'),
    },
    {
      label: 'Ed25519 sign ÷ collector all FAIL (1 worker): its share of raw signing',
      numerator: SIGN_ID,
      denominator: comboId('collector', 1, 'fail'),
    },
    {
      label: 'collector 1 worker ÷ 2 workers, all PASS',
      numerator: comboId('collector', 1, 'pass'),
      denominator: comboId('collector', 2, 'pass'),
    },
    {
      label: 'collector 1 worker ÷ 2 workers, all FAIL',
      numerator: comboId('collector', 1, 'fail'),
      denominator: comboId('collector', 2, 'fail'),
    },
  ];
  return specs.filter((s) => has(s.numerator) && has(s.denominator));
}

function percent(value: number): string {
  return `${Math.round(value * 100)} %`;
}

function verdict(met: boolean): string {
  return met ? 'met' : 'missed';
}

function milliseconds(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 2 : 1);
}

function megabytes(bytes: number | undefined): string {
  return bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(1);
}

/** One line per goal of the issue: the figure, the goal, met or missed. */
export function goalNotes(
  results: readonly ComboResult[],
  signingRate: number | undefined,
): string[] {
  const notes: string[] = [];
  const echo = find(results, 'echo', 1, 'pass');
  for (const mix of ['pass', 'fail10', 'private'] as const) {
    const ours = find(results, 'collector', 1, mix);
    if (ours === undefined) continue;
    if (echo !== undefined && echo.maxRate > 0) {
      const share = ours.maxRate / echo.maxRate;
      notes.push(
        `Collector (1 worker), ${MIX_LABELS[mix]}: ${percent(share)} of echo's rate (goal ≥ ${percent(GOALS.ofEcho)}): ${verdict(share >= GOALS.ofEcho)}.`,
      );
    }
    const coap = find(results, 'coap', 1, mix);
    if (coap !== undefined && coap.maxRate > 0) {
      const times = ours.maxRate / coap.maxRate;
      notes.push(
        `Collector (1 worker), ${MIX_LABELS[mix]}: ${times.toFixed(1)}× the coap package's rate (goal ≥ ${GOALS.timesCoap}×): ${verdict(times >= GOALS.timesCoap)}.`,
      );
    }
  }
  const fail = find(results, 'collector', 1, 'fail');
  if (fail !== undefined && signingRate !== undefined) {
    const share = fail.maxRate / signingRate;
    notes.push(
      `Collector (1 worker), all FAIL: ${formatNumber(fail.maxRate)}/s = ${percent(share)} of raw Ed25519 signing on one core ` +
        `(${formatNumber(signingRate)}/s; goal ≥ ${percent(GOALS.ofSigning)}): ${verdict(share >= GOALS.ofSigning)}.`,
    );
  }
  for (const mix of ['pass', 'fail'] as const) {
    const one = find(results, 'collector', 1, mix);
    const two = find(results, 'collector', 2, mix);
    if (one === undefined || two === undefined || one.maxRate === 0) continue;
    const times = two.maxRate / one.maxRate;
    notes.push(
      `Collector, ${MIX_LABELS[mix]}: 2 workers reach ${times.toFixed(2)}× one worker's rate (goal ≥ ${GOALS.twoWorkers}×): ${verdict(times >= GOALS.twoWorkers)}.`,
    );
  }
  const ours = results.filter((r) => r.server === 'collector');
  const latencyMisses = ours.filter(
    (r) =>
      (r.atHalf !== undefined && r.atHalf.p99Us > GOALS.p99AtHalfUs) ||
      (r.atEighty !== undefined && r.atEighty.p99Us > GOALS.p99AtEightyUs),
  );
  if (ours.length > 0) {
    notes.push(
      `Collector p99 ≤ ${milliseconds(GOALS.p99AtHalfUs)} ms at 50 % and ≤ ${milliseconds(GOALS.p99AtEightyUs)} ms at 80 % of its max rate: ` +
        (latencyMisses.length === 0
          ? 'met in every row.'
          : `missed in ${latencyMisses.map((r) => `${r.workers} worker(s) · ${MIX_LABELS[r.mix]}`).join('; ')}.`),
    );
  }
  const drifts = ours.filter((r) => r.rssStartBytes !== undefined && r.rssEndBytes !== undefined);
  const longest = Math.max(0, ...drifts.map((r) => r.eightySeconds));
  const window = drifts.filter((r) => r.eightySeconds === longest);
  if (window.length > 0) {
    const worst = Math.max(...window.map((r) => (r.rssEndBytes ?? 0) - (r.rssStartBytes ?? 0)));
    notes.push(
      `Collector RSS drift over ${longest} s at 80 %: at most ${megabytes(worst)} MB (goal < ${megabytes(GOALS.rssDriftBytes)} MB): ${verdict(worst < GOALS.rssDriftBytes)}.`,
    );
  }
  return notes;
}

/** The latency and memory table, one row per server, mix and worker count. */
export function renderDetailTable(results: readonly ComboResult[]): string {
  const header = [
    'server',
    'mix',
    'max req/s',
    'p50 / p99 ms at 50 %',
    'p50 / p99 ms at 80 %',
    'server CPU µs/answer',
    'generator CPU at max',
    'RSS MB start → end (s)',
  ];
  const latency = (run: LatencyRun | undefined): string =>
    run === undefined
      ? '–'
      : `${milliseconds(run.p50Us)} / ${milliseconds(run.p99Us)}${run.lossFraction >= 0.001 ? ` (loss ${(run.lossFraction * 100).toFixed(2)} %)` : ''}`;
  const rows = results.map((r) => [
    serverLabel(r.server, r.workers),
    mixLabel(r),
    `${formatNumber(r.maxRate)}${r.failedRate === undefined ? '' : ` (< ${formatNumber(r.failedRate)})`}`,
    latency(r.atHalf),
    latency(r.atEighty),
    r.serverCpuUsPerAnswer === undefined ? '–' : formatNumber(r.serverCpuUsPerAnswer),
    percent(r.generatorCpuShare),
    `${megabytes(r.rssStartBytes)} → ${megabytes(r.rssEndBytes)} (${r.eightySeconds})`,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
