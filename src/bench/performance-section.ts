/**
 * Renders benchmark results as Markdown and splices them into docs/PERFORMANCE.md between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`. Strings in, strings out.
 * @module
 */
import type { Measurement } from './measure.ts';

/** Where and how the figures were produced; every section names all of it. */
export interface BenchEnvironment {
  /** ISO 8601 time of the run. */
  readonly date: string;
  /** `os.cpus()[0].model`. */
  readonly cpuModel: string;
  readonly cores: number;
  readonly totalMemoryBytes: number;
  /** `os.type()`, `os.release()` and `process.arch`, e.g. `Linux 6.8.0 x64`. */
  readonly system: string;
  /** `process.version`. */
  readonly nodeVersion: string;
  /** The command that produced the figures, e.g. `npm run bench:protocol`. */
  readonly command: string;
  /** `os.loadavg()[0]` before and after the run: other work on the machine skews the figures. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

/** A ratio of two cases measured in the same run: time per op of `numerator` ÷ of `denominator`. */
export interface RatioSpec {
  readonly label: string;
  readonly numerator: string;
  readonly denominator: string;
}

/** Everything one section shows. */
export interface BenchReport {
  /** Section name: the markers are `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`. */
  readonly name: string;
  readonly title: string;
  readonly environment: BenchEnvironment;
  /** How the numbers were taken (durations, rounds), one sentence. */
  readonly method: string;
  readonly measurements: readonly Measurement[];
  readonly ratios: readonly RatioSpec[];
  /** Further derived lines (expectations, ceilings), rendered as a list. */
  readonly notes: readonly string[];
}

/** The header written when docs/PERFORMANCE.md does not exist yet. */
export const PERFORMANCE_HEADER = `# Performance

How fast the hot paths of Tattler are, measured by benchmarks in \`src/bench/\`. They are not tests:
they assert nothing about speed, and \`npm test\` does not run them.

## Method

- Each case is a plain function timed for a fixed time with \`process.hrtime.bigint()\`: about 1 s
  of warm-up (the JIT tiers up), then 3 measured rounds of about 2 s that interleave all cases, so a
  drift of the machine hits every case alike. The table gives the median round as ops/s and ns/op,
  with the fastest and slowest round beside it.
- Calls run in batches of about 1 ms between two clock reads; allocation and garbage collection are
  part of the cost, as they are in the programs.
- Absolute figures hold for one machine only. Compare cases **within one section** (one run), as the
  ratios do; compare runs only on the same machine, Node version and command.
- Every figure below names the machine, the Node version and the command that produced it. Each
  section is rewritten by its command; text outside the \`<!-- bench:… -->\` markers is kept.
`;

/** The start and end markers of section `name`. */
export function sectionMarkers(name: string): { start: string; end: string } {
  return { start: `<!-- bench:${name}:start -->`, end: `<!-- bench:${name}:end -->` };
}

function groupDigits(integer: string): string {
  return integer.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A rate or duration with thousands separators; one decimal below 100, three below 1. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value < 1) return value.toFixed(3);
  if (value < 100) return value.toFixed(1);
  return groupDigits(Math.round(value).toString());
}

function formatBytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], rightFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number): string =>
    i >= rightFrom ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= rightFrom ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * The results as a Markdown table (also printed to the terminal).
 * @example renderTable(measurements).split('\n')[0] // '| case | ops/s | ns/op | …'
 */
export function renderTable(measurements: readonly Measurement[]): string {
  const rows = measurements.map((m) => [
    m.name,
    formatNumber(m.opsPerSecond),
    formatNumber(m.nsPerOp),
    `${formatNumber(m.minNsPerOp)} – ${formatNumber(m.maxNsPerOp)}`,
  ]);
  return table(['case', 'ops/s', 'ns/op (median)', 'ns/op (rounds min – max)'], rows, 1);
}

