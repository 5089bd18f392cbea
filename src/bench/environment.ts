/**
 * The machine a benchmark ran on, recorded with every section of docs/PERFORMANCE.md.
 * @module
 */
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import type { BenchEnvironment } from './performance-section.ts';

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
