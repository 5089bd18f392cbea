/**
 * The collector's in-memory view of a verified feed bundle: signed records by (vendor, model)
 * with their exact bytes, bucket pages by bucket index, and the pre-policy verdict lookup.
 * @module
 */
import type { BundleRecord, VerifiedBundle } from '../feed/bundle.ts';
import { compareVersions, rangeContains, type IdentifiedAnnouncement } from '../protocol/index.ts';

/** A verified feed, indexed for answering. */
export interface FeedIndex {
  readonly feedVersion: number;
  /** Seconds since the epoch; at or after it the feed never yields a FAIL ([P-6.1-2]). */
  readonly expiresAt: number;
  /** Records per `vendor\0model`, each with its exact signed (tagged COSE_Sign1) bytes. */
  readonly records: ReadonlyMap<string, readonly BundleRecord[]>;
  /** Signed page bytes of each bucket 0..4095, page 0 first. */
  readonly pages: readonly (readonly Uint8Array[])[];
}

/** The verdict the feed alone gives, before the ISP's policy ([P-6.1-2]). */
export interface FeedMatch {
  readonly status: 'pass' | 'fail' | 'warn' | 'unknown';
  /** Every record that lists the device's hardware and software version, eligible ones first. */
  readonly matches: readonly BundleRecord[];
}

function modelKey(vendor: string, model: string): string {
  return `${vendor}\0${model}`;
}

/**
 * Indexes a verified bundle. The bundle's verification already checked every signature, version
 * and the bucket layout; this only arranges what it returned.
 * @example const index = buildFeedIndex(verified.bundle);
 */
export function buildFeedIndex(bundle: VerifiedBundle): FeedIndex {
  const records = new Map<string, BundleRecord[]>();
  for (const entry of bundle.records) {
    const key = modelKey(entry.record.vendor, entry.record.model);
    const list = records.get(key);
    if (list === undefined) records.set(key, [entry]);
    else list.push(entry);
  }
  return { feedVersion: bundle.manifest.feedVersion, expiresAt: bundle.manifest.expiresAt, records, pages: bundle.pages };
}

/** True when the feed lists records for this canonical vendor and model. */
export function isListedModel(index: FeedIndex, vendor: string, model: string): boolean {
  return index.records.has(modelKey(vendor, model));
}

/** Signed page `page` of bucket `bucket`, or `undefined` when the bucket has no such page. */
export function bucketPage(index: FeedIndex, bucket: number, page: number): Uint8Array | undefined {
  return index.pages[bucket]?.[page];
}

// As the device's acceptance rule checks it (src/protocol/acceptance.ts): a record listing
// hardware versions affects only a device that names one of them.
function hardwareAffected(hwVersions: readonly string[], hwVersion: string | undefined): boolean {
  if (hwVersions.length === 0) return true;
  return hwVersion !== undefined && hwVersions.some((v) => compareVersions(v, hwVersion) === 0);
}

/**
 * The feed's verdict for an identified announcement, before policy ([P-6.1-2]): UNKNOWN when the
 * feed has no record of the vendor and model; FAIL when an eligible record lists the device's
 * hardware and software version; WARN when only non-eligible ones do; PASS otherwise.
 * @example lookupVerdict(index, announcement).status
 */
export function lookupVerdict(index: FeedIndex, announcement: IdentifiedAnnouncement): FeedMatch {
  const records = index.records.get(modelKey(announcement.vendor, announcement.model));
  if (records === undefined) return { status: 'unknown', matches: [] };
  const version = announcement.swVersion.version;
  const hw = announcement.hwVersion?.version;
  const matches = records.filter((r) => hardwareAffected(r.record.hwVersions, hw) && rangeContains(r.record.ranges, version));
  if (matches.length === 0) return { status: 'pass', matches };
  const eligible = matches.filter((r) => r.record.eligible);
  if (eligible.length === 0) return { status: 'warn', matches };
  return { status: 'fail', matches: [...eligible, ...matches.filter((r) => !r.record.eligible)] };
}
