/**
 * The in-memory lookup index the collector matches against: rows grouped by canonical (vendor,
 * model) for O(1) exact lookups, and {@link MemoryFeedReader}, a FeedReader over advisories held in
 * memory (tests, benchmarks, small deployments).
 * @module
 */
import type { Advisory, FeedReader, ProductMatchRow, Provenance } from './types.ts';
import { canonicalVendor as canonicalVendorName, vendorAliasesOf } from './vendor-aliases.ts';

const NO_ROWS: readonly ProductMatchRow[] = Object.freeze([]);

/**
 * Rows keyed by already-normalised (vendor, model): two nested Maps, so a lookup is two hash
 * probes and allocates nothing (no concatenated key string). Built once, then read-only.
 */
export class MemoryIndex {
  readonly #byVendor = new Map<string, Map<string, ProductMatchRow[]>>();
  #rows = 0;

  /**
   * Indexes `rows` under each row's own product vendor and model, mapped through `vendorOf` (for
   * example a FeedReader's canonicalVendor) when given.
   * @example MemoryIndex.fromRows(store.rows()).lookup('dlink', 'dir859')
   */
  static fromRows(rows: Iterable<ProductMatchRow>, options: { vendorOf?: (vendor: string) => string } = {}): MemoryIndex {
    const index = new MemoryIndex();
    const vendorOf = options.vendorOf;
    for (const row of rows) {
      const vendor = vendorOf === undefined ? row.product.vendor : vendorOf(row.product.vendor);
      let models = index.#byVendor.get(vendor);
      if (models === undefined) {
        models = new Map();
        index.#byVendor.set(vendor, models);
      }
      const list = models.get(row.product.model);
      if (list === undefined) models.set(row.product.model, [row]);
      else list.push(row);
      index.#rows++;
    }
    return index;
  }

  /** The rows of exactly this canonical vendor and model (shared, do not modify); empty if none. */
  lookup(vendor: string, model: string): readonly ProductMatchRow[] {
    return this.#byVendor.get(vendor)?.get(model) ?? NO_ROWS;
  }

  /** True when the index holds any row for this vendor and model. */
  has(vendor: string, model: string): boolean {
    return this.#byVendor.get(vendor)?.has(model) ?? false;
  }

  /** How many (vendor, model) keys and rows the index holds. */
  get size(): { readonly keys: number; readonly rows: number } {
    let keys = 0;
    for (const models of this.#byVendor.values()) keys += models.size;
    return { keys, rows: this.#rows };
  }
}

/** Options of a {@link MemoryFeedReader}. */
export interface MemoryFeedReaderOptions {
  /** CVE ids in CISA KEV; a row is `kev` when its advisory id or an alias is here. */
  readonly kev?: Iterable<string>;
  /** Extra vendor aliases, canonical alias → canonical vendor (see vendorAliasMap). */
  readonly aliases?: ReadonlyMap<string, string>;
  /** Import time put into every row's provenance; default 0. */
  readonly importedAtMs?: number;
}

/**
 * A FeedReader over advisories in memory: one row per affected product, KEV flags from a set of
 * CVE ids, vendors canonicalised through the built-in alias table plus `options.aliases`.
 * @example matchDevice(new MemoryFeedReader([advisory], { kev: ['CVE-2019-17621'] }), device)
 */
export class MemoryFeedReader implements FeedReader {
  readonly #rows: readonly ProductMatchRow[];
  readonly #aliases: ReadonlyMap<string, string> | undefined;
  readonly #index: MemoryIndex;

  constructor(advisories: readonly Advisory[], options: MemoryFeedReaderOptions = {}) {
    const kev = new Set(options.kev ?? []);
    this.#aliases = options.aliases;
    const rows: ProductMatchRow[] = [];
    for (const advisory of advisories) {
      const provenance: Provenance = { source: advisory.source, recordId: advisory.id, importedAtMs: options.importedAtMs ?? 0, catalogVersion: null };
      const isKev = kev.has(advisory.id) || advisory.aliases.some((a) => kev.has(a));
      for (const product of advisory.products) rows.push({ advisory, product, kev: isKev, provenance });
    }
    this.#rows = rows;
    this.#index = MemoryIndex.fromRows(rows, { vendorOf: (v) => this.canonicalVendor(v) });
  }

  /** {@inheritDoc FeedReader.lookup} */
  lookup(vendor: string, model: string): ProductMatchRow[] {
    return [...this.#index.lookup(vendor, model)];
  }

  /** {@inheritDoc FeedReader.rows} */
  rows(): IterableIterator<ProductMatchRow> {
    return this.#rows.values();
  }

  /** {@inheritDoc FeedReader.canonicalVendor} */
  canonicalVendor(vendor: string): string {
    return canonicalVendorName(vendor, this.#aliases);
  }

  /** {@inheritDoc FeedReader.vendorAliases} */
  vendorAliases(vendor: string): string[] {
    return vendorAliasesOf(vendor, this.#aliases);
  }
}
