/**
 * Tests of the PERFORMANCE.md section renderer and splicer: pure strings in and out.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Measurement } from './measure.ts';
import {
  computeRatio,
  formatNumber,
  PERFORMANCE_HEADER,
  renderSection,
  renderTable,
  replaceSection,
  sectionMarkers,
  spreadWarning,
  type BenchReport,
} from './performance-section.ts';

function measurement(id: string, nsPerOp: number): Measurement {
  return {
    id,
    name: `case ${id}`,
    opsPerSecond: 1e9 / nsPerOp,
    nsPerOp,
    minNsPerOp: nsPerOp,
    maxNsPerOp: nsPerOp,
    runs: [{ ops: 1, elapsedNs: nsPerOp }],
    checksum: 0,
  };
}

const REPORT: BenchReport = {
  name: 'demo',
  title: 'Demo',
  environment: {
    date: '2026-01-01T00:00:00.000Z',
    cpuModel: 'Test CPU',
    cores: 2,
    totalMemoryBytes: 2 ** 32,
    system: 'Linux 6.0 x64',
    nodeVersion: 'v20.0.0',
    command: 'npm run bench:demo',
    loadAverage: { start: 0.25, end: 1 },
  },
  method: 'fake.',
  measurements: [measurement('a', 2000), measurement('b', 500)],
  ratios: [{ label: 'a ÷ b', numerator: 'a', denominator: 'b' }],
  notes: ['a note'],
};

test('formatNumber() groups thousands and keeps decimals for small values', () => {
  assert.equal(formatNumber(1234567.4), '1,234,567');
  assert.equal(formatNumber(42.25), '42.3');
  assert.equal(formatNumber(0.5), '0.500');
});

test('renderTable() right-aligns the figures under a Markdown rule', () => {
  const lines = renderTable(REPORT.measurements).split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[1] ?? '', /^\|-+\|-+:\|-+:\|-+:\|$/);
  assert.match(lines[2] ?? '', /\| case a +\| +500,000 \| +2,000 \|/);
});

test('computeRatio() divides time per op and refuses unknown ids', () => {
  assert.equal(computeRatio(REPORT.measurements, { label: 'x', numerator: 'a', denominator: 'b' }), 4);
  assert.throws(() => computeRatio(REPORT.measurements, { label: 'x', numerator: 'a', denominator: 'z' }), RangeError);
});

test('renderSection() names date, machine, Node version and command between the markers', () => {
  const section = renderSection(REPORT);
  const { start, end } = sectionMarkers('demo');
  assert.ok(section.startsWith(`${start}\n`));
  assert.ok(section.endsWith(end));
  for (const text of ['2026-01-01T00:00:00.000Z', 'Test CPU, 2 cores, 4.0 GiB RAM', 'v20.0.0', '`npm run bench:demo`', '0.25 / 1.00', '4.00×', '- a note']) {
    assert.ok(section.includes(text), text);
  }
});

test('replaceSection() starts a missing file from the header', () => {
  const out = replaceSection(undefined, 'demo', renderSection(REPORT));
  assert.ok(out.startsWith(PERFORMANCE_HEADER.trimEnd()));
  assert.ok(out.endsWith(`${sectionMarkers('demo').end}\n`));
});

test('replaceSection() replaces only its own section and keeps the text around it', () => {
  const { start, end } = sectionMarkers('demo');
  const other = sectionMarkers('other');
  const before = `# P\n\nintro\n\n${other.start}\nkeep\n${other.end}\n\n${start}\nold\n${end}\n\noutro\n`;
  const out = replaceSection(before, 'demo', `${start}\nnew\n${end}`);
  assert.equal(out, `# P\n\nintro\n\n${other.start}\nkeep\n${other.end}\n\n${start}\nnew\n${end}\n\noutro\n`);
  assert.equal(replaceSection(out, 'demo', `${start}\nnew\n${end}`), out);
});

test('replaceSection() refuses unbalanced or repeated markers', () => {
  const { start, end } = sectionMarkers('demo');
  for (const doc of [`${start}\n`, `${end}\n`, `${end}\n${start}\n`, `${start}\n${end}\n${start}\n${end}\n`]) {
    assert.throws(() => replaceSection(doc, 'demo', `${start}\n${end}`), RangeError, doc);
  }
});

test('spreadWarning() names only the cases whose rounds differ by more than 20%', () => {
  const steady = measurement('a', 1000);
  const shaky = { ...measurement('b', 1000), minNsPerOp: 900, maxNsPerOp: 1300 };
  assert.equal(spreadWarning([steady]), undefined);
  const warning = spreadWarning([steady, shaky]) ?? '';
  assert.match(warning, /case b \(900 – 1,300 ns\)/);
  assert.doesNotMatch(warning, /case a/);
  assert.ok(renderSection({ ...REPORT, measurements: [steady, shaky] }).includes(`- ${warning}`));
});
