/**
 * One CSAF 2.0 document (OASIS CSAF 2.0 §3) → one Advisory per vulnerability: the product tree
 * (branches, relationships) resolved to vendor/model/firmware versions, VEX statuses honoured.
 * @module
 */
import type { Interval } from '../protocol/index.ts';
import {
  asArray,
  asObject,
  asString,
  isCveId,
  isJsonObject,
  optionalArray,
  optionalIsoDate,
  optionalString,
  toNameKey,
  toVendorKey,
  type JsonObject,
  type RecordLocation,
} from './record-fields.ts';
import { FeedError, type Advisory, type AffectedProduct } from './types.ts';
import { assertVersion, exactIntervals, parseVersionRange } from './version-intervals.ts';

/** Deepest `branches` nesting accepted (CSAF 2.0 §3.1.3 sets no limit; real trees are ≤ 6 deep). */
export const MAX_BRANCH_DEPTH = 32;
/** Most products (branch leaves + relationships) in one document (Mobotix ICSA-24-235-03 has ~1,400). */
export const MAX_CSAF_PRODUCTS = 50_000;

/** What a product id stands for, once the branches and relationships are resolved. */
interface ProductInfo {
  readonly vendor: string | null;
  /** Model names: the model_numbers if any, else the product_name (or family) branch name. */
  readonly models: readonly string[];
  readonly hwVersion: string | null;
  readonly version: { readonly kind: 'exact'; readonly version: string } | { readonly kind: 'range'; readonly text: string } | null;
}

interface BranchContext {
  readonly vendor: string | null;
  readonly family: string | null;
  readonly productName: string | null;
  readonly version: ProductInfo['version'];
}

function modelNumbersOf(product: JsonObject, where: RecordLocation, path: string): string[] {
  const helper = product.product_identification_helper;
  if (!isJsonObject(helper)) return [];
  return optionalArray(helper.model_numbers, where, `${path}.product_identification_helper.model_numbers`)
    .map((m, k) => asString(m, where, `${path}.product_identification_helper.model_numbers[${k}]`))
    // CSAF 2.0 §3.1.3.3.3: `*` is a wildcard; a device names one literal model, so a pattern cannot be matched exactly.
    .filter((m) => !/(?<!\\)\*/.test(m));
}

function collectBranches(
  branches: readonly unknown[],
  context: BranchContext,
  options: { readonly where: RecordLocation; readonly path: string; readonly depth: number; readonly out: Map<string, ProductInfo> },
): void {
  const { where, path, depth, out } = options;
  if (depth > MAX_BRANCH_DEPTH) throw new FeedError('TOO_LARGE', where, `${path}: branches nested deeper than ${MAX_BRANCH_DEPTH}`);
  branches.forEach((item, n) => {
    const p = `${path}[${n}]`;
    const branch = asObject(item, where, p);
    const category = asString(branch.category, where, `${p}.category`);
    const name = asString(branch.name, where, `${p}.name`);
    const next: BranchContext =
      category === 'vendor'
        ? { ...context, vendor: name }
        : category === 'product_family'
          ? { ...context, family: name }
          : category === 'product_name'
            ? { ...context, productName: name }
            : category === 'product_version'
              ? { ...context, version: { kind: 'exact', version: assertVersion(name, where, `${p}.name`) } }
              : category === 'product_version_range'
                ? { ...context, version: { kind: 'range', text: name } }
                : context;
    if (branch.product !== undefined) {
      const product = asObject(branch.product, where, `${p}.product`);
      const id = asString(product.product_id, where, `${p}.product.product_id`);
      const numbers = modelNumbersOf(product, where, `${p}.product`);
      const model = next.productName ?? next.family ?? asString(product.name, where, `${p}.product.name`);
      if (out.size >= MAX_CSAF_PRODUCTS) throw new FeedError('TOO_LARGE', where, `${p}: more than ${MAX_CSAF_PRODUCTS} products`);
      out.set(id, { vendor: next.vendor, models: numbers.length > 0 ? numbers : [model], hwVersion: null, version: next.version });
    }
    if (branch.branches !== undefined) {
      collectBranches(asArray(branch.branches, where, `${p}.branches`), next, { where, path: `${p}.branches`, depth: depth + 1, out });
    }
  });
}

