/**
 * The shell shared by every benchmark: the machine it ran on, and writing its section of
 * docs/PERFORMANCE.md.
 * @module
 */
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { renderRatios, renderSection, renderTable, replaceSection, type BenchEnvironment, type BenchReport } from './performance-section.ts';

/** Date, CPU, cores, memory, OS, Node version, the command, and the load average at start and now. */
export function describeEnvironment(command: string, loadAtStart: number): BenchEnvironment {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown CPU',
    cores: cpu.length,
    totalMemoryBytes: totalmem(),
    system: `${type()} ${release()} ${process.arch}`,
    nodeVersion: process.version,
    command,
    loadAverage: { start: loadAtStart, end: loadavg()[0] ?? Number.NaN },
  };
}

const PERFORMANCE_FILE = new URL('../../docs/PERFORMANCE.md', import.meta.url);

/**
 * Prints a report's table, ratios and notes, and rewrites its own marked section of
 * docs/PERFORMANCE.md (text outside the markers is kept).
 */
export async function publishReport(report: BenchReport): Promise<void> {
  process.stdout.write(`${renderTable(report.measurements)}\n\n${renderRatios(report.measurements, report.ratios)}\n\n`);
  for (const note of report.notes) process.stdout.write(`- ${note}\n`);
  let before: string | undefined;
  try {
    before = await readFile(PERFORMANCE_FILE, 'utf8');
  } catch (err) {
    // A missing file is created with its header; any other read error must not be papered over.
    if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
  }
  await writeFile(PERFORMANCE_FILE, replaceSection(before, report.name, renderSection(report)));
  process.stdout.write(`\nwrote ${PERFORMANCE_FILE.pathname}\n`);
}
