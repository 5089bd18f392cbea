/**
 * The matcher: decides whether a device identity (vendor, model, hardware revision, firmware
 * version, optional CPE) is vulnerable according to a FeedReader, and explains each match.
 * Pure: the reader is the only input, and nothing here does I/O.
 * @module
 */
import {
  canonicalName,
  compareTokenLists,
  compareVersions,
  compareVersionTokens,
  exactVersions,
  rangeContains,
  tokenizeVersion,
  VERSION_SCHEME,
  type Interval,
  type VersionToken,
} from '../protocol/index.ts';
import { cpeText, parseCpe } from './cpe.ts';
import type { Confidence, FeedReader, FeedSource, ProductMatchRow } from './types.ts';

/** What a device says about itself; names in any spelling (they are canonicalised here). */
export interface DeviceIdentity {
  readonly vendor: string;
  readonly model: string;
  /** Software/firmware version as the device reports it. */
  readonly version: string;
  readonly hwVersion?: string;
  /** A CPE 2.3 formatted string for the device (hardware or firmware), another identity to look up. */
  readonly cpe?: string;
  /**
   * The device's software name (EAT swname: `RouterOS`, `DSM`, `QTS`). Advisories that name only an
   * operating system (NVD `o:mikrotik:routeros` with no hardware) are filed under that name; they
   * apply to a device only when it says it runs that software.
   */
  readonly software?: string;
}

/** The verdict: `unknown` when the feed has no row at all for any identity of the device. */
export type MatchStatus = 'vulnerable' | 'not-vulnerable' | 'unknown';

/** One advisory that applies to the device, merged across sources (the `tattler check --json` shape). */
export interface Match {
  /** The CVE id when the advisory has one (its id or an alias), else the source's id. */
  readonly id: string;
  /** The source whose row decided the match (highest confidence, then csaf, nvd, osv, kev). */
  readonly source: FeedSource;
  readonly kev: boolean;
  /** Highest CVSS base score over the sources, or null. */
  readonly cvss: number | null;
  /** Fixed versions named by any source for this product, ascending. */
  readonly fixed: readonly string[];
  readonly confidence: Confidence;
  readonly reason: string;
}

/** The answer for one device: status and the matches, KEV first, then CVSS descending. */
export interface MatchResult {
  readonly status: MatchStatus;
  readonly matches: readonly Match[];
}

// Which source's row is reported when several agree: the vendor's own statement (CSAF) first.
const SOURCE_RANK: Readonly<Record<FeedSource, number>> = { csaf: 0, nvd: 1, osv: 2, kev: 3 };

/**
 * A hardware revision at the end of a model string, with an explicit marker so that no digit is
 * ever split off a name: `TL-WR841N v8`, `DIR-615 rev. H`, `Archer C7 (V5)`, `DCS-930L HW B1`.
 * `NVRmini2` and `DNS-320L` do not match (no separator and marker).
 */
