/**
 * The feed publisher's decisions (docs/feed.md): which products may be quarantined, under which
 * names, with which remediation hosts, split into feed records (≤ 1050 bytes) and bucket pages
 * (≤ 997 bytes, entries ≤ 56) for all 4096 buckets. Pure: rows, a policy and times in; unsigned
 * documents and a report out. Signing is {@link signFeedPlan}.
 * @module
 */
import { compareBytes, type PrivateKey } from '../crypto/index.ts';
import {
  BUCKET_COUNT,
  BUCKET_TAG_BYTES,
  MAX_BUCKET_BYTES,
  MAX_BUCKET_ENTRY_BYTES,
  MAX_BUCKET_PAGES,
  MAX_ENTRY_ADVISORIES,
  MAX_FEED_RECORD_BYTES,
  MAX_INTERVALS,
  MAX_RECORD_ADVISORIES,
  MAX_RECORD_FIXED,
  MAX_REMEDIATION_HOSTS,
  MAX_SUFFIXES,
  bucketEntryBytes,
  bucketIndex,
  bucketPrefix,
  bucketTag,
  compareVersions,
  encodeBucketPayload,
  encodeCbor,
  encodeFeedRecordPayload,
  modelHash,
  prefixOfBucket,
  rangeSetToCbor,
  signBucket,
  signFeedRecord,
  type Bucket,
  type BucketEntry,
  type FeedRecord,
  type Interval,
} from '../protocol/index.ts';
import { modelKey, type PublisherPolicy } from './publisher-policy.ts';
import { vendorAliasesOf } from './vendor-aliases.ts';
import type { Confidence, FeedReader } from './types.ts';

/** Why an (advisory, product) pair is or is not quarantine-eligible. */
export type EligibilityReason = 'denied' | 'reviewed' | 'kev-bounded' | 'not-kev' | 'unbounded' | 'low-confidence';

/** What {@link decideEligibility} looks at. */
export interface EligibilityInput {
  readonly vendor: string;
  readonly model: string;
  /** The advisory id and its aliases. */
  readonly ids: readonly string[];
  readonly kev: boolean;
  readonly confidence: Confidence;
  readonly intervals: readonly Interval[];
}

/** Options of {@link planFeed}. Times are seconds since the Unix epoch. */
export interface PublishOptions {
  readonly policy: PublisherPolicy;
  readonly feedVersion: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /**
   * Further aliases of a canonical vendor besides the policy's; default: the reader's
   * `vendorAliases` (configured and maintained), else the maintained table (vendor-aliases.ts).
   */
  readonly vendorAliasesOf?: (vendor: string) => readonly string[];
}

/** Min, median, 99th percentile and max of a distribution. */
export interface Distribution {
  readonly min: number;
  readonly median: number;
  readonly p99: number;
  readonly max: number;
}

/** What one publication contains and what it had to leave out. */
export interface PublishReport {
  readonly rows: number;
  /** Rows left out because their advisory (or an alias) is withdrawn. */
  readonly withdrawnRows: number;
  /** Distinct (vendor, model, hardware version) products published. */
  readonly products: number;
  readonly records: number;
  readonly eligibleRecords: number;
  /** Records under a vendor or model alias rather than the canonical names. */
  readonly aliasRecords: number;
  /** Record groups that needed more than one record (size, 16 advisories or 128 members). */
  readonly splitGroups: number;
  /** Records that belong to a split group. */
  readonly splitRecords: number;
  readonly eligibility: Readonly<Record<EligibilityReason, number>>;
  readonly buckets: number;
  readonly pages: number;
  readonly entries: number;
  readonly modelsPerBucket: Distribution;
  readonly entriesPerBucket: Distribution;
  /** pages per bucket → number of buckets. */
  readonly pagesHistogram: Readonly<Record<number, number>>;
  /** Range members that fit no 56-byte entry (a version string too long), left out of buckets. */
  readonly droppedEntryMembers: number;
  /** Fixed versions that fit no entry of their model (buckets only; records keep up to 8). */
  readonly droppedEntryFixed: number;
  /** Entries left out of buckets that would exceed 16 pages (lowest priority first). */
  readonly overflowEntries: number;
  /** Models all of whose entries were left out that way. */
  readonly overflowModels: number;
}

