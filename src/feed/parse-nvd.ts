/**
 * One NVD CVE API 2.0 record → an {@link Advisory}: CPE configurations (AND/OR, negation,
 * vulnerable/platform entries) become affected device products with wire intervals. Pure.
 * @module
 */
import { MAX_URI_BYTES, MAX_VERSION_BYTES, ProtocolError, canonicalName, type Interval } from '../protocol/index.ts';
import { cpeText, parseCpe, type Cpe } from './cpe.ts';
import {
  asCveId,
  asObject,
  describeValue,
  isJsonObject,
  optionalArray,
  optionalString,
  type RecordLocation,
} from './record-fields.ts';
import { FeedError, type Advisory, type AffectedProduct, type Confidence, type FeedErrorCode } from './types.ts';
import { canonicalVendor } from './vendor-aliases.ts';
import { exactIntervals, optionalVersion } from './version-intervals.ts';

/**
 * Most cpeMatch entries in one record. The largest real records (router and OS families listing
 * every release) hold a few thousand; 50,000 bounds the work one hostile record can cause.
 */
export const MAX_NVD_CPE_MATCHES = 50_000;
/** Most remediation URLs kept per advisory (the brief's cap; the publisher caps hosts again). */
export const MAX_REMEDIATION_URLS = 8;

/** Options of {@link parseNvdCve}. */
export interface NvdParseOptions {
  /** Extra vendor aliases from configuration (canonical alias → canonical vendor). */
  readonly vendorAliases?: ReadonlyMap<string, string>;
}

/** Where the record came from: the file and the shell's record label (JSON path or CVE id). */
export type NvdRecordLocation = RecordLocation;

const FIRMWARE_SUFFIX = '_firmware';
// NVD CVE API 2.0 metric lists, newest CVSS version first; every entry's baseScore is considered.
const METRIC_KEYS = ['cvssMetricV40', 'cvssMetricV31', 'cvssMetricV30', 'cvssMetricV2'] as const;
const REMEDIATION_TAGS: ReadonlySet<string> = new Set(['Patch', 'Vendor Advisory']);
const MAX_REASON_CHARS = 600;
const textEncoder = new TextEncoder();

interface Context {
  /** The file and the record label with the CVE id, for every error of this record. */
  readonly where: RecordLocation;
  readonly aliases: ReadonlyMap<string, string> | undefined;
}

/** One cpeMatch entry, parsed. */
interface MatchEntry {
  readonly cpe: Cpe;
  readonly criteria: string;
  readonly vulnerable: boolean;
  readonly startIncluding: string | null;
  readonly startExcluding: string | null;
  readonly endIncluding: string | null;
  readonly endExcluding: string | null;
  readonly path: string;
}

/** Entries that must all hold together, and the negated entries that exclude devices from them. */
interface Group {
  readonly entries: readonly MatchEntry[];
  readonly exclusions: readonly MatchEntry[];
}

/** The versions one software entry names. */
interface Versions {
  readonly exact: readonly string[];
  readonly ranges: readonly Interval[];
  readonly fixed: readonly string[];
  /** Set when the entry means "every version": the note says why. */
  readonly everyVersion: string | null;
}

/** A product before merging rows of the same vendor, model, hardware revision and confidence. */
interface Draft {
  readonly vendor: string;
  readonly model: string;
  readonly hwVersion: string | null;
  readonly versions: Versions;
  readonly confidence: Confidence;
  /** The CPEs the row comes from, and notes on how it was derived. */
  readonly what: string;
  readonly notes: readonly string[];
}

function locate(where: RecordLocation, id: string): RecordLocation {
  // The shell's label (`$.vulnerabilities[12]`) and the CVE id together find the record in a large file.
  const record = where.record === id || where.record === '$' || where.record === '' ? id : `${where.record} ${id}`;
  return { file: where.file, record };
}

function fail(ctx: Context, code: FeedErrorCode, path: string, message: string): FeedError {
  return new FeedError(code, ctx.where, `${path}: ${message}`);
}

