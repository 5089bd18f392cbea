/**
 * One OSV record (https://ossf.github.io/osv-schema/) → one Advisory, keeping only packages that
 * name a device (vendor + model); software-only records are `NOT_A_DEVICE`.
 * @module
 */
import type { Interval } from '../protocol/index.ts';
import {
  asArray,
  asObject,
  asString,
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
import { assertVersion, exactIntervals } from './version-intervals.ts';

/**
 * The device mapping rule. OSV ecosystems (npm, PyPI, Debian, OSS-Fuzz, Linux …) name software
 * packages, never a device model, so an ecosystem alone never maps. A package maps to a device
 * only through its purl `pkg:generic/<vendor>/<model>` (purl-spec: the generic type with a
 * namespace): vendor = the namespace, model = the name, both percent-decoded. Anything else is
 * skipped; a record with no mapped package is `NOT_A_DEVICE`.
 */
const GENERIC_PURL = /^pkg:generic\/([^/@?#]+)\/([^/@?#]+)(?:@[^?#]*)?(?:[?#].*)?$/;

function deviceOf(pkg: JsonObject, where: RecordLocation, path: string): { vendor: string; model: string; purl: string } | null {
  const purl = optionalString(pkg.purl, where, `${path}.purl`);
  const m = purl === null ? null : GENERIC_PURL.exec(purl);
  if (purl === null || m === null) return null;
  try {
    return { vendor: decodeURIComponent(m[1] ?? ''), model: decodeURIComponent(m[2] ?? ''), purl };
  } catch {
    throw new FeedError('BAD_RECORD', where, `${path}.purl: bad percent-encoding`);
  }
}

// OSV severity: CVSS vectors carry no score; a plain number ("7.5", Ubuntu style) does.
const NUMERIC_SCORE = /^(10(\.0+)?|\d(\.\d+)?)$/;

function scoreOf(record: JsonObject, where: RecordLocation): number | null {
  const scores: number[] = [];
  optionalArray(record.severity, where, '$.severity').forEach((s, n) => {
    const score = optionalString(asObject(s, where, `$.severity[${n}]`).score, where, `$.severity[${n}].score`);
    if (score !== null && NUMERIC_SCORE.test(score)) scores.push(Number(score));
  });
  const specific = record.database_specific;
  if (isJsonObject(specific)) {
    for (const value of [specific.cvss, specific.severity]) {
      if (typeof value === 'number' && value >= 0 && value <= 10) scores.push(value);
      if (isJsonObject(value) && typeof value.score === 'number' && value.score >= 0 && value.score <= 10) scores.push(value.score);
    }
  }
  return scores.length === 0 ? null : Math.max(...scores);
}

function rangeIntervals(range: JsonObject, where: RecordLocation, path: string): { intervals: Interval[]; fixed: string[] } {
  const intervals: Interval[] = [];
  const fixed: string[] = [];
  // OSV §affected[].ranges[].events: introduced opens [v, …); fixed closes exclusive; last_affected
  // closes inclusive; introduced "0" is unbounded below. `limit` only bounds GIT walks.
  let open: string | null | undefined;
  asArray(range.events, where, `${path}.events`).forEach((e, k) => {
    const p = `${path}.events[${k}]`;
    const event = asObject(e, where, p);
    if (event.introduced !== undefined) {
      const v = assertVersion(asString(event.introduced, where, `${p}.introduced`), where, `${p}.introduced`);
      open = v === '0' ? null : v;
    } else if (event.fixed !== undefined || event.last_affected !== undefined) {
      const inclusive = event.fixed === undefined;
      const key = inclusive ? 'last_affected' : 'fixed';
      const v = assertVersion(asString(event[key], where, `${p}.${key}`), where, `${p}.${key}`);
      if (!inclusive) fixed.push(v);
      intervals.push({ kind: 'range', lower: open ?? null, lowerInclusive: open !== undefined && open !== null, upper: v, upperInclusive: inclusive });
      open = undefined;
    }
  });
  if (open !== undefined) intervals.push({ kind: 'range', lower: open, lowerInclusive: open !== null, upper: null, upperInclusive: false });
  return { intervals, fixed };
}

function productOf(item: unknown, where: RecordLocation, path: string): AffectedProduct | null {
  const affected = asObject(item, where, path);
  const pkg = affected.package === undefined ? null : asObject(affected.package, where, `${path}.package`);
  const device = pkg === null ? null : deviceOf(pkg, where, `${path}.package`);
  if (device === null) return null;
  const intervals: Interval[] = [];
  const fixed: string[] = [];
  let gitSkipped = 0;
  optionalArray(affected.ranges, where, `${path}.ranges`).forEach((r, n) => {
    const p = `${path}.ranges[${n}]`;
    const range = asObject(r, where, p);
    const type = asString(range.type, where, `${p}.type`);
    // GIT ranges are commit hashes: they cannot be evaluated against a firmware version.
    if (type === 'GIT') {
      gitSkipped += 1;
      return;
    }
    const parsed = rangeIntervals(range, where, p);
    intervals.push(...parsed.intervals);
    fixed.push(...parsed.fixed);
  });
  // `versions` enumerates what the ranges cover; it is the only statement when every range is GIT.
  const versions = optionalArray(affected.versions, where, `${path}.versions`).map((v, k) =>
    assertVersion(asString(v, where, `${path}.versions[${k}]`), where, `${path}.versions[${k}]`));
  if (intervals.length === 0) intervals.push(...exactIntervals(versions));
  return {
    vendor: toVendorKey(device.vendor, where, `${path}.package.purl`),
    model: toNameKey(device.model, where, `${path}.package.purl`),
    hwVersion: null,
    intervals,
    fixed: [...new Set(fixed)],
    confidence: intervals.length > 0 ? 'high' : 'low',
    reason: `osv ${device.purl}${gitSkipped > 0 ? `; ${gitSkipped} GIT range(s) skipped` : ''}`,
  };
}

/**
 * Parses one OSV record: id, aliases, published, a numeric score if any (vectors are not scored),
 * and one row per device package (see the mapping rule above). Throws `FeedError('NOT_A_DEVICE')`
 * when no package names a device, `BAD_RECORD`/`BAD_VERSION` naming the JSON path otherwise.
 * @example parseOsvRecord(record, { file, record: 'OSV-2024-1' }).products[0].vendor
 */
export function parseOsvRecord(value: unknown, where: RecordLocation): Advisory {
  const record = asObject(value, where, '$');
  const id = asString(record.id, where, '$.id');
  const here: RecordLocation = { file: where.file, record: id };
  // OSV 1.7 `upstream`: the ids this record derives from (a distribution's record names its CVE
  // only there); counted as aliases so a CVE's KEV entry and other sources join it.
  const direct = optionalArray(record.aliases, here, '$.aliases').map((a, k) => asString(a, here, `$.aliases[${k}]`));
  const upstream = optionalArray(record.upstream, here, '$.upstream').map((a, k) => asString(a, here, `$.upstream[${k}]`));
  const aliases = [...new Set([...direct, ...upstream])];
  const products = optionalArray(record.affected, here, '$.affected')
    .map((item, n) => productOf(item, here, `$.affected[${n}]`))
    .filter((p): p is AffectedProduct => p !== null);
  if (products.length === 0) throw new FeedError('NOT_A_DEVICE', here, '$.affected: no package names a device (pkg:generic/<vendor>/<model>)');
  return {
    source: 'osv',
    id,
    aliases,
    cvss: scoreOf(record, here),
    published: optionalIsoDate(record.published, here, '$.published'),
    products,
    remediationUrls: [],
  };
}