// CSAF 2.0 §3.1.5.1: relationships where the first product runs on the second. The device model is
// the hardware's (relates_to_product_reference); the version is the firmware's (product_reference).
const RUNS_ON = new Set(['installed_on', 'default_component_of']);

function collectRelationships(relationships: readonly unknown[], where: RecordLocation, out: Map<string, ProductInfo>): void {
  relationships.forEach((item, n) => {
    const p = `$.product_tree.relationships[${n}]`;
    const relationship = asObject(item, where, p);
    const category = asString(relationship.category, where, `${p}.category`);
    if (!RUNS_ON.has(category)) return;
    const component = out.get(asString(relationship.product_reference, where, `${p}.product_reference`));
    const platform = out.get(asString(relationship.relates_to_product_reference, where, `${p}.relates_to_product_reference`));
    const full = asObject(relationship.full_product_name, where, `${p}.full_product_name`);
    const id = asString(full.product_id, where, `${p}.full_product_name.product_id`);
    if (component === undefined || platform === undefined) {
      throw new FeedError('BAD_RECORD', where, `${p}: references a product id not in the product tree`);
    }
    if (out.size >= MAX_CSAF_PRODUCTS) throw new FeedError('TOO_LARGE', where, `${p}: more than ${MAX_CSAF_PRODUCTS} products`);
    out.set(id, {
      vendor: platform.vendor ?? component.vendor,
      models: platform.models,
      // A hardware product_version (a board revision) is the hardware version.
      hwVersion: platform.version?.kind === 'exact' ? platform.version.version : null,
      version: component.version,
    });
  });
}

function idList(status: JsonObject, key: string, where: RecordLocation, path: string): string[] {
  return optionalArray(status[key], where, `${path}.${key}`).map((id, k) => asString(id, where, `${path}.${key}[${k}]`));
}

interface RowDraft {
  vendor: string;
  model: string;
  hwVersion: string | null;
  exact: string[];
  ranges: Interval[];
  fixed: string[];
  productIds: string[];
  unknownVersions: boolean;
}

function rowKey(vendor: string, model: string, hwVersion: string | null): string {
  return `${vendor}\0${model}\0${hwVersion ?? ''}`;
}

function highestScore(scores: readonly unknown[], where: RecordLocation, path: string): number | null {
  let best: number | null = null;
  scores.forEach((item, n) => {
    const score = asObject(item, where, `${path}[${n}]`);
    const v3 = score.cvss_v3;
    if (!isJsonObject(v3)) return;
    const base = v3.baseScore;
    if (typeof base !== 'number' || !(base >= 0 && base <= 10)) {
      throw new FeedError('BAD_RECORD', where, `${path}[${n}].cvss_v3.baseScore: expected a number 0..10`);
    }
    best = best === null ? base : Math.max(best, base);
  });
  return best;
}

/**
 * Parses one CSAF 2.0 document into one Advisory per `vulnerabilities[i]`: id = its CVE, else
 * `${tracking.id}#${i}`; aliases include the tracking id. Rows come from `known_affected`,
 * `first_affected` and `last_affected`; `fixed`/`first_fixed` versions of the same model become
 * `fixed`; a product in `known_not_affected` (VEX) never yields a row. `installed_on` and
 * `default_component_of` relationships take the model from the hardware and the version from the
 * firmware; each model number is its own row. Throws `FeedError` naming the JSON path.
 * @example parseCsafDocument(JSON.parse(text), { file, record: 'ICSA-24-156-01' })[0].id === 'CVE-2024-3850'
 */