function operatorAt(ctx: Context, value: unknown, path: string): 'AND' | 'OR' {
  // NVD omits the configuration operator when there is one node; OR is the neutral reading.
  if (value === undefined || value === 'OR') return 'OR';
  if (value === 'AND') return 'AND';
  throw fail(ctx, 'BAD_RECORD', path, `expected "AND" or "OR", got ${describeValue(value)}`);
}

function negateAt(ctx: Context, value: unknown, path: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw fail(ctx, 'BAD_RECORD', path, `expected true or false, got ${describeValue(value)}`);
  return value;
}

function parseEntry(ctx: Context, value: unknown, path: string): MatchEntry {
  const o = asObject(value, ctx.where, path);
  const criteria = o['criteria'];
  if (typeof criteria !== 'string') {
    throw fail(ctx, 'BAD_RECORD', `${path}.criteria`, `expected a CPE string, got ${describeValue(criteria)}`);
  }
  const vulnerable = o['vulnerable'];
  if (typeof vulnerable !== 'boolean') {
    throw fail(ctx, 'BAD_RECORD', `${path}.vulnerable`, `expected true or false, got ${describeValue(vulnerable)}`);
  }
  const cpe = parseCpe(criteria, { ...ctx.where, path: `${path}.criteria` });
  const entry: MatchEntry = {
    cpe,
    criteria,
    vulnerable,
    startIncluding: optionalVersion(o['versionStartIncluding'], ctx.where, `${path}.versionStartIncluding`),
    startExcluding: optionalVersion(o['versionStartExcluding'], ctx.where, `${path}.versionStartExcluding`),
    endIncluding: optionalVersion(o['versionEndIncluding'], ctx.where, `${path}.versionEndIncluding`),
    endExcluding: optionalVersion(o['versionEndExcluding'], ctx.where, `${path}.versionEndExcluding`),
    path,
  };
  if (entry.startIncluding !== null && entry.startExcluding !== null) {
    throw fail(ctx, 'BAD_RECORD', path, 'both versionStartIncluding and versionStartExcluding');
  }
  if (entry.endIncluding !== null && entry.endExcluding !== null) {
    throw fail(ctx, 'BAD_RECORD', path, 'both versionEndIncluding and versionEndExcluding');
  }
  return entry;
}

function hasRange(e: MatchEntry): boolean {
  return e.startIncluding !== null || e.startExcluding !== null || e.endIncluding !== null || e.endExcluding !== null;
}

/**
 * The groups of one configuration. AND: every positive node together (one group). OR (or no
 * operator): each AND node is a group and each entry of an OR node is a group of its own. Entries of
 * negated nodes are exclusions for every group of the configuration.
 */
function parseConfiguration(ctx: Context, value: unknown, path: string, budget: { left: number }): Group[] {
  const config = asObject(value, ctx.where, path);
  const operator = operatorAt(ctx, config['operator'], `${path}.operator`);
  // A negated configuration ("applies unless …") names no affected device we can list.
  if (negateAt(ctx, config['negate'], `${path}.negate`)) return [];
  const positive: { operator: 'AND' | 'OR'; entries: MatchEntry[] }[] = [];
  const exclusions: MatchEntry[] = [];
  optionalArray(config['nodes'], ctx.where, `${path}.nodes`).forEach((nodeValue, n) => {
    const nodePath = `${path}.nodes[${n}]`;
    const node = asObject(nodeValue, ctx.where, nodePath);
    const nodeOperator = operatorAt(ctx, node['operator'], `${nodePath}.operator`);
    const negate = negateAt(ctx, node['negate'], `${nodePath}.negate`);
    const list = optionalArray(node['cpeMatch'], ctx.where, `${nodePath}.cpeMatch`);
    budget.left -= list.length;
    if (budget.left < 0) throw fail(ctx, 'TOO_LARGE', nodePath, `more than ${MAX_NVD_CPE_MATCHES} cpeMatch entries`);
    const entries = list.map((e, k) => parseEntry(ctx, e, `${nodePath}.cpeMatch[${k}]`));
    if (negate) exclusions.push(...entries);
    else positive.push({ operator: nodeOperator, entries });
  });
  if (operator === 'AND') return [{ entries: positive.flatMap((p) => p.entries), exclusions }];
  return positive.flatMap((p) =>
    p.operator === 'AND' ? [{ entries: p.entries, exclusions }] : p.entries.map((e) => ({ entries: [e], exclusions })),
  );
}

