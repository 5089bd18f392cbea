/**
 * A tiny in-memory {@link FeedReader} for the publisher's tests (tests only): rows in, lookups by
 * exact canonical vendor and model, and a vendor alias map (also listed by vendorAliases).
 * @module
 */
import type { Advisory, AffectedProduct, FeedReader, ProductMatchRow } from '../feed/types.ts';
import { vendorAliasesOf } from '../feed/vendor-aliases.ts';

/** A FeedReader over a fixed list of rows. */
export class ListFeedReader implements FeedReader {
  readonly #rows: readonly ProductMatchRow[];
  readonly #aliases: ReadonlyMap<string, string>;
  constructor(rows: readonly ProductMatchRow[], aliases: ReadonlyMap<string, string> = new Map()) {
    this.#rows = rows;
    this.#aliases = aliases;
  }
  lookup(vendor: string, model: string): ProductMatchRow[] {
    return this.#rows.filter((r) => this.canonicalVendor(r.product.vendor) === vendor && r.product.model === model);
  }
  rows(): IterableIterator<ProductMatchRow> {
    return this.#rows.values();
  }
  canonicalVendor(vendor: string): string {
    return this.#aliases.get(vendor) ?? vendor;
  }
  /** The map's aliases of `vendor` and its names in the maintained table. */
  vendorAliases(vendor: string): string[] {
    return vendorAliasesOf(vendor, this.#aliases);
  }
}

/** One row for tests: an advisory affecting one product, with defaults for everything else. */
export function testRow(
  product: Partial<AffectedProduct> & { vendor: string; model: string },
  advisory: Partial<Omit<Advisory, 'products'>> & { id: string },
  options: { kev?: boolean } = {},
): ProductMatchRow {
  const p: AffectedProduct = {
    hwVersion: null,
    intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '2.0', upperInclusive: false }],
    fixed: ['2.0'],
    confidence: 'high',
    reason: 'test',
    ...product,
  };
  const a: Advisory = { source: 'nvd', aliases: [], cvss: 9.8, published: null, remediationUrls: [], ...advisory, products: [p] };
  return { advisory: a, product: p, kev: options.kev ?? false, provenance: { source: a.source, recordId: a.id, importedAtMs: 0, catalogVersion: null } };
}
