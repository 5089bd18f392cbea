/**
 * The demo's devices: real models and firmware builds from the records in vectors/feeds/, each
 * with the status the real collector and acceptance rule reach with the demo feed (setup.ts) and
 * the default policy; catalog.test.ts checks every entry against a live collector.
 * @module
 */
import type { DemoDevice } from './types.ts';

/** A catalog entry before it is named: `slug` names the model, devices add `-N`. */
interface CatalogEntry extends Omit<DemoDevice, 'name'> {
  /** `[a-z0-9-]{1,18}`, one per model. */
  readonly slug: string;
}

/** Most devices {@link demoDevices} makes: keeps names within 24 characters (18 + `-` + 5 digits). */
export const MAX_DEMO_DEVICES = 10_000;

// Statuses: identified devices get the collector's verdict; private devices decide from their
// bucket page, where a model the feed does not list reads as PASS with basis MODEL_MISMATCH
// ([P-8.5-7]: no entry for its tag), so UNKNOWN is only reached in identified mode.
const ENTRIES: readonly CatalogEntry[] = [
  {
    slug: 'archer-ax21',
    vendor: 'TP-Link',
    model: 'Archer AX21',
    firmware: '1.1.3',
    mode: 'identified',
    expected: 'fail',
    why: 'CVE-2023-1389 (NVD, before 1.1.4), in CISA KEV: reviewed by the demo publisher',
    fixedFirmware: '1.1.4',
  },
  {
    slug: 'nuuo-nvrmini',
    vendor: 'NUUO',
    model: 'NVRmini',
    firmware: '2016',
    mode: 'private',
    expected: 'fail',
    why: 'CVE-2018-14933 (NVD, exactly 2016), in CISA KEV',
  },
  {
    slug: 'dir-859',
    vendor: 'D-Link',
    model: 'DIR-859',
    hardwareVersion: 'A1',
    firmware: '1.05B03',
    mode: 'identified',
    expected: 'warn',
    why: 'CVE-2019-17621 (NVD, up to 1.05B03), not in the KEV excerpt: warn only',
  },
  {
    slug: 'fritzbox-7590',
    vendor: 'AVM',
    model: 'FRITZ!Box 7590',
    firmware: '7.57',
    mode: 'identified',
    expected: 'unknown',
    why: 'no advisory for this model in the feed',
  },
  {
    slug: 'archer-ax21',
    vendor: 'TP-Link',
    model: 'Archer AX21',
    firmware: '1.1.3',
    mode: 'private',
    expected: 'fail',
    why: 'CVE-2023-1389 (NVD, before 1.1.4), in CISA KEV: reviewed by the demo publisher',
    fixedFirmware: '1.1.4',
  },
  {
    slug: 'dir-859',
    vendor: 'D-Link',
    model: 'DIR-859',
    hardwareVersion: 'A1',
    firmware: '1.06B01',
    mode: 'private',
    expected: 'pass',
    why: 'after CVE-2019-17621 (NVD, up to 1.05B03): not affected',
  },
  {
    slug: 'hikvision-2cd2026',
    vendor: 'Hikvision',
    model: 'DS-2CD2026G2-IU/SL',
    firmware: '5.5.800',
    mode: 'private',
    expected: 'warn',
    why: 'CVE-2021-36260 (NVD, every version: low confidence), not in the KEV excerpt',
  },
  {
    slug: 'nuuo-nvrmini',
    vendor: 'NUUO',
    model: 'NVRmini',
    firmware: '2017',
    mode: 'identified',
    expected: 'pass',
    why: 'CVE-2018-14933 (NVD) affects build 2016 only',
  },
  {
    slug: 'nport-5110',
    vendor: 'Moxa',
    model: 'NPort 5110',
    firmware: '2.2',
    mode: 'identified',
    expected: 'warn',
    why: 'CVE-2016-9361 (NVD, up to 2.5), not in the KEV excerpt',
  },
  {
    slug: 'hg532',
    vendor: 'Huawei',
    model: 'HG532',
    firmware: 'V100R001C01B016',
    mode: 'private',
    expected: 'warn',
    why: 'CVE-2017-17215 (NVD, every version: low confidence), not in the KEV excerpt',
  },
  {
    slug: 'dasan-gpon',
    vendor: 'Dasan Networks',
    model: 'GPON Router',
    firmware: '1.0.2',
    mode: 'identified',
    expected: 'warn',
    why: 'CVE-2018-10561 (NVD, every version: low confidence), not in the KEV excerpt',
  },
  {
    slug: 'tbk-dvr4104',
    vendor: 'TBK Vision',
    model: 'TBK-DVR4104',
    firmware: '2.0.1',
    mode: 'private',
    expected: 'warn',
    why: 'CVE-2018-9995 (NVD, every version: low confidence), not in the KEV excerpt',
  },
  {
    slug: 'nport-5110',
    vendor: 'Moxa',
    model: 'NPort 5110',
    firmware: '2.6',
    mode: 'private',
    expected: 'pass',
    why: 'after CVE-2016-9361 (NVD, up to 2.5): not affected',
  },
  {
    slug: 'nuuo-nvrmini2',
    vendor: 'NUUO',
    model: 'NVRmini2',
    firmware: '3.11.0',
    mode: 'identified',
    expected: 'unknown',
    why: 'CISA KEV names CVE-2022-23227, but no record gives its models or versions',
  },
  {
    slug: 'archer-ax21',
    vendor: 'TP-Link',
    model: 'Archer AX21',
    firmware: '1.1.4',
    mode: 'identified',
    expected: 'pass',
    why: 'the fix of CVE-2023-1389 (NVD, before 1.1.4)',
  },
  {
    slug: 'uniview-nvr301',
    vendor: 'Uniview',
    model: 'NVR301-04S2-P4',
    firmware: 'NVR-B3801.20.15.220127',
    mode: 'identified',
    expected: 'warn',
    why: 'CVE-2024-3850 (CSAF ICSA-24-156-01, before NVR-B3801.20.17.240507), not in KEV',
  },
  {
    slug: 'unifi-ac-lite',
    vendor: 'Ubiquiti',
    model: 'UniFi AP AC Lite',
    firmware: '6.6.55',
    mode: 'identified',
    expected: 'unknown',
    why: 'no advisory for this model in the feed',
  },
  {
    slug: 'nuuo-nvrmini',
    vendor: 'NUUO',
    model: 'NVRmini',
    firmware: '2016',
    mode: 'identified',
    expected: 'fail',
    why: 'CVE-2018-14933 (NVD, exactly 2016), in CISA KEV',
  },
  {
    slug: 'dir-859',
    vendor: 'D-Link',
    model: 'DIR-859',
    hardwareVersion: 'A1',
    firmware: '1.06B01',
    mode: 'identified',
    expected: 'pass',
    why: 'after CVE-2019-17621 (NVD, up to 1.05B03): not affected',
  },
  {
    slug: 'fritzbox-7590',
    vendor: 'AVM',
    model: 'FRITZ!Box 7590',
    firmware: '7.57',
    mode: 'private',
    expected: 'pass',
    why: 'no advisory for this model: its bucket page says nothing against it',
  },
];