export function parseCsafDocument(value: unknown, where: RecordLocation): Advisory[] {
  const root = asObject(value, where, '$');
  const document = asObject(root.document, where, '$.document');
  const tracking = asObject(document.tracking, where, '$.document.tracking');
  const trackingId = asString(tracking.id, where, '$.document.tracking.id');
  const here: RecordLocation = { file: where.file, record: trackingId };
  asString(tracking.version, here, '$.document.tracking.version');
  const published = optionalIsoDate(tracking.initial_release_date, here, '$.document.tracking.initial_release_date');
  const publisher = asObject(document.publisher, here, '$.document.publisher');
  const publisherName = asString(publisher.name, here, '$.document.publisher.name');
  // A vendor-published document may leave the vendor branch out; a coordinator's (CISA) may not.
  const defaultVendor = optionalString(publisher.category, here, '$.document.publisher.category') === 'vendor' ? publisherName : null;

  const products = new Map<string, ProductInfo>();
  if (root.product_tree !== undefined) {
    const tree = asObject(root.product_tree, here, '$.product_tree');
    const start: BranchContext = { vendor: defaultVendor, family: null, productName: null, version: null };
    collectBranches(optionalArray(tree.branches, here, '$.product_tree.branches'), start, { where: here, path: '$.product_tree.branches', depth: 1, out: products });
    optionalArray(tree.full_product_names, here, '$.product_tree.full_product_names').forEach((item, n) => {
      const p = `$.product_tree.full_product_names[${n}]`;
      const full = asObject(item, here, p);
      const numbers = modelNumbersOf(full, here, p);
      const name = asString(full.name, here, `${p}.name`);
      products.set(asString(full.product_id, here, `${p}.product_id`), { vendor: defaultVendor, models: numbers.length > 0 ? numbers : [name], hwVersion: null, version: null });
    });
    collectRelationships(optionalArray(tree.relationships, here, '$.product_tree.relationships'), here, products);
  }

  return optionalArray(root.vulnerabilities, here, '$.vulnerabilities').map((item, index) =>
    parseVulnerability(item, { where: here, index, trackingId, published, products }),
  );
}