function nameOf(ctx: Context, e: MatchEntry, attribute: 'vendor' | 'product'): string {
  const text = cpeText(e.cpe[attribute]);
  if (text === null) throw fail(ctx, 'BAD_CPE', `${e.path}.criteria`, `${attribute}: expected a name, not ANY, NA or a pattern`);
  return text;
}

function canonicalOf(ctx: Context, e: MatchEntry, name: string, kind: 'vendor' | 'model'): string {
  try {
    return kind === 'vendor' ? canonicalVendor(name, ctx.aliases) : canonicalName(name);
  } catch (err) {
    if (err instanceof ProtocolError) throw fail(ctx, 'BAD_CPE', `${e.path}.criteria`, `${kind}: ${err.message}`);
    throw err;
  }
}

/** The model a firmware product names (`dir-859_firmware` → `dir859`), or null for an OS name (`routeros`). */
function firmwareModel(ctx: Context, e: MatchEntry): string | null {
  const product = nameOf(ctx, e, 'product');
  if (!product.endsWith(FIRMWARE_SUFFIX) || product.length === FIRMWARE_SUFFIX.length) return null;
  return canonicalOf(ctx, e, product.slice(0, -FIRMWARE_SUFFIX.length), 'model');
}

/**
 * True for a firmware entry: part `o`, or part `h` whose product is `<x>_firmware`. NVD sometimes
 * files a firmware CPE under `h` (CVE-2016-9361: `cpe:2.3:h:moxa:nport_5600-8-dtl_series_firmware`
 * with a version range); read as hardware it would become a model of its own and leave the real
 * hardware of the configuration flagged for every firmware version.
 */
function isFirmwareEntry(ctx: Context, e: MatchEntry): boolean {
  return e.cpe.part === 'o' || (e.cpe.part === 'h' && firmwareModel(ctx, e) !== null);
}

function sameProduct(ctx: Context, a: MatchEntry, b: MatchEntry): boolean {
  return (
    a.cpe.part === b.cpe.part &&
    canonicalOf(ctx, a, nameOf(ctx, a, 'vendor'), 'vendor') === canonicalOf(ctx, b, nameOf(ctx, b, 'vendor'), 'vendor') &&
    canonicalOf(ctx, a, nameOf(ctx, a, 'product'), 'model') === canonicalOf(ctx, b, nameOf(ctx, b, 'product'), 'model')
  );
}

/** True when the entry covers every version of its product (no range, version ANY or NA). */
function coversEveryVersion(e: MatchEntry): boolean {
  return !hasRange(e) && (e.cpe.version.kind === 'any' || e.cpe.version.kind === 'na');
}

/** The hardware revision a hardware CPE names (its version attribute), or null for any. */
function hardwareRevision(e: MatchEntry): string | null {
  return cpeText(e.cpe.version);
}

