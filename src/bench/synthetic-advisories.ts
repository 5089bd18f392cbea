/**
 * Synthetic advisories for the publisher's benchmark: device CVEs of the synthetic NVD-scale set
 * (synthetic-nvd-records.ts) parsed by the real NVD importer, in memory, until enough distinct
 * (vendor, model) pairs are affected. Pure: the same seed and size always give the same rows.
 * @module
 */
import { parseNvdCve } from '../feed/parse-nvd.ts';
import { FeedError, type Advisory } from '../feed/types.ts';
import { syntheticCve } from './synthetic-nvd-records.ts';

/** Options of {@link syntheticAdvisories}. */
export interface SyntheticAdvisoryOptions {
  readonly seed: number;
  /** Stop once this many distinct (vendor, model) pairs are affected. */
  readonly models: number;
  /** Stop after this many CVE indexes whatever the model count (the generator's model space is finite). */
  readonly maxRecords: number;
}

/** What {@link syntheticAdvisories} produced. */
export interface SyntheticAdvisories {
  readonly advisories: Advisory[];
  /** Distinct (vendor, model) pairs affected. */
  readonly models: number;
  /** CVE indexes generated (device and application-only). */
  readonly records: number;
}

/**
 * Device advisories of the synthetic set, in index order, until `models` distinct models are
 * affected; application-only records are skipped, as the importer skips them.
 * @example syntheticAdvisories({ seed: 1, models: 1000, maxRecords: 100_000 }).advisories.length
 */
export function syntheticAdvisories(options: SyntheticAdvisoryOptions): SyntheticAdvisories {
  const advisories: Advisory[] = [];
  const seen = new Set<string>();
  let index = 0;
  for (; index < options.maxRecords && seen.size < options.models; index++) {
    let advisory: Advisory;
    try {
      advisory = parseNvdCve(syntheticCve(options.seed, index), { file: 'synthetic', record: String(index) });
    } catch (err) {
      if (err instanceof FeedError && err.code === 'NOT_A_DEVICE') continue;
      throw err;
    }
    advisories.push(advisory);
    for (const p of advisory.products) seen.add(`${p.vendor}\0${p.model}`);
  }
  return { advisories, models: seen.size, records: index };
}
