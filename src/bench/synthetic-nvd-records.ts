/**
 * Synthetic NVD CVE API 2.0 records for benchmarks: a seeded PRNG and plain functions from
 * (seed, index) to CVE objects and page text, with the configuration shapes real IoT records
 * have. Pure: no I/O, no clock; the same seed always gives the same bytes.
 * @module
 */
import { createRng, type Rng } from '../testing/prng.ts';

export { createRng, type Rng };

/** Records per page, as the NVD API 2.0 returns at most (resultsPerPage ≤ 2,000). */
export const NVD_PAGE_SIZE = 2000;

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new RangeError('pick: empty list');
  return item;
}

function int(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** Device vendors and the shape of their model names (prefixes, as in NVD hardware CPEs). */
const DEVICE_VENDORS: readonly { vendor: string; prefixes: readonly string[]; os?: string }[] = [
  { vendor: 'dlink', prefixes: ['dir-', 'dns-', 'dcs-', 'dsl-', 'dap-', 'dwr-'] },
  { vendor: 'tp-link', prefixes: ['archer_c', 'tl-wr', 'tl-wa', 'deco_m', 're'] },
  { vendor: 'netgear', prefixes: ['r', 'rax', 'wnr', 'ex', 'rbr', 'xr'] },
  { vendor: 'hikvision', prefixes: ['ds-2cd', 'ds-7', 'ds-96', 'ids-2cd'] },
  { vendor: 'dahuasecurity', prefixes: ['ipc-hdw', 'ipc-hfw', 'nvr', 'xvr', 'ipc-hx5'] },
  { vendor: 'zyxel', prefixes: ['nas', 'usg', 'nbg', 'vmg', 'atp'] },
  { vendor: 'mikrotik', prefixes: ['rb', 'ccr', 'crs', 'hap_ac'], os: 'routeros' },
  { vendor: 'synology', prefixes: ['ds', 'rs', 'rt'], os: 'diskstation_manager' },
  { vendor: 'qnap', prefixes: ['ts-', 'tvs-', 'ts-x'], os: 'qts' },
  { vendor: 'tenda', prefixes: ['ac', 'f', 'fh', 'w', 'tx'] },
  { vendor: 'asus', prefixes: ['rt-ac', 'rt-ax', 'gt-ax', 'zenwifi_'] },
  { vendor: 'linksys', prefixes: ['wrt', 'ea', 'e', 'velop_'] },
  { vendor: 'ubiquiti', prefixes: ['unifi_', 'edgerouter_', 'airmax_'] },
  { vendor: 'siemens', prefixes: ['simatic_s7-', 'scalance_x', 'ruggedcom_rox'] },
  { vendor: 'schneider-electric', prefixes: ['modicon_m', 'powerlogic_', 'easergy_'] },
  { vendor: 'hp', prefixes: ['laserjet_pro_m', 'officejet_', 'pagewide_'] },
  { vendor: 'axis', prefixes: ['m30', 'p14', 'q60'] },
  { vendor: 'trendnet', prefixes: ['tew-', 'tv-ip'] },
  { vendor: 'totolink', prefixes: ['a', 'n', 'x'] },
  { vendor: 'cisco', prefixes: ['rv', 'wap', 'sg'] },
];

const APP_PRODUCTS: readonly [string, string][] = [
  ['microsoft', 'windows_10'], ['google', 'chrome'], ['mozilla', 'firefox'], ['apache', 'http_server'],
  ['wordpress', 'wordpress'], ['oracle', 'mysql'], ['linux', 'linux_kernel'], ['adobe', 'acrobat_reader'],
  ['jenkins', 'jenkins'], ['gitlab', 'gitlab'], ['php', 'php'], ['openssl', 'openssl'],
];

function firmwareVersion(rng: Rng): string {
  switch (int(rng, 0, 5)) {
    case 0:
      return `${int(rng, 1, 3)}.${int(rng, 0, 9)}${int(rng, 0, 9)}b${String(int(rng, 1, 20)).padStart(2, '0')}`; // 2.60b02
    case 1:
      return `v${int(rng, 1, 5)}.${int(rng, 0, 9)}.${int(rng, 0, 9)}_build_${int(rng, 150101, 241231)}`;
    case 2:
      return `${int(rng, 6, 7)}.${int(rng, 30, 49)}${rng() < 0.2 ? `rc${int(rng, 1, 5)}` : `.${int(rng, 1, 9)}`}`; // 6.43rc3
    case 3:
      return `${int(rng, 1, 7)}.${int(rng, 0, 2)}.${int(rng, 0, 6)}-${int(rng, 20000, 69999)}`; // 7.1.1-42962
    default:
      return `${int(rng, 1, 4)}.${int(rng, 0, 9)}.${int(rng, 0, 9)}.${int(rng, 0, 99)}`;
  }
}

function modelsOf(rng: Rng, vendorIndex: number, count: number): string[] {
  const vendor = DEVICE_VENDORS[vendorIndex];
  if (vendor === undefined) throw new RangeError(`vendor index ${vendorIndex}`);
  const out = new Set<string>();
  while (out.size < count) {
    // ~400 numbers × prefixes × optional suffix: some 20,000 distinct models over all vendors.
    const suffix = rng() < 0.25 ? pick(rng, ['l', 'plus', '_v2', 'x', 'ac', 'p']) : '';
    out.add(`${pick(rng, vendor.prefixes)}${int(rng, 100, 500)}${suffix}`);
  }
  return [...out];
}

function uuid(rng: Rng): string {
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rng() * 16).toString(16)).join('').toUpperCase();
  return `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
}

type CpeMatch = Record<string, unknown>;

function cpe(part: 'o' | 'h' | 'a', vendor: string, product: string, version: string): string {
  return `cpe:2.3:${part}:${vendor}:${product}:${version}:*:*:*:*:*:*:*`;
}

function rangeMatch(rng: Rng, criteria: string): CpeMatch {
  const m: CpeMatch = { vulnerable: true, criteria, matchCriteriaId: uuid(rng) };
  const r = rng();
  if (r < 0.5) m.versionEndExcluding = firmwareVersion(rng);
  else if (r < 0.75) m.versionEndIncluding = firmwareVersion(rng);
  else {
    m.versionStartIncluding = firmwareVersion(rng);
    m.versionEndExcluding = firmwareVersion(rng);
  }
  return m;
}

function orNode(cpeMatch: CpeMatch[]): Record<string, unknown> {
  return { operator: 'OR', negate: false, cpeMatch };
}

/** The configurations of a device CVE, in one of the shapes NVD uses for IoT records. */
function deviceConfigurations(rng: Rng): unknown[] {
  const vendorIndex = int(rng, 0, DEVICE_VENDORS.length - 1);
  const v = DEVICE_VENDORS[vendorIndex] ?? { vendor: 'dlink', prefixes: ['dir-'] };
  const models = modelsOf(rng, vendorIndex, int(rng, 1, rng() < 0.2 ? 12 : 4));
  const shape = rng();
  if (shape < 0.55) {
    // AND(firmware OR …, hardware OR …): one firmware CPE per model, hardware as the platform.
    return models.map((model) => {
      const firmwareProduct = v.os ?? `${model}_firmware`;
      const firmware = rng() < 0.6 ? [rangeMatch(rng, cpe('o', v.vendor, firmwareProduct, '*'))]
        : rng() < 0.5 ? Array.from({ length: int(rng, 1, 5) }, () => ({ vulnerable: true, criteria: cpe('o', v.vendor, firmwareProduct, firmwareVersion(rng)), matchCriteriaId: uuid(rng) }))
          : [{ vulnerable: true, criteria: cpe('o', v.vendor, firmwareProduct, rng() < 0.5 ? '-' : '*'), matchCriteriaId: uuid(rng) }];
      return { operator: 'AND', nodes: [orNode(firmware), orNode([{ vulnerable: false, criteria: cpe('h', v.vendor, model, rng() < 0.8 ? '-' : pick(rng, ['a1', 'b', 'v2'])), matchCriteriaId: uuid(rng) }])] };
    });
  }
  if (shape < 0.75) {
    // One AND: a shared firmware (an OS name) on an OR of several hardware models.
    const firmwareProduct = v.os ?? `${pick(rng, v.prefixes).replace(/[-_]$/, '')}_firmware`;
    return [{ operator: 'AND', nodes: [orNode([rangeMatch(rng, cpe('o', v.vendor, firmwareProduct, '*'))]), orNode(models.map((model) => ({ vulnerable: false, criteria: cpe('h', v.vendor, model, '-'), matchCriteriaId: uuid(rng) })))] }];
  }
  if (shape < 0.9) {
    // Firmware CPEs only, no hardware node (`<model>_firmware`), ranges or exact versions.
    return [{ nodes: [orNode(models.map((model) => (rng() < 0.5 ? rangeMatch(rng, cpe('o', v.vendor, `${model}_firmware`, '*')) : { vulnerable: true, criteria: cpe('o', v.vendor, `${model}_firmware`, firmwareVersion(rng)), matchCriteriaId: uuid(rng) })))] }];
  }
  // Vulnerable hardware CPEs on their own, every version.
  return [{ nodes: [orNode(models.map((model) => ({ vulnerable: true, criteria: cpe('h', v.vendor, model, '-'), matchCriteriaId: uuid(rng) })))] }];
}

function appConfigurations(rng: Rng): unknown[] {
  const [vendor, product] = pick(rng, APP_PRODUCTS);
  return [{ nodes: [orNode([rng() < 0.7 ? rangeMatch(rng, cpe('a', vendor, product, '*')) : { vulnerable: true, criteria: cpe('a', vendor, product, `${int(rng, 1, 120)}.${int(rng, 0, 9)}`), matchCriteriaId: uuid(rng) }])] }];
}

/** Share of records that name devices; the rest are application-only, as in the real NVD (~80 %). */
export const DEVICE_SHARE = 0.22;

/**
 * CVE number `index` of a dataset seeded with `seed`: an NVD 2.0 CVE object. Each record has its
 * own PRNG stream, so any page can be produced alone.
 */
export function syntheticCve(seed: number, index: number): Record<string, unknown> {
  const rng = createRng((seed * 0x9e3779b1) ^ (index * 0x85ebca6b));
  const year = 2002 + (index % 23);
  const published = `${year}-${String(int(rng, 1, 12)).padStart(2, '0')}-${String(int(rng, 1, 28)).padStart(2, '0')}T${String(int(rng, 0, 23)).padStart(2, '0')}:15:10.000`;
  const device = rng() < DEVICE_SHARE;
  const score = Math.round((rng() * 9 + 1) * 10) / 10;
  return {
    id: `CVE-${year}-${String(10000 + index).padStart(5, '0')}`,
    sourceIdentifier: 'cve@mitre.org',
    published,
    lastModified: `${year + 1}-06-01T00:00:00.000`,
    vulnStatus: 'Analyzed',
    cveTags: [],
    descriptions: [{ lang: 'en', value: `Synthetic record ${index}: ${device ? 'a command injection in the web interface of a device' : 'a flaw in an application'}, for benchmarks only.` }],
    metrics: { cvssMetricV31: [{ source: 'nvd@nist.gov', type: 'Primary', cvssData: { version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', baseScore: score, baseSeverity: score >= 9 ? 'CRITICAL' : score >= 7 ? 'HIGH' : 'MEDIUM' }, exploitabilityScore: 3.9, impactScore: 5.9 }] },
    weaknesses: [{ source: 'nvd@nist.gov', type: 'Primary', description: [{ lang: 'en', value: 'CWE-78' }] }],
    configurations: device ? deviceConfigurations(rng) : appConfigurations(rng),
    references: [{ url: `https://example.com/advisories/${index}`, source: 'cve@mitre.org', tags: device && rng() < 0.5 ? ['Vendor Advisory'] : ['Third Party Advisory'] }],
  };
}

/** The text of one NVD API 2.0 response page: records `startIndex` … of a dataset of `total`. */
export function syntheticPage(seed: number, options: { startIndex: number; total: number }): string {
  const count = Math.min(NVD_PAGE_SIZE, options.total - options.startIndex);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(JSON.stringify({ cve: syntheticCve(seed, options.startIndex + i) }));
  const header = { resultsPerPage: count, startIndex: options.startIndex, totalResults: options.total, format: 'NVD_CVE', version: '2.0', timestamp: '2025-01-01T00:00:00.000' };
  return `${JSON.stringify(header).slice(0, -1)},"vulnerabilities":[\n${parts.join(',\n')}\n]}\n`;
}