function parseVulnerability(
  item: unknown,
  context: { readonly where: RecordLocation; readonly index: number; readonly trackingId: string; readonly published: string | null; readonly products: ReadonlyMap<string, ProductInfo> },
): Advisory {
  const { where, index, trackingId, published, products } = context;
  const path = `$.vulnerabilities[${index}]`;
  const vulnerability = asObject(item, where, path);
  const cve = optionalString(vulnerability.cve, where, `${path}.cve`);
  if (cve !== null && !isCveId(cve)) throw new FeedError('BAD_RECORD', where, `${path}.cve: expected a CVE id, got ${JSON.stringify(cve.slice(0, 40))}`);
  const aliases = new Set([trackingId]);
  optionalArray(vulnerability.ids, where, `${path}.ids`).forEach((id, k) => {
    aliases.add(asString(asObject(id, where, `${path}.ids[${k}]`).text, where, `${path}.ids[${k}].text`));
  });

  const statusPath = `${path}.product_status`;
  const status = vulnerability.product_status === undefined ? {} : asObject(vulnerability.product_status, where, statusPath);
  const notAffected = new Set(idList(status, 'known_not_affected', where, statusPath));
  const fixedIds = [...idList(status, 'fixed', where, statusPath), ...idList(status, 'first_fixed', where, statusPath)];
  const affected: { id: string; bound: 'none' | 'first' | 'last' }[] = [
    ...idList(status, 'known_affected', where, statusPath).map((id) => ({ id, bound: 'none' as const })),
    ...idList(status, 'first_affected', where, statusPath).map((id) => ({ id, bound: 'first' as const })),
    ...idList(status, 'last_affected', where, statusPath).map((id) => ({ id, bound: 'last' as const })),
  ];

  const rows = new Map<string, RowDraft>();
  for (const { id, bound } of affected) {
    // VEX (CSAF 2.0 §3.2.3.12): a product both listed affected and known_not_affected is not flagged.
    if (notAffected.has(id)) continue;
    const info = products.get(id);
    if (info === undefined) throw new FeedError('BAD_RECORD', where, `${statusPath}: product id ${JSON.stringify(id)} is not in the product tree`);
    if (info.vendor === null) continue; // no vendor branch: nothing a device could match
    const vendor = toVendorKey(info.vendor, where, `${statusPath} ${id} vendor`);
    for (const modelName of info.models) {
      const model = toNameKey(modelName, where, `${statusPath} ${id} model`);
      const key = rowKey(vendor, model, info.hwVersion);
      const row = rows.get(key) ?? { vendor, model, hwVersion: info.hwVersion, exact: [], ranges: [], fixed: [], productIds: [], unknownVersions: false };
      rows.set(key, row);
      row.productIds.push(id);
      const version = info.version;
      if (version === null) row.unknownVersions = true;
      else if (version.kind === 'exact') {
        if (bound === 'none') row.exact.push(version.version);
        else row.ranges.push(bound === 'first'
          ? { kind: 'range', lower: version.version, lowerInclusive: true, upper: null, upperInclusive: false }
          : { kind: 'range', lower: null, lowerInclusive: false, upper: version.version, upperInclusive: true });
      } else {
        const parsed = parseVersionRange(version.text, where, `${statusPath} ${id} product_version_range`);
        if (parsed === null) row.unknownVersions = true;
        else {
          row.ranges.push(...parsed.intervals);
          row.fixed.push(...parsed.fixed);
        }
      }
    }
  }
  // Fixed versions attach to rows of the same vendor, model and hardware version.
  for (const id of fixedIds) {
    const info = products.get(id);
    if (info?.vendor === undefined || info.vendor === null || info.version?.kind !== 'exact') continue;
    const vendor = toVendorKey(info.vendor, where, `${statusPath} ${id} vendor`);
    for (const modelName of info.models) {
      rows.get(rowKey(vendor, toNameKey(modelName, where, `${statusPath} ${id} model`), info.hwVersion))?.fixed.push(info.version.version);
    }
  }

  const remediationUrls = new Set<string>();
  optionalArray(vulnerability.remediations, where, `${path}.remediations`).forEach((r, k) => {
    const remediation = asObject(r, where, `${path}.remediations[${k}]`);
    if (remediation.category !== 'vendor_fix') return;
    const url = optionalString(remediation.url, where, `${path}.remediations[${k}].url`);
    if (url !== null) remediationUrls.add(url);
  });

  return {
    source: 'csaf',
    id: cve ?? `${trackingId}#${index}`,
    aliases: [...aliases],
    cvss: highestScore(optionalArray(vulnerability.scores, where, `${path}.scores`), where, `${path}.scores`),
    published,
    products: [...rows.values()].map(toProduct),
    remediationUrls: [...remediationUrls],
  };
}

function toProduct(row: RowDraft): AffectedProduct {
  const intervals = [...exactIntervals(row.exact), ...dedupeIntervals(row.ranges)];
  const known = intervals.length > 0 && !row.unknownVersions;
  return {
    vendor: row.vendor,
    model: row.model,
    hwVersion: row.hwVersion,
    intervals,
    fixed: [...new Set(row.fixed)],
    confidence: known ? 'high' : 'low',
    reason: `csaf products ${[...new Set(row.productIds)].join(', ')}${row.unknownVersions ? '; some affected versions not stated (every version assumed)' : ''}`,
  };
}

function dedupeIntervals(intervals: readonly Interval[]): Interval[] {
  const seen = new Set<string>();
  return intervals.filter((i) => {
    const key = JSON.stringify(i);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
