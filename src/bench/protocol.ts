/**
 * `npm run bench:protocol`: the shell that times the protocol cases, prints the table and rewrites
 * the `bench:protocol` section of docs/PERFORMANCE.md. Measuring and rendering are plain functions.
 * @module
 */
import { cpus, loadavg } from 'node:os';
import { describeEnvironment, publishReport } from './environment.ts';
import { isNativeAccelerationEnabled } from 'cbor-x';
import { MEASURE_DEFAULTS, measureCases } from './measure.ts';

import { PROTOCOL_RATIOS, protocolCases, protocolNotes } from './protocol-cases.ts';

const COMMAND = 'npm run bench:protocol';
const SECTION = 'protocol';
// dist/bench/protocol.js → docs/PERFORMANCE.md at the package root, whatever the working directory.

function seconds(ns: bigint): string {
  return (Number(ns) / 1e9).toString();
}

async function run(): Promise<void> {
  const options = { ...MEASURE_DEFAULTS, clock: () => process.hrtime.bigint() };
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const cores = cpus().length;
  if (loadAtStart > cores / 2) {
    process.stderr.write(`bench:protocol: warning: load average ${loadAtStart.toFixed(2)} on ${cores} cores; figures will be skewed\n`);
  }
  const cases = protocolCases();
  const perCaseSeconds = (Number(options.warmupNs) + options.rounds * Number(options.runNs)) / 1e9;
  process.stderr.write(`bench:protocol: ${cases.length} cases, about ${Math.ceil(cases.length * perCaseSeconds)} s…\n`);
  const measurements = measureCases(cases, options);
  const report = {
    name: SECTION,
    title: 'Protocol: wire codecs and signatures (`src/bench/protocol.ts`)',
    environment: describeEnvironment(COMMAND, loadAtStart),
    method:
      `${seconds(options.warmupNs)} s warm-up per case, then ${options.rounds} interleaved rounds of ` +
      `${seconds(options.runNs)} s each; median round shown. JavaScript on one thread, but V8's ` +
      `garbage collector also works on helper threads, so a busy second core slows the ` +
      `allocation-heavy rows. cbor-x native string extraction ${isNativeAccelerationEnabled ? 'on' : 'off'}.`,
    measurements,
    ratios: PROTOCOL_RATIOS,
    notes: protocolNotes(measurements),
  };

  await publishReport(report);
}

try {
  await run();
} catch (err) {
  process.stderr.write(`bench:protocol: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