function rangeText(e: MatchEntry): string {
  const parts: string[] = [];
  if (e.startIncluding !== null) parts.push(`>= ${e.startIncluding}`);
  if (e.startExcluding !== null) parts.push(`> ${e.startExcluding}`);
  if (e.endIncluding !== null) parts.push(`<= ${e.endIncluding}`);
  if (e.endExcluding !== null) parts.push(`< ${e.endExcluding}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/**
 * The versions of a software (o/a) entry. A range wins over the version attribute. An exact version
 * includes the update attribute (NISTIR 7695 §5.3.3.4: NVD keeps `b03`, `beta1`, `build_20170517`,
 * `rc11` there): `1.05` + `b03` → `1.05b03`. Version ANY/NA with no range means every version.
 */
function versionsOf(ctx: Context, e: MatchEntry): Versions {
  if (hasRange(e)) {
    const lower = e.startIncluding ?? e.startExcluding;
    const upper = e.endIncluding ?? e.endExcluding;
    return {
      exact: [],
      ranges: [{ kind: 'range', lower, lowerInclusive: e.startIncluding !== null, upper, upperInclusive: e.endIncluding !== null }],
      fixed: e.endExcluding === null ? [] : [e.endExcluding],
      everyVersion: null,
    };
  }
  const version = e.cpe.version;
  if (version.kind !== 'value' || version.pattern) {
    const shown = version.kind === 'any' ? '*' : version.kind === 'na' ? '-' : version.value;
    return {
      exact: [],
      ranges: [{ kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false }],
      fixed: [],
      everyVersion: `NVD gives version '${shown}' and no range for ${e.criteria}: every version is treated as affected`,
    };
  }
  const update = cpeText(e.cpe.update);
  const exact = update === null ? version.value : version.value + update;
  if (textEncoder.encode(exact).byteLength > MAX_VERSION_BYTES) {
    throw fail(ctx, 'BAD_VERSION', `${e.path}.criteria`, `version ${JSON.stringify(exact.slice(0, 40))}… longer than ${MAX_VERSION_BYTES} bytes`);
  }
  return { exact: [exact], ranges: [], fixed: [], everyVersion: null };
}

const EVERY_VERSION: Versions = {
  exact: [],
  ranges: [{ kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false }],
  fixed: [],
  everyVersion: 'every version',
};

/** True when a negated hardware entry names this hardware (same product; revision ANY/NA or equal). */
function isExcludedHardware(ctx: Context, h: MatchEntry, exclusions: readonly MatchEntry[]): boolean {
  return exclusions.some((x) => {
    if (!sameProduct(ctx, x, h)) return false;
    const revision = hardwareRevision(x);
    return revision === null || revision === hardwareRevision(h);
  });
}

/** The firmware entries a hardware entry pairs with, and whether the pairing is a guess. */
function firmwareFor(ctx: Context, h: MatchEntry, firmware: readonly MatchEntry[], hardware: readonly MatchEntry[]): { entries: MatchEntry[]; guessed: boolean } {
  const model = canonicalOf(ctx, h, nameOf(ctx, h, 'product'), 'model');
  const named = firmware.filter((o) => firmwareModel(ctx, o) === model);
  if (named.length > 0) return { entries: named, guessed: false };
  const models = new Set(hardware.map((x) => canonicalOf(ctx, x, nameOf(ctx, x, 'product'), 'model')));
  // An OS or firmware-family name (RouterOS, DSM, QTS, an SDK) applies to every hardware model of
  // the configuration, and so does `<x>_firmware` whose `<x>` names none of its hardware.
  const shared = firmware.filter((o) => {
    const m = firmwareModel(ctx, o);
    return m === null || !models.has(m);
  });
  if (shared.length > 0) return { entries: shared, guessed: false };
  return { entries: [...firmware], guessed: true };
}

function draftFor(ctx: Context, h: MatchEntry | null, o: MatchEntry | null, notes: { low: boolean; text: string[] }): Draft {
  const source = h ?? o;
  if (source === null) throw new TypeError('draftFor: neither hardware nor firmware');
  const vendor = canonicalOf(ctx, source, nameOf(ctx, source, 'vendor'), 'vendor');
  let model: string;
  if (h !== null) model = canonicalOf(ctx, h, nameOf(ctx, h, 'product'), 'model');
  else model = firmwareModel(ctx, source) ?? canonicalOf(ctx, source, nameOf(ctx, source, 'product'), 'model');
  const versions = o === null ? EVERY_VERSION : versionsOf(ctx, o);
  const text = [...notes.text];
  let low = notes.low || versions.everyVersion !== null;
  if (o !== null && versions.everyVersion !== null) text.push(versions.everyVersion);
  if (h === null && o !== null && firmwareModel(ctx, o) === null) {
    text.push(`no hardware CPE: the model is the OS or firmware name ${nameOf(ctx, o, 'product')}`);
  }
  let hwVersion: string | null = null;
  if (h !== null) {
    if (hasRange(h)) {
      low = true;
      text.push(`hardware revision range${rangeText(h)} not representable: any revision`);
    } else hwVersion = hardwareRevision(h);
  }
  const what =
    h !== null && o !== null
      ? `${o.criteria}${rangeText(o)} on ${h.criteria}`
      : (o === null ? (h?.criteria ?? '') : `${o.criteria}${rangeText(o)}`);
  return { vendor, model, hwVersion, versions, confidence: low ? 'low' : 'high', what, notes: text };
}

/** The products one group of entries yields (the pairing rules of issue #4). */
function draftsOf(ctx: Context, group: Group): Draft[] {
  const { entries, exclusions } = group;
  if (!entries.some((e) => e.vulnerable)) return []; // platform entries alone never flag a device
  const appOnly = entries.every((e) => !e.vulnerable || e.cpe.part === 'a');
  const allHardware = entries.filter((e) => e.cpe.part === 'h' && !isFirmwareEntry(ctx, e));
  const hardware = allHardware.filter((h) => !isExcludedHardware(ctx, h, exclusions));
  const firmware = entries.filter((e) => isFirmwareEntry(ctx, e));
  const apps = entries.filter((e) => e.cpe.part === 'a' && e.vulnerable);
  const appNote = appOnly ? [`the vulnerable part is the application ${apps.map((a) => a.criteria).join(', ')}`] : [];

  const drafts: Draft[] = [];
  const withFirmwareExclusions = (o: MatchEntry): { skip: boolean; text: string[] } => {
    const negated = exclusions.filter((x) => isFirmwareEntry(ctx, x) && sameProduct(ctx, x, o));
    if (negated.some(coversEveryVersion)) return { skip: true, text: [] };
    return { skip: false, text: negated.map((x) => `NVD excludes ${x.criteria}${rangeText(x)}; not subtracted here`) };
  };

  if (allHardware.length === 0) {
    if (appOnly) return []; // an application on an OS: nothing names hardware
    for (const o of firmware.filter((e) => e.vulnerable)) {
      const x = withFirmwareExclusions(o);
      if (x.skip) continue;
      drafts.push(draftFor(ctx, null, o, { low: x.text.length > 0, text: x.text }));
    }
    return drafts;
  }
  for (const h of hardware) {
    if (firmware.length === 0) {
      const why = appOnly ? appNote : ['the hardware itself is vulnerable: every firmware version'];
      drafts.push(draftFor(ctx, h, null, { low: true, text: why }));
      continue;
    }
    const paired = firmwareFor(ctx, h, firmware, allHardware);
    for (const o of paired.entries) {
      const x = withFirmwareExclusions(o);
      if (x.skip) continue;
      const guess = paired.guessed ? ['firmware and hardware names do not pair: every firmware of the configuration assumed'] : [];
      drafts.push(draftFor(ctx, h, o, { low: appOnly || paired.guessed || x.text.length > 0, text: [...appNote, ...guess, ...x.text] }));
    }
  }
  return drafts;
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

/** Merges drafts of the same vendor, model, hardware revision and confidence into one product. */
function mergeDrafts(id: string, drafts: readonly Draft[]): AffectedProduct[] {
  const byKey = new Map<string, { first: Draft; exact: string[]; ranges: Map<string, Interval>; fixed: Set<string>; whats: Set<string>; notes: Set<string> }>();
  for (const d of drafts) {
    const key = JSON.stringify([d.vendor, d.model, d.hwVersion, d.confidence]);
    let m = byKey.get(key);
    if (m === undefined) {
      m = { first: d, exact: [], ranges: new Map(), fixed: new Set(), whats: new Set(), notes: new Set() };
      byKey.set(key, m);
    }
    m.exact.push(...d.versions.exact);
    for (const r of d.versions.ranges) m.ranges.set(JSON.stringify(r), r);
    for (const f of d.versions.fixed) m.fixed.add(f);
    m.whats.add(d.what);
    for (const n of d.notes) m.notes.add(n);
  }
  return [...byKey.values()].map((m) => ({
    vendor: m.first.vendor,
    model: m.first.model,
    hwVersion: m.first.hwVersion,
    intervals: [...m.ranges.values(), ...(m.exact.length === 0 ? [] : exactIntervals(m.exact))],
    fixed: [...m.fixed],
    confidence: m.first.confidence,
    // The notes (why a row is low confidence) survive; a long list of source CPEs is cut.
    reason: [clip(`NVD ${id}: ${[...m.whats].join(', ')}`), ...m.notes].join('; '),
  }));
}

function cvssOf(ctx: Context, value: unknown): number | null {
  if (value === undefined) return null;
  const metrics = asObject(value, ctx.where, '$.metrics');
  let best: number | null = null;
  for (const key of METRIC_KEYS) {
    optionalArray(metrics[key], ctx.where, `$.metrics.${key}`).forEach((m, n) => {
      const path = `$.metrics.${key}[${n}].cvssData.baseScore`;
      const data = asObject(asObject(m, ctx.where, `$.metrics.${key}[${n}]`)['cvssData'], ctx.where, `$.metrics.${key}[${n}].cvssData`);
      const score = data['baseScore'];
      if (typeof score !== 'number' || !(score >= 0 && score <= 10)) {
        throw fail(ctx, 'BAD_RECORD', path, `expected a number 0..10, got ${describeValue(score)}`);
      }
      if (best === null || score > best) best = score;
    });
  }
  return best;
}

function remediationUrlsOf(ctx: Context, value: unknown): string[] {
  const urls = new Set<string>();
  optionalArray(value, ctx.where, '$.references').forEach((r, n) => {
    const ref = asObject(r, ctx.where, `$.references[${n}]`);
    const url = ref['url'];
    const tags = optionalArray(ref['tags'], ctx.where, `$.references[${n}].tags`);
    if (typeof url !== 'string' || !/^https?:\/\//iu.test(url) || textEncoder.encode(url).byteLength > MAX_URI_BYTES) return;
    if (tags.some((t) => typeof t === 'string' && REMEDIATION_TAGS.has(t)) && urls.size < MAX_REMEDIATION_URLS) urls.add(url);
  });
  return [...urls];
}

/**
 * Parses one NVD CVE API 2.0 record — the `cve` object of `vulnerabilities[]`, or a file holding that
 * object or `{cve: {...}}` — into an Advisory. Throws `FeedError`: `BAD_RECORD` (shape), `BAD_CPE`,
 * `BAD_VERSION`, `TOO_LARGE`, and `NOT_A_DEVICE` when no configuration names affected hardware or
 * firmware (application-only CVEs, records not yet analysed).
 * @example parseNvdCve(JSON.parse(text), { file: 'nvd.json', record: '$.vulnerabilities[0]' }).products
 */
export function parseNvdCve(value: unknown, where: NvdRecordLocation, options: NvdParseOptions = {}): Advisory {
  const outer = asObject(value, where, '$');
  const cve = isJsonObject(outer['cve']) ? outer['cve'] : outer;
  const id = asCveId(cve['id'], where, '$.id');
  const ctx: Context = { where: locate(where, id), aliases: options.vendorAliases };
  const publishedText = optionalString(cve['published'], ctx.where, '$.published');
  const published = publishedText !== null && /^\d{4}-\d{2}-\d{2}/u.test(publishedText) ? publishedText.slice(0, 10) : null;
  const cvss = cvssOf(ctx, cve['metrics']);
  const remediationUrls = remediationUrlsOf(ctx, cve['references']);

  const budget = { left: MAX_NVD_CPE_MATCHES };
  const configurations = optionalArray(cve['configurations'], ctx.where, '$.configurations');
  const groups = configurations.flatMap((c, n) => parseConfiguration(ctx, c, `$.configurations[${n}]`, budget));
  const products = mergeDrafts(id, groups.flatMap((g) => draftsOf(ctx, g)));
  if (products.length === 0) {
    const why = configurations.length === 0 ? 'no configurations (not analysed yet)' : 'no vulnerable hardware or firmware CPE (application-only)';
    throw fail(ctx, 'NOT_A_DEVICE', '$.configurations', why);
  }
  return { source: 'nvd', id, aliases: [], cvss, published, products, remediationUrls };
}