/** The unsigned documents of one feed version. */
export interface FeedPlan {
  readonly feedVersion: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly records: readonly FeedRecord[];
  /** Indexed by bucket 0..4095; every bucket has at least one page. */
  readonly buckets: readonly (readonly Bucket[])[];
  readonly report: PublishReport;
}

/** Signed documents as bytes, in bundle order. */
export interface SignedFeed {
  readonly records: readonly Uint8Array[];
  /** Pages of bucket 0 (in page order), then bucket 1, … bucket 4095. */
  readonly pages: readonly Uint8Array[];
}

/** A publication that cannot be built as asked. */
export class PublishError extends Error {
  override readonly name = 'PublishError';
  readonly code: 'TOO_LARGE' | 'BAD_OPTIONS';
  constructor(code: 'TOO_LARGE' | 'BAD_OPTIONS', message: string) {
    super(message);
    this.code = code;
  }
}

/** Shortest shared prefix worth an exact-list member: below 4 bytes it costs more than it saves. */
const MIN_SHARED_PREFIX = 4;
const EVERY_VERSION: Interval = { kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false };

function matches(ids: readonly string[], list: readonly string[]): boolean {
  return ids.some((id) => list.includes(id));
}

function selected(selection: PublisherPolicy['reviewed'], input: EligibilityInput): boolean {
  return (
    matches(input.ids, selection.advisories) ||
    selection.products.some((p) => p.vendor === input.vendor && p.model === input.model && input.ids.includes(p.advisory))
  );
}

/** True when every interval has an upper bound: exact versions, or a range below a known version. */
export function isBounded(intervals: readonly Interval[]): boolean {
  return intervals.length > 0 && intervals.every((i) => i.kind !== 'range' || i.upper !== null);
}

/**
 * Decides whether one advisory may quarantine one product (docs/feed.md §1): the deny list wins;
 * then reviewed pairs are eligible; otherwise only KEV with high confidence and bounded intervals.
 * @example decideEligibility({ vendor: 'dlink', model: 'dir859', ids: ['CVE-2019-17621'], kev: true, confidence: 'high', intervals }, policy)
 */
export function decideEligibility(input: EligibilityInput, policy: PublisherPolicy): { eligible: boolean; reason: EligibilityReason } {
  if (selected(policy.deny, input)) return { eligible: false, reason: 'denied' };
  if (selected(policy.reviewed, input)) return { eligible: true, reason: 'reviewed' };
  if (!input.kev) return { eligible: false, reason: 'not-kev' };
  if (input.confidence !== 'high') return { eligible: false, reason: 'low-confidence' };
  if (!isBounded(input.intervals)) return { eligible: false, reason: 'unbounded' };
  return { eligible: true, reason: 'kev-bounded' };
}

/** The host name of an http(s) URL, lower case, or undefined. */
function hostOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.hostname.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * At most 4 remediation hosts ([P-6.2-3]): the vendor's configured update hosts first (in the
 * policy's order), then hosts of the advisories' remediation URLs, most cited first, then by name.
 */