function named(entries: readonly CatalogEntry[], count: number): DemoDevice[] {
  const seen = new Map<string, number>();
  const out: DemoDevice[] = [];
  for (let i = 0; i < count; i += 1) {
    const entry = entries[i % entries.length];
    if (entry === undefined) throw new RangeError('demo catalog: empty');
    const n = (seen.get(entry.slug) ?? 0) + 1;
    seen.set(entry.slug, n);
    const { slug, ...device } = entry;
    out.push(Object.freeze({ name: `${slug}-${String(n)}`, ...device }));
  }
  return out;
}

/**
 * Every demo device once, named as {@link demoDevices} names the first cycle: vulnerable, patched
 * and unknown builds of real models, in both modes.
 */
export const DEMO_CATALOG: readonly DemoDevice[] = Object.freeze(named(ENTRIES, ENTRIES.length));

/**
 * `count` demo devices with unique names (`archer-ax21-1`, …), cycling through the catalog: any
 * count ≥ 8 has a FAIL, PASS, WARN and UNKNOWN, both modes and two FAIL devices with a fixed build;
 * any count ≥ 20 has at least 8 models. Throws `RangeError` outside 1..{@link MAX_DEMO_DEVICES}.
 * @example demoDevices(20).map((d) => d.name)
 */
export function demoDevices(count: number): DemoDevice[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEMO_DEVICES) throw new RangeError(`demoDevices: count must be a whole number 1..${String(MAX_DEMO_DEVICES)}, got ${String(count)}`);
  return named(ENTRIES, count);
}