const MODEL_REVISION = /^(.*?[^\s_\-/(])[\s_\-/(]+(?:hw|hardware|rev(?:ision)?|ver(?:sion)?|v)\.?\s*([0-9][0-9a-z.]{0,7}|[a-z][0-9]?)\)?$/i;

/** One (vendor, model) to look up, with the hardware revision the device has under that name. */
interface Probe {
  readonly vendor: string;
  readonly model: string;
  /** The device's hardware revision, null when unknown. */
  readonly hw: string | null;
  /** How this name was derived, for reasons. */
  readonly how: string;
}

function revisionForName(hw: string): string {
  // `8.0` → `8`: product names carry `v8`, not `v8.0`.
  return hw.replace(/(?:\.0+)+$/, '');
}

function modelProbes(vendor: string, model: string, hw: string | null, how: string): Probe[] {
  const probes: Probe[] = [{ vendor, model: canonicalName(model), hw, how }];
  if (hw !== null) {
    // Revision in the product name: NVD `tl-wr841n_v8`, `dir-615_rev_h`. Always with a marker,
    // so model `nvrmini` + revision `2` never becomes `nvrmini2`.
    const rev = revisionForName(hw);
    const marked = /^(?:v|rev)/i.test(rev) ? [rev] : [`v${rev}`, `rev${rev}`, `hw${rev}`];
    for (const m of marked) probes.push({ vendor, model: canonicalName(`${model} ${m}`), hw, how: `${how}, hardware revision in the product name` });
  }
  const split = MODEL_REVISION.exec(model);
  if (split?.[1] !== undefined && split[2] !== undefined) {
    probes.push({ vendor, model: canonicalName(split[1]), hw: hw ?? split[2], how: `${how}, hardware revision ${split[2]} taken from the model string` });
  }
  return probes;
}

interface CpeIdentity {
  readonly vendor: string;
  readonly product: string;
  readonly part: 'a' | 'o' | 'h';
  /** A hardware CPE's version: the hardware revision. */
  readonly hw: string | null;
}

function cpeIdentity(cpe: string): CpeIdentity | null {
  const parsed = parseCpe(cpe, { file: 'device', record: 'cpe', path: 'cpe' });
  const vendor = cpeText(parsed.vendor);
  const product = cpeText(parsed.product);
  if (vendor === null || product === null) return null;
  return { vendor, product, part: parsed.part, hw: parsed.part === 'h' ? cpeText(parsed.version) : null };
}

function cpeProbes(reader: FeedReader, cpe: CpeIdentity, hw: string | null): Probe[] {
  const canonical = reader.canonicalVendor(canonicalName(cpe.vendor));
  if (cpe.part === 'h') return modelProbes(canonical, cpe.product, hw, 'hardware CPE');
  // A firmware CPE names the model as `<model>_firmware` (NVD's habit) or names an OS family.
  const model = cpe.product.replace(/[_\-\s]?firmware$/, '');
  const probes = modelProbes(canonical, model, hw, 'firmware CPE');
  if (model !== cpe.product) probes.push({ vendor: canonical, model: canonicalName(cpe.product), hw, how: 'firmware CPE' });
  return probes;
}

function normaliseRevision(hw: string): string {
  return hw.toLowerCase().replace(/[^a-z0-9.]/g, '').replace(/^(?:hw|hardware|rev(?:ision)?|ver(?:sion)?|v)(?=[0-9a-z])/, '').replace(/(?:\.0+)+$/, '');
}

/**
 * Hardware revisions are names, not versions: `A1` ≠ `B1`, `v2` = `2` = `2.0`, and a record's
 * `Ax` (vendor shorthand for every A revision, as in "Revision Ax") covers `A1`, `A2`.
 */
function isSameRevision(recordHw: string, deviceHw: string): boolean {
  const r = normaliseRevision(recordHw);
  const d = normaliseRevision(deviceHw);
  if (r === d) return true;
  return r.length >= 2 && r.endsWith('x') && d.length >= r.length - 1 && d.startsWith(r.slice(0, -1));
}

function isEveryVersion(interval: Interval): boolean {
  return interval.kind === 'range' && interval.lower === null && interval.upper === null;
}

function describeInterval(interval: Interval): string {
  if (interval.kind !== 'range') return exactVersions(interval).map((v) => `= ${v}`).join(', ');
  const parts: string[] = [];
  if (interval.lower !== null) parts.push(`${interval.lowerInclusive ? '>=' : '>'} ${interval.lower}`);
  if (interval.upper !== null) parts.push(`${interval.upperInclusive ? '<=' : '<'} ${interval.upper}`);
  return parts.length === 0 ? 'every version' : parts.join(', ');
}

function tokensEqualOn(version: readonly VersionToken[], prefix: readonly VersionToken[]): boolean {
  const zero: VersionToken = { kind: 'number', digits: '0' };
  return prefix.every((t, i) => compareVersionTokens(version[i] ?? zero, t) === 0);
}

/**
 * The fixed version on `version`'s own release branch that `version` has reached, if any: a fixed
 * version's branch is its tokens without the last one (`6.40.8` → `6.40`, `6.43rc4` → `6.43rc`).
 * This is how per-branch fixes (6.40.8, 6.42.1, 6.43rc4) keep a patched bugfix-channel release
 * from being flagged by a coarse range such as NVD's `<= 6.42`.
 */
function fixedOnBranch(version: string, fixed: readonly string[], interval: Interval): string | undefined {
  const v = tokenizeVersion(version);
  return fixed.find((f) => {
    const t = tokenizeVersion(f);
    // A branch needs at least two tokens of its own: the branch of `2.0` would be all of 2.x, and
    // a fix there says nothing about a later affected line such as [2.1, 2.3).
    if (t.length < 3) return false;
    // A fix below the interval's own lower bound is an older line's fix, not this one's.
    if (interval.kind === 'range' && interval.lower !== null && compareVersions(f, interval.lower) < 0) return false;
    return tokensEqualOn(v, t.slice(0, -1)) && compareTokenLists(v, t) >= 0;
  });
}

/** A row that applies, before merging across sources. */
interface Hit {
  readonly row: ProductMatchRow;
  readonly confidence: Confidence;
  readonly reason: string;
}

function evaluate(row: ProductMatchRow, probe: Probe, version: string, fixed: readonly string[]): Hit | null {
  const product = row.product;
  const notes: string[] = [];
  let confidence: Confidence = product.confidence;
  if (product.hwVersion !== null) {
    if (probe.hw === null) {
      // Unknown revision: flag, but say that the record is for one revision only.
      confidence = 'low';
      notes.push(`the record is for hardware revision ${product.hwVersion} and the device's revision is unknown`);
    } else if (!isSameRevision(product.hwVersion, probe.hw)) {
      return null;
    } else {
      notes.push(`hardware revision ${probe.hw}`);
    }
  }
  const exact = product.intervals.find((i) => i.kind !== 'range' && rangeContains({ scheme: VERSION_SCHEME.GENERIC, intervals: [i] }, version));
  let versionText: string;
  if (exact !== undefined) {
    versionText = `version ${version} is listed as affected (${describeInterval(exact)})`;
  } else {
    const range = product.intervals.find((i) => i.kind === 'range' && rangeContains({ scheme: VERSION_SCHEME.GENERIC, intervals: [i] }, version));
    if (range === undefined) return null;
    if (fixedOnBranch(version, fixed, range) !== undefined) return null;
    if (isEveryVersion(range)) {
      confidence = 'low';
      versionText = `the source lists every version as affected (no version range), so ${version} is assumed affected`;
    } else {
      versionText = `version ${version} is in ${describeInterval(range)}`;
    }
  }
  const where = `${probe.vendor}/${probe.model}${probe.how === 'model' ? '' : ` (${probe.how})`}`;
  const reason = [versionText, ...notes].join('; ') + `; ${row.provenance.source} ${row.advisory.id} on ${where}: ${product.reason}`;
  return { row, confidence, reason };
}

/** The id matches of different sources are merged under: the CVE id when there is one. */
function mergeKey(row: ProductMatchRow): string {
  const { id, aliases } = row.advisory;
  if (id.startsWith('CVE-')) return id;
  const cves = aliases.filter((a) => a.startsWith('CVE-')).sort();
  return cves[0] ?? id;
}

function uniqueVersions(versions: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of [...versions].sort(compareVersions)) {
    const last = out[out.length - 1];
    if (last === undefined || compareVersions(last, v) !== 0) out.push(v);
  }
  return out;
}