export function chooseRemediationHosts(configured: readonly string[], urls: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const url of urls) {
    const host = hostOf(url);
    if (host !== undefined && host !== '') counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  const cited = [...counts].sort((a, b) => b[1] - a[1] || compareText(a[0], b[0])).map(([h]) => h);
  return [...new Set([...configured, ...cited])].slice(0, MAX_REMEDIATION_HOSTS);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function intervalKey(i: Interval): string {
  return i.kind === 'range' ? JSON.stringify([i.lower, i.upper, i.lowerInclusive, i.upperInclusive]) : JSON.stringify(i);
}

function commonPrefixLength(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * Normalises a product's intervals: exact versions deduplicated and re-grouped into exact-list
 * members by shared prefix ([P-4.4-1]; never widened into ranges), ranges deduplicated; sorted.
 */
export function normaliseIntervals(intervals: readonly Interval[]): Interval[] {
  const exact = new Set<string>();
  const ranges = new Map<string, Interval>();
  for (const i of intervals) {
    if (i.kind === 'exact') exact.add(i.version);
    else if (i.kind === 'exact-list') for (const s of i.suffixes) exact.add(i.prefix + s);
    else ranges.set(intervalKey(i), i);
  }
  const out: Interval[] = [...ranges].sort((a, b) => compareText(a[0], b[0])).map(([, i]) => i);
  const sorted = [...exact].sort(compareText);
  let start = 0;
  while (start < sorted.length) {
    const first = sorted[start] ?? '';
    let shared = first.length;
    let shortest = first.length;
    let end = start + 1;
    while (end < sorted.length && end - start < MAX_SUFFIXES) {
      const next = sorted[end] ?? '';
      const p = Math.min(shared, commonPrefixLength(first, next), Math.min(shortest, next.length) - 1);
      if (p < MIN_SHARED_PREFIX) break;
      shared = p;
      shortest = Math.min(shortest, next.length);
      end++;
    }
    if (end - start >= 2) {
      // Never cut a surrogate pair in two.
      const code = first.charCodeAt(shared - 1);
      const p = code >= 0xd800 && code <= 0xdbff ? shared - 1 : shared;
      out.push({ kind: 'exact-list', prefix: first.slice(0, p), suffixes: sorted.slice(start, end).map((v) => v.slice(p)) });
    } else {
      out.push({ kind: 'exact', version: first });
    }
    start = end;
  }
  return out;
}

/** Encoded size of a tagged COSE_Sign1 with an 8-byte kid and this payload length (§9: 90 + payload for 256..65535). */
export function signedSize(payloadBytes: number): number {
  const header = payloadBytes < 24 ? 1 : payloadBytes < 256 ? 2 : payloadBytes < 65_536 ? 3 : 5;
  // tag 1 + array 1 + protected bstr 18 + unprotected {} 1 + payload + signature bstr 66
  return 1 + 1 + 18 + 1 + header + payloadBytes + 66;
}

function splitMember(m: Interval): Interval[] | undefined {
  if (m.kind === 'exact-list' && m.suffixes.length > 1) {
    const half = Math.ceil(m.suffixes.length / 2);
    return [
      { kind: 'exact-list', prefix: m.prefix, suffixes: m.suffixes.slice(0, half) },
      { kind: 'exact-list', prefix: m.prefix, suffixes: m.suffixes.slice(half) },
    ];
  }
  if (m.kind === 'exact-list' && m.suffixes.length === 1) return [{ kind: 'exact', version: m.prefix + (m.suffixes[0] ?? '') }];
  return undefined;
}

const EMPTY_RANGE_SET_BYTES = encodeCbor(rangeSetToCbor({ scheme: 0, intervals: [] })).byteLength;
/** Encoded size of each member inside a range set, computed once per member object. */
const memberSizes = new WeakMap<Interval, number>();

/** Bytes one member adds to a range set's interval array (its array header aside). */
function memberBytes(member: Interval): number {
  let size = memberSizes.get(member);
  if (size === undefined) {
    size = encodeCbor(rangeSetToCbor({ scheme: 0, intervals: [member] })).byteLength - EMPTY_RANGE_SET_BYTES;
    memberSizes.set(member, size);
  }
  return size;
}

/**
 * Encoded size of a document holding `count` members of `bytes` in total, given its size with
 * none: CBOR concatenates array items, and the interval array's header grows from 1 to 2 bytes at
 * 24 items (RFC 8949 §3; at most MAX_INTERVALS = 128 < 256 items, so never 3).
 */
function withMembers(emptyBytes: number, bytes: number, count: number): number {
  return emptyBytes + bytes + (count < 24 ? 0 : 1);
}

/**
 * Packs members greedily into documents that `fits` (given the members' total encoded size and
 * count): a member too big alone is split (exact lists in halves) or, if it cannot be, returned
 * in `dropped`. Sizes add up member by member instead of re-encoding the document per member.
 */
function packMembers(members: readonly Interval[], fits: (bytes: number, count: number) => boolean): { groups: Interval[][]; dropped: Interval[] } {
  const groups: Interval[][] = [];
  const dropped: Interval[] = [];
  // Reversed, so that taking the next member and putting parts back are pops and pushes.
  const stack = [...members].reverse();
  let current: Interval[] = [];
  let bytes = 0;
  for (let m = stack.pop(); m !== undefined; m = stack.pop()) {
    const size = memberBytes(m);
    if (current.length < MAX_INTERVALS && fits(bytes + size, current.length + 1)) {
      current.push(m);
      bytes += size;
      continue;
    }
    if (current.length > 0) {
      groups.push(current);
      current = [];
      bytes = 0;
      stack.push(m);
      continue;
    }
    const parts = splitMember(m);
    if (parts === undefined) dropped.push(m);
    else stack.push(...parts.reverse());
  }
  if (current.length > 0) groups.push(current);
  return { groups, dropped };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** What is known of one advisory for one product. */
interface Claim {
  readonly ids: string[];
  kev: boolean;
  cvss: number | null;
  confidence: Confidence;
  readonly intervals: Interval[];
  readonly fixed: Set<string>;
  readonly urls: string[];
}

interface Product {
  readonly vendor: string;
  readonly model: string;
  readonly hwVersion: string | null;
  /** advisory id → claim */
  readonly claims: Map<string, Claim>;
}

/** Advisories of one product that share eligibility and exactly the same affected versions. */
interface RecordGroup {
  readonly product: Product;
  readonly eligible: boolean;
  readonly advisories: string[];
  readonly members: Interval[];
  readonly kev: boolean;
  readonly cvss10: number | null;
  readonly fixed: string[];
  readonly urls: string[];
}

function collectProducts(reader: FeedReader, policy: PublisherPolicy): { products: Map<string, Product>; rows: number; withdrawnRows: number } {
  const products = new Map<string, Product>();
  let rows = 0;
  let withdrawnRows = 0;
  for (const row of reader.rows()) {
    rows++;
    const ids = [row.advisory.id, ...row.advisory.aliases];
    if (matches(ids, policy.withdrawn)) {
      withdrawnRows++;
      continue;
    }
    const vendor = reader.canonicalVendor(row.product.vendor);
    const key = JSON.stringify([vendor, row.product.model, row.product.hwVersion]);
    let product = products.get(key);
    if (product === undefined) {
      product = { vendor, model: row.product.model, hwVersion: row.product.hwVersion, claims: new Map() };
      products.set(key, product);
    }
    let claim = product.claims.get(row.advisory.id);
    if (claim === undefined) {
      claim = { ids, kev: false, cvss: null, confidence: 'high', intervals: [], fixed: new Set(), urls: [] };
      product.claims.set(row.advisory.id, claim);
    }
    claim.kev ||= row.kev;
    if (row.advisory.cvss !== null) claim.cvss = Math.max(claim.cvss ?? 0, row.advisory.cvss);
    // Several rows for one advisory and product: any low-confidence derivation makes the claim low.
    if (row.product.confidence === 'low') claim.confidence = 'low';
    // An empty interval list means the versions are unknown: published as every version.
    claim.intervals.push(...(row.product.intervals.length > 0 ? row.product.intervals : [EVERY_VERSION]));
    for (const f of row.product.fixed) claim.fixed.add(f);
    claim.urls.push(...row.advisory.remediationUrls);
  }
  return { products, rows, withdrawnRows };
}

function groupProduct(product: Product, policy: PublisherPolicy, tally: Record<EligibilityReason, number>): RecordGroup[] {
  const byKey = new Map<string, { eligible: boolean; members: Interval[]; claims: [string, Claim][] }>();
  for (const [id, claim] of product.claims) {
    const members = normaliseIntervals(claim.intervals);
    const decision = decideEligibility({ vendor: product.vendor, model: product.model, ids: claim.ids, kev: claim.kev, confidence: claim.confidence, intervals: members }, policy);
    tally[decision.reason]++;
    const key = JSON.stringify([decision.eligible, members.map(intervalKey)]);
    const group = byKey.get(key) ?? { eligible: decision.eligible, members, claims: [] };
    group.claims.push([id, claim]);
    byKey.set(key, group);
  }
  // Eligible groups first: their entries come first in the bucket and are trimmed last.
  return [...byKey.entries()]
    .sort((a, b) => Number(b[1].eligible) - Number(a[1].eligible) || compareText(a[0], b[0]))
    .map(([, g]) => {
      const fixed = [...new Set(g.claims.flatMap(([, c]) => [...c.fixed]))].sort((a, b) => compareVersions(a, b) || compareText(a, b));
      const scores = g.claims.map(([, c]) => c.cvss).filter((c) => c !== null);
      return {
        product,
        eligible: g.eligible,
        advisories: g.claims.map(([id]) => id).sort(compareText),
        members: g.members,
        kev: g.claims.some(([, c]) => c.kev),
        cvss10: scores.length === 0 ? null : Math.round(Math.max(...scores) * 10),
        // The newest fixes are the ones an owner should install: keep the highest 8.
        fixed: fixed.slice(-MAX_RECORD_FIXED),
        urls: g.claims.flatMap(([, c]) => c.urls),
      };
    });
}

/** The canonical aliases of a canonical vendor in the maintained table (vendor-aliases.ts). */
export function tableVendorAliases(vendor: string): string[] {
  return vendorAliasesOf(vendor);
}

function namesOf(product: Product, policy: PublisherPolicy, options: PublishOptions): { vendors: string[]; models: string[] } {
  const vendors = [product.vendor, ...[...new Set([...(policy.vendorAliases.get(product.vendor) ?? []), ...(options.vendorAliasesOf ?? tableVendorAliases)(product.vendor)])].filter((v) => v !== product.vendor).sort(compareText)];
  const models = [product.model, ...[...new Set(policy.modelAliases.get(modelKey(product.vendor, product.model)) ?? [])].filter((m) => m !== product.model).sort(compareText)];
  return { vendors, models };
}

const utf8 = new TextEncoder();

/** Encoded size of a CBOR text string: its head (RFC 8949 §3: 1, 2, 3 or 5 bytes) and UTF-8 bytes. */
function textBytes(text: string): number {
  const n = utf8.encode(text).byteLength;
  return n + (n < 24 ? 1 : n < 256 ? 2 : n < 65_536 ? 3 : 5);
}

/**
 * Splits a group's members into records for one (vendor, model) name. `unnamedBytes` caches, per
 * advisory list, the payload size with no members and empty names, shared by all of a group's
 * names: a name changes the size only by its own text's.
 */
function buildRecords(group: RecordGroup, names: { vendor: string; model: string }, hosts: string[], options: PublishOptions & { unnamedBytes: Map<string, number> }): FeedRecord[] {
  const records: FeedRecord[] = [];
  const pending = chunk(group.advisories, MAX_RECORD_ADVISORIES);
  for (let advisories = pending.shift(); advisories !== undefined; advisories = pending.shift()) {
    const base = {
      vendor: names.vendor,
      model: names.model,
      hwVersions: group.product.hwVersion === null ? [] : [group.product.hwVersion],
      advisories,
      cvss10: group.cvss10,
      kev: group.kev,
      fixed: group.fixed,
      remediationHosts: hosts,
      eligible: group.eligible,
      feedVersion: options.feedVersion,
      issuedAt: options.issuedAt,
      expiresAt: options.expiresAt,
    };
    const make = (members: readonly Interval[]): FeedRecord => ({ ...base, ranges: { scheme: 0, intervals: members } });
    const key = advisories.join('\n');
    let unnamed = options.unnamedBytes.get(key);
    if (unnamed === undefined) {
      unnamed = encodeFeedRecordPayload({ ...make([]), vendor: '', model: '' }).byteLength;
      options.unnamedBytes.set(key, unnamed);
    }
    const emptyBytes = unnamed - 2 * textBytes('') + textBytes(names.vendor) + textBytes(names.model);
    const packed = packMembers(group.members, (bytes, count) => signedSize(withMembers(emptyBytes, bytes, count)) <= MAX_FEED_RECORD_BYTES);
    if (packed.dropped.length > 0) {
      // Too many long advisory ids leave no room: fewer advisories per record, same members.
      if (advisories.length > 1) {
        pending.unshift(advisories.slice(0, advisories.length >> 1), advisories.slice(advisories.length >> 1));
        continue;
      }
      throw new PublishError('TOO_LARGE', `${names.vendor}/${names.model}: a version range of ${advisories[0] ?? '?'} does not fit one 1050-byte record`);
    }
    records.push(...packed.groups.map(make));
  }
  return records;
}

function buildEntries(group: RecordGroup): { entries: BucketEntry[]; droppedMembers: number; droppedFixed: number } {
  const tag = new Uint8Array(BUCKET_TAG_BYTES);
  const chunks = chunk(group.advisories, MAX_ENTRY_ADVISORIES);
  const make = (members: readonly Interval[], advisories: readonly string[], fixed: readonly string[] = []): BucketEntry => ({
    tag,
    eligible: group.eligible,
    kev: group.kev,
    cvss10: group.cvss10,
    hwVersions: group.product.hwVersion === null ? [] : [group.product.hwVersion],
    ranges: { scheme: 0, intervals: members },
    fixed,
    advisories,
  });
  const fitsWith = (advisories: readonly string[]): ((bytes: number, count: number) => boolean) => {
    const emptyBytes = bucketEntryBytes(make([], advisories));
    return (bytes, count) => withMembers(emptyBytes, bytes, count) <= MAX_BUCKET_ENTRY_BYTES;
  };
  // Every advisory of a group affects every member, so any (members, advisories) pairing is true;
  // advisories are dealt round-robin over the member slices, and further entries repeat the first
  // slice until every advisory is listed.
  const widest = chunks.reduce((a, b) => (b.join().length > a.join().length ? b : a), chunks[0] ?? []);
  const packed = packMembers(group.members, fitsWith(widest));
  let single: { groups: Interval[][]; dropped: Interval[] } | undefined;
  if (packed.dropped.length > 0 && widest.length > 1) single = packMembers(packed.dropped, fitsWith([widest[0] ?? '']));
  const slices = [...packed.groups];
  const dropped = single?.dropped ?? packed.dropped;
  const entries: BucketEntry[] = [];
  const n = Math.max(slices.length, chunks.length);
  for (let i = 0; i < n; i++) {
    const advisories = chunks[i % chunks.length] ?? [];
    const members = slices[i % Math.max(slices.length, 1)];
    if (members === undefined) break;
    entries.push(make(members, advisories));
  }
  for (const members of single?.groups ?? []) entries.push(make(members, [group.advisories[0] ?? '']));
  let droppedFixed = 0;
  for (const f of [...group.fixed].reverse()) {
    const k = entries.findIndex((e) => e.fixed.length < MAX_RECORD_FIXED && bucketEntryBytes({ ...e, fixed: [...e.fixed, f] }) <= MAX_BUCKET_ENTRY_BYTES);
    const entry = entries[k];
    if (entry === undefined) droppedFixed++;
    else entries[k] = { ...entry, fixed: [...entry.fixed, f] };
  }
  return { entries, droppedMembers: dropped.length, droppedFixed };
}

interface BucketModel {
  readonly tag: Uint8Array;
  readonly entries: BucketEntry[];
  /** Encoded size of each entry (bucketEntryBytes), computed once: trimming repacks a bucket often. */
  readonly entryBytes: number[];
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0] ?? 0, median: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0 };
}

/** Packs a bucket's entries greedily into pages; returns the entries of each page. */
function packPages(models: readonly BucketModel[], pageFixedBytes: number): BucketEntry[][] {
  const pages: BucketEntry[][] = [[]];
  let bytes = 0;
  for (const model of models) {
    for (const [i, entry] of model.entries.entries()) {
      const size = model.entryBytes[i] ?? bucketEntryBytes(entry);
      const page = pages.at(-1) ?? [];
      const count = page.length + 1;
      // The entries array header grows from 1 to 2 bytes at 24 entries.
      const payload = pageFixedBytes + (count < 24 ? 0 : 1) + bytes + size;
      if (page.length > 0 && signedSize(payload) > MAX_BUCKET_BYTES) {
        pages.push([entry]);
        bytes = size;
      } else {
        page.push(entry);
        bytes += size;
      }
    }
  }
  return pages;
}

/** Priority of a model's last entry (the next one trimming would remove); entries are eligible first. */
function priority(model: BucketModel): number {
  const last = model.entries.at(-1);
  if (last === undefined) return 0;
  return (last.eligible ? 1000 : 0) + (last.kev ? 200 : 0) + (last.cvss10 ?? 0);
}

/**
 * Decides and builds every document of one feed version from the imported rows (docs/feed.md):
 * records per (vendor alias, model alias, hardware version, eligibility, affected set), split to
 * fit 1050 bytes, and the pages of all 4096 buckets.
 * @example const plan = planFeed(store, { policy, feedVersion: 7, issuedAt: now, expiresAt: now + 7 * 86400 });
 */
export function planFeed(reader: FeedReader, options: PublishOptions): FeedPlan {
  if (!Number.isSafeInteger(options.feedVersion) || options.feedVersion < 0) throw new PublishError('BAD_OPTIONS', `feed version ${options.feedVersion}: expected an unsigned integer`);
  if (!(options.expiresAt > options.issuedAt)) throw new PublishError('BAD_OPTIONS', `expires at ${options.expiresAt}: must be after issued at ${options.issuedAt}`);
  const { policy } = options;
  const collected = collectProducts(reader, policy);
  const eligibility: Record<EligibilityReason, number> = { denied: 0, reviewed: 0, 'kev-bounded': 0, 'not-kev': 0, unbounded: 0, 'low-confidence': 0 };
  const records: FeedRecord[] = [];
  const bucketModels = new Map<number, Map<string, BucketModel>>();
  let aliasRecords = 0;
  let splitGroups = 0;
  let splitRecords = 0;
  let droppedEntryMembers = 0;
  let droppedEntryFixed = 0;
  const productList = [...collected.products.entries()].sort((a, b) => compareText(a[0], b[0])).map(([, p]) => p);
  const nameOptions: PublishOptions = { ...options, vendorAliasesOf: options.vendorAliasesOf ?? reader.vendorAliases?.bind(reader) ?? tableVendorAliases };
  for (const product of productList) {
    const names = namesOf(product, policy, nameOptions);
    // Each published name of the product, vendor-major, with its bucket tag and index.
    const placements = names.vendors.flatMap((vendor) =>
      names.models.map((model) => {
        const hash = modelHash(vendor, model);
        return { vendor, model, tag: bucketTag(hash), index: bucketIndex(bucketPrefix(hash)) };
      }),
    );
    const configured = policy.updateHosts.get(product.vendor) ?? [];
    for (const group of groupProduct(product, policy, eligibility)) {
      const hosts = chooseRemediationHosts(configured, group.urls);
      const built = buildEntries(group);
      // The tag is the only difference between a name's entries, and it always has 6 bytes.
      const builtBytes = built.entries.map(bucketEntryBytes);
      droppedEntryMembers += built.droppedMembers * names.vendors.length * names.models.length;
      droppedEntryFixed += built.droppedFixed * names.vendors.length * names.models.length;
      const recordOptions = { ...options, unnamedBytes: new Map<string, number>() };
      for (const { vendor, model, tag, index } of placements) {
        const made = buildRecords(group, { vendor, model }, hosts, recordOptions);
        records.push(...made);
        if (vendor !== product.vendor || model !== product.model) aliasRecords += made.length;
        if (made.length > 1) {
          splitGroups++;
          splitRecords += made.length;
        }
        const models = bucketModels.get(index) ?? new Map<string, BucketModel>();
        bucketModels.set(index, models);
        const key = `${vendor}\0${model}`;
        const entry = models.get(key) ?? { tag, entries: [], entryBytes: [] };
        entry.entries.push(...built.entries.map((e) => ({ ...e, tag })));
        entry.entryBytes.push(...builtBytes);
        models.set(key, entry);
      }
    }
  }

  const emptyPage: Bucket = { feedVersion: options.feedVersion, prefix: prefixOfBucket(0), page: 0, pages: 1, issuedAt: options.issuedAt, expiresAt: options.expiresAt, entries: [] };
  const pageFixedBytes = encodeBucketPayload(emptyPage).byteLength;
  const buckets: Bucket[][] = [];
  const modelCounts: number[] = [];
  const entryCounts: number[] = [];
  const pagesHistogram: Record<number, number> = {};
  let overflowModels = 0;
  let overflowEntries = 0;
  let entries = 0;
  let pageCount = 0;
  for (let index = 0; index < BUCKET_COUNT; index++) {
    // Deterministic order: by tag bytes (the order is no secret: every device of the bucket gets every page).
    let models = [...(bucketModels.get(index)?.values() ?? [])].sort((a, b) => compareBytes(a.tag, b.tag));
    let pages = packPages(models, pageFixedBytes);
    while (pages.length > MAX_BUCKET_PAGES) {
      // Leave out the least important entry (warn-only before eligible, then not KEV, lowest
      // CVSS) of the model with the most entries: a missed warning or FAIL, never a wrong one.
      const victim = models.reduce((a, b) => {
        const d = priority(b) - priority(a);
        return d < 0 || (d === 0 && b.entries.length > a.entries.length) ? b : a;
      });
      victim.entries.pop();
      victim.entryBytes.pop();
      overflowEntries++;
      if (victim.entries.length === 0) {
        models = models.filter((m) => m !== victim);
        overflowModels++;
      }
      pages = packPages(models, pageFixedBytes);
    }
    const prefix = prefixOfBucket(index);
    buckets.push(pages.map((pageEntries, page) => ({ ...emptyPage, prefix, page, pages: pages.length, entries: pageEntries })));
    modelCounts.push(models.length);
    const n = models.reduce((s, m) => s + m.entries.length, 0);
    entryCounts.push(n);
    entries += n;
    pageCount += pages.length;
    pagesHistogram[pages.length] = (pagesHistogram[pages.length] ?? 0) + 1;
  }
  return {
    feedVersion: options.feedVersion,
    issuedAt: options.issuedAt,
    expiresAt: options.expiresAt,
    records,
    buckets,
    report: {
      rows: collected.rows,
      withdrawnRows: collected.withdrawnRows,
      products: productList.length,
      records: records.length,
      eligibleRecords: records.filter((r) => r.eligible).length,
      aliasRecords,
      splitGroups,
      splitRecords,
      eligibility,
      buckets: BUCKET_COUNT,
      pages: pageCount,
      entries,
      modelsPerBucket: distribution(modelCounts),
      entriesPerBucket: distribution(entryCounts),
      pagesHistogram,
      droppedEntryMembers,
      droppedEntryFixed,
      overflowModels,
      overflowEntries,
    },
  };
}

/**
 * Signs every record and page of a plan with the feed key. Throws `ProtocolError('TOO_LARGE')` if
 * a document exceeds its limit (a publisher bug: {@link planFeed} sizes every document).
 */
export function signFeedPlan(key: PrivateKey, plan: FeedPlan): SignedFeed {
  return {
    records: plan.records.map((r) => encodeCbor(signFeedRecord(key, r))),
    pages: plan.buckets.flatMap((pages) => pages.map((p) => encodeCbor(signBucket(key, p)))),
  };
}
