/**
 * `node dist/bench/synthetic-nvd.js --out DIR --records N [--seed S]`: writes a synthetic
 * NVD-scale dataset as NVD API 2.0 page files of 2,000 records (the shell of
 * synthetic-nvd-records.ts). Also used in-process by bench/feed.ts.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NVD_PAGE_SIZE, syntheticPage } from './synthetic-nvd-records.ts';

/** Defaults: the "NVD scale" (≥ 250,000 records) and a fixed seed. */
export const SYNTHETIC_DEFAULTS = Object.freeze({ records: 250_000, seed: 20_240_601 });

/** Writes `records` CVE records into `out` as page files; returns the page file paths. */
export async function writeSyntheticNvd(options: { out: string; records: number; seed: number }): Promise<string[]> {
  if (!Number.isSafeInteger(options.records) || options.records < 1) throw new RangeError(`records: expected a positive integer, got ${options.records}`);
  await mkdir(options.out, { recursive: true });
  const files: string[] = [];
  for (let start = 0; start < options.records; start += NVD_PAGE_SIZE) {
    const file = join(options.out, `nvdcve-2.0-page-${String(start / NVD_PAGE_SIZE).padStart(4, '0')}.json`);
    await writeFile(file, syntheticPage(options.seed, { startIndex: start, total: options.records }));
    files.push(file);
  }
  return files;
}

function parseArgs(argv: readonly string[]): { out: string; records: number; seed: number } {
  let out: string | undefined;
  let records: number = SYNTHETIC_DEFAULTS.records;
  let seed: number = SYNTHETIC_DEFAULTS.seed;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag ?? ''}: missing value`);
    if (flag === '--out') out = value;
    else if (flag === '--records') records = Number(value);
    else if (flag === '--seed') seed = Number(value);
    else throw new Error(`unknown option ${flag ?? ''}; usage: synthetic-nvd --out DIR [--records N] [--seed S]`);
  }
  if (out === undefined) throw new Error('--out DIR is required; usage: synthetic-nvd --out DIR [--records N] [--seed S]');
  return { out, records, seed };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const options = parseArgs(process.argv.slice(2));
    const files = await writeSyntheticNvd(options);
    process.stdout.write(`wrote ${options.records} records in ${files.length} page files to ${options.out}\n`);
  } catch (err) {
    process.stderr.write(`synthetic-nvd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