function betterHit(a: Hit, b: Hit): Hit {
  if (a.confidence !== b.confidence) return a.confidence === 'high' ? a : b;
  return SOURCE_RANK[b.row.advisory.source] < SOURCE_RANK[a.row.advisory.source] ? b : a;
}

function compareMatches(a: Match, b: Match): number {
  if (a.kev !== b.kev) return a.kev ? -1 : 1;
  const x = a.cvss ?? -1;
  const y = b.cvss ?? -1;
  if (x !== y) return y - x;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Matches a device against the feed. Names are canonicalised (canonicalName, then the reader's
 * vendor aliases); models compare by exact equality only; rows naming a hardware revision need the
 * device's (else they match with low confidence); the version must lie in the product's intervals
 * and not at or above a fix on its own branch; "every version" rows match with low confidence.
 * Rows of one CVE from several sources merge into one match (kev if any source says so).
 * Throws `ProtocolError('BAD_VALUE')` for a vendor or model with nothing left after
 * canonicalisation and `FeedError('BAD_CPE')` for a CPE that does not parse.
 * @example matchDevice(reader, { vendor: 'D-Link', model: 'DIR-859', version: '1.05B03' }).status // 'vulnerable'
 */
export function matchDevice(reader: FeedReader, device: DeviceIdentity): MatchResult {
  const cpe = device.cpe === undefined ? null : cpeIdentity(device.cpe);
  // The device's own hardware revision, else the one its hardware CPE names.
  const hw = device.hwVersion === undefined || device.hwVersion.trim() === '' ? (cpe?.hw ?? null) : device.hwVersion;
  const probes = modelProbes(reader.canonicalVendor(canonicalName(device.vendor)), device.model, hw, 'model');
  if (cpe !== null) probes.push(...cpeProbes(reader, cpe, hw));
  if (device.software !== undefined && device.software.trim() !== '') {
    const vendor = reader.canonicalVendor(canonicalName(device.vendor));
    probes.push({ vendor, model: canonicalName(device.software), hw, how: `software ${device.software}` });
  }

  // Each (vendor, model) once, with its first probe (the most direct name and the device's own
  // revision); a row lives under exactly one (vendor, model), so no row is seen twice.
  const seenKeys = new Set<string>();
  const found: { row: ProductMatchRow; probe: Probe }[] = [];
  for (const probe of probes) {
    const key = `${probe.vendor}\0${probe.model}`;
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    for (const row of reader.lookup(probe.vendor, probe.model)) found.push({ row, probe });
  }
  if (found.length === 0) return { status: 'unknown', matches: [] };

  const groups = new Map<string, { row: ProductMatchRow; probe: Probe }[]>();
  for (const f of found) {
    const key = mergeKey(f.row);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [f]);
    else group.push(f);
  }

  const matches: Match[] = [];
  for (const [id, group] of groups) {
    // Fixes from every source of this CVE for this device count (NVD gives `<= 6.42`, the vendor 6.40.8).
    const fixed = uniqueVersions(group.flatMap((f) => f.row.product.fixed));
    const hits = group.map((f) => evaluate(f.row, f.probe, device.version, fixed)).filter((h): h is Hit => h !== null);
    const first = hits[0];
    if (first === undefined) continue;
    const best = hits.reduce(betterHit, first);
    const others = [...new Set(hits.map((h) => h.row.advisory.source).filter((s) => s !== best.row.advisory.source))];
    const scores = group.map((f) => f.row.advisory.cvss).filter((s): s is number => s !== null);
    matches.push({
      id,
      source: best.row.advisory.source,
      kev: group.some((f) => f.row.kev),
      cvss: scores.length === 0 ? null : Math.max(...scores),
      fixed,
      confidence: best.confidence,
      reason: others.length === 0 ? best.reason : `${best.reason}; also affected according to ${others.join(', ')}`,
    });
  }
  matches.sort(compareMatches);
  return { status: matches.length === 0 ? 'not-vulnerable' : 'vulnerable', matches };
}