/** Time per op of `numerator` ÷ that of `denominator`; throws `RangeError` on an unknown id. */
export function computeRatio(measurements: readonly Measurement[], spec: RatioSpec): number {
  const find = (id: string): Measurement => {
    const m = measurements.find((x) => x.id === id);
    if (m === undefined) throw new RangeError(`ratio "${spec.label}": no case with id "${id}"`);
    return m;
  };
  return find(spec.numerator).nsPerOp / find(spec.denominator).nsPerOp;
}

/** The ratios as a Markdown table. */
export function renderRatios(measurements: readonly Measurement[], ratios: readonly RatioSpec[]): string {
  const rows = ratios.map((r) => {
    const value = computeRatio(measurements, r);
    return [r.label, `${value < 10 ? value.toFixed(2) : value.toFixed(1)}×`];
  });
  return table(['time per op, A ÷ B (same run)', 'ratio'], rows, 1);
}

/** Rounds of one case further apart than this, relative to the median, make it "unstable". */
export const UNSTABLE_SPREAD = 0.2;

/**
 * A warning naming the cases whose slowest and fastest rounds differ by more than
 * {@link UNSTABLE_SPREAD} of the median, or `undefined` when every case was steady.
 */
export function spreadWarning(measurements: readonly Measurement[]): string | undefined {
  const unstable = measurements.filter((m) => (m.maxNsPerOp - m.minNsPerOp) / m.nsPerOp > UNSTABLE_SPREAD);
  if (unstable.length === 0) return undefined;
  const names = unstable.map((m) => `${m.name} (${formatNumber(m.minNsPerOp)} – ${formatNumber(m.maxNsPerOp)} ns)`);
  return `Unstable in this run, rounds more than ${UNSTABLE_SPREAD * 100}% apart: ${names.join('; ')}.`;
}

function notesOf(report: BenchReport): string[] {
  const warning = spreadWarning(report.measurements);
  return warning === undefined ? [...report.notes] : [...report.notes, warning];
}

/** The whole section, markers included. */
export function renderSection(report: BenchReport): string {
  const { start, end } = sectionMarkers(report.name);
  const env = report.environment;
  return [
    start,
    `## ${report.title}`,
    '',
    `- Date: ${env.date}`,
    `- Machine: ${env.cpuModel}, ${env.cores} cores, ${formatBytes(env.totalMemoryBytes)} RAM, ${env.system}`,
    `- Node: ${env.nodeVersion}`,
    `- Command: \`${env.command}\``,
    `- Load average (1 min) at start / end: ${env.loadAverage.start.toFixed(2)} / ${env.loadAverage.end.toFixed(2)}`,
    `- Method: ${report.method}`,
    '',
    renderTable(report.measurements),
    '',
    'Ratios, from the figures above:',
    '',
    renderRatios(report.measurements, report.ratios),
    ...notesOf(report).flatMap((n, i) => (i === 0 ? ['', `- ${n}`] : [`- ${n}`])),
    end,
  ].join('\n');
}

/**
 * `document` with section `name` replaced by `section` (which includes its markers); the section
 * is appended if absent, and a missing document starts from {@link PERFORMANCE_HEADER}. Throws
 * `RangeError` when the markers are unbalanced, rather than guess what to overwrite.
 * @example replaceSection(undefined, 'protocol', renderSection(report))
 */
export function replaceSection(document: string | undefined, name: string, section: string): string {
  const { start, end } = sectionMarkers(name);
  const text = document ?? PERFORMANCE_HEADER;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 && to === -1) {
    return `${text.trimEnd()}\n\n${section}\n`;
  }
  if (from === -1 || to === -1 || to < from || text.indexOf(start, from + 1) !== -1 || text.indexOf(end, to + 1) !== -1) {
    throw new RangeError(`PERFORMANCE.md: markers of section "${name}" are missing, repeated or out of order`);
  }
  return text.slice(0, from) + section + text.slice(to + end.length);
}
