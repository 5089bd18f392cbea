/**
 * The maintained vendor alias table: the names NVD, CSAF, OSV and devices themselves use for one
 * vendor, mapped to one canonical vendor (the canonicalName of NVD's CPE vendor string).
 * @module
 */
import { canonicalName } from '../protocol/index.ts';

/**
 * Canonical vendor → the other names it appears under. Keys are canonical names (protocol
 * canonical.ts); aliases are written as seen and canonicalised when the table is built. The key is
 * NVD's CPE vendor string canonicalised, because NVD names the most products. "NVD" below means
 * the vendor part of NVD CPE names; "self" means what devices report (UPnP/SSDP manufacturer,
 * SNMP sysDescr, web UI); "CSAF"/"OSV" the vendor name in those documents.
 */
export const VENDOR_ALIASES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  // Routers, gateways, access points. NVD: dlink (older records d-link); self/CSAF: "D-Link Systems, Inc.".
  dlink: ['D-Link', 'd_link', 'D-Link Systems', 'D-Link Systems, Inc.', 'D-Link Corporation'],
  // NVD: tp-link; self: "TP-LINK", "TP-Link Technologies Co., Ltd.".
  tplink: ['TP-Link', 'TP-LINK Technologies', 'TP-Link Technologies Co., Ltd.', 'TP-Link Systems Inc.', 'tp_link'],
  // NVD: netgear; self: "NETGEAR, Inc.".
  netgear: ['NETGEAR Inc.', 'Netgear, Inc.'],
  // NVD: linksys (Belkin-era records too); self: "Linksys LLC".
  linksys: ['Linksys LLC', 'Cisco-Linksys', 'Cisco Linksys'],
  // NVD: asus; self/CSAF: "ASUSTeK Computer Inc.".
  asus: ['ASUSTeK', 'ASUSTeK Computer', 'ASUSTeK Computer Inc.', 'ASUSTeK COMPUTER INC.'],
  // NVD: tenda; self: "Shenzhen Tenda Technology Co., Ltd.".
  tenda: ['Tenda Technology', 'Shenzhen Tenda', 'Shenzhen Tenda Technology Co., Ltd.'],
  // NVD: totolink.
  totolink: ['TOTOLINK Ltd.'],
  // NVD: trendnet; self: "TRENDnet, Inc.".
  trendnet: ['TRENDnet, Inc.'],
  // NVD: edimax; self: "Edimax Technology Co., Ltd.".
  edimax: ['Edimax Technology', 'Edimax Technology Co., Ltd.'],
  // NVD: belkin; self: "Belkin International".
  belkin: ['Belkin International', 'Belkin International, Inc.'],
  // NVD: netis-systems; self: "netis", "Netcore" (domestic brand of the same maker).
  netissystems: ['netis', 'Netis Systems', 'Netcore'],
  // NVD: draytek; self: "DrayTek Corp.".
  draytek: ['DrayTek Corp.', 'DrayTek Corporation'],
  // NVD: mikrotik; self: "MikroTik", "SIA Mikrotīkls".
  mikrotik: ['MikroTik SIA', 'Mikrotikls', 'SIA Mikrotikls'],
  // NVD: ui (newer records) and ubiquiti / ubnt (older); self: "Ubiquiti Networks", "Ubiquiti Inc.".
  ui: ['Ubiquiti', 'Ubiquiti Networks', 'Ubiquiti Inc.', 'ubnt'],
  // NVD: zyxel; self/CSAF: "Zyxel Communications Corp.", "ZyXEL".
  zyxel: ['ZyXEL Communications', 'Zyxel Communications Corp.', 'Zyxel Networks'],
  // NVD: huawei; self/CSAF: "Huawei Technologies Co., Ltd.".
  huawei: ['Huawei Technologies', 'Huawei Technologies Co., Ltd.', 'Huawei Device Co., Ltd.'],
  // NVD: zte; self: "ZTE Corporation".
  zte: ['ZTE Corporation', 'ZTE Corp.'],
  // NVD: dasannetworks; self: "DASAN Networks", "DASAN Zhone Solutions".
  dasannetworks: ['DASAN', 'DASAN Networks', 'DASAN Zhone', 'DASAN Zhone Solutions'],
  // NVD: cisco; self/CSAF: "Cisco Systems, Inc.".
  cisco: ['Cisco Systems', 'Cisco Systems, Inc.'],
  // NVD: fortinet; CSAF: "Fortinet, Inc.".
  fortinet: ['Fortinet, Inc.'],
  // NVD: juniper; self/CSAF: "Juniper Networks".
  juniper: ['Juniper Networks', 'Juniper Networks, Inc.'],

  // Cameras, DVRs and NVRs. NVD: hikvision; self: "HIKVISION", "Hangzhou Hikvision Digital Technology".
  hikvision: ['Hangzhou Hikvision', 'Hangzhou Hikvision Digital Technology Co., Ltd.', 'Hikvision Digital Technology', 'Hikvision Digital Technology Co., Ltd.'],
  // NVD: dahuasecurity; self: "Dahua", "Zhejiang Dahua Technology Co., Ltd.".
  dahuasecurity: ['Dahua', 'Dahua Technology', 'Dahua Technology Co., Ltd.', 'Dahua Security', 'Zhejiang Dahua Technology Co., Ltd.'],
  // NVD: axis; self/CSAF: "Axis Communications AB".
  axis: ['Axis Communications', 'Axis Communications AB'],
  // NVD: reolink; self: "Reolink Innovation".
  reolink: ['Reolink Innovation', 'Reolink Innovation Limited'],
  // NVD: foscam; self: "Shenzhen Foscam Intelligent Technology".
  foscam: ['Shenzhen Foscam', 'Shenzhen Foscam Intelligent Technology Co., Ltd.'],
  // NVD: nuuo; self: "NUUO Inc.".
  nuuo: ['NUUO Inc.'],
  // NVD: uniview; self: "Zhejiang Uniview Technologies", "UNV".
  uniview: ['Zhejiang Uniview', 'Zhejiang Uniview Technologies Co., Ltd.', 'UNV'],
  // NVD: vivotek; self: "VIVOTEK Inc.".
  vivotek: ['VIVOTEK Inc.'],

  // NAS and storage. NVD: synology; self: "Synology Inc.".
  synology: ['Synology Inc.', 'Synology Incorporated'],
  // NVD: qnap; self/CSAF: "QNAP Systems, Inc.".
  qnap: ['QNAP Systems', 'QNAP Systems, Inc.'],
  // NVD: western_digital (also westerndigital, wdc); self: "WD", "Western Digital Corporation".
  westerndigital: ['WD', 'wdc', 'Western Digital Corporation', 'Western Digital Technologies'],
  // NVD: seagate; self: "Seagate Technology".
  seagate: ['Seagate Technology', 'Seagate Technology LLC'],
  // NVD: buffalo; self: "BUFFALO INC.", "Buffalo Americas".
  buffalo: ['Buffalo Inc.', 'Buffalo Americas', 'Buffalo Technology'],

  // Printers. NVD: hp (HP Inc. and Hewlett-Packard products); self: "Hewlett-Packard", "HP Inc.".
  hp: ['Hewlett-Packard', 'Hewlett Packard', 'HP Inc.', 'HP Development Company'],
  // NVD: hpe (Hewlett Packard Enterprise, split from HP in 2015: a different vendor).
  hpe: ['Hewlett Packard Enterprise', 'Hewlett Packard Enterprise Development LP'],
  // NVD: canon; self: "Canon Inc.".
  canon: ['Canon Inc.'],
  // NVD: brother; self: "Brother Industries, Ltd.".
  brother: ['Brother Industries', 'Brother Industries, Ltd.'],
  // NVD: lexmark; self: "Lexmark International".
  lexmark: ['Lexmark International', 'Lexmark International, Inc.'],

  // Industrial (CSAF publishers). NVD: siemens; CSAF: "Siemens AG".
  siemens: ['Siemens AG'],
  // NVD: schneider-electric (also schneider_electric); CSAF: "Schneider Electric SE".
  schneiderelectric: ['Schneider Electric SE', 'Schneider Electric Industries SAS', 'Schneider'],
  // NVD: rockwellautomation; self: "Rockwell Automation", "Allen-Bradley" (its controller brand).
  rockwellautomation: ['Rockwell Automation', 'Rockwell Automation, Inc.', 'Allen-Bradley'],
  // NVD: moxa; CSAF: "Moxa Inc.".
  moxa: ['Moxa Inc.', 'Moxa Technologies'],
  // NVD: phoenixcontact; CSAF: "PHOENIX CONTACT GmbH & Co. KG".
  phoenixcontact: ['Phoenix Contact GmbH & Co. KG', 'Phoenix Contact'],
  // NVD: mitsubishielectric; CSAF: "Mitsubishi Electric Corporation".
  mitsubishielectric: ['Mitsubishi Electric Corporation', 'Mitsubishi Electric'],
  // NVD: advantech; self: "Advantech Co., Ltd.".
  advantech: ['Advantech Co., Ltd.'],
});

function buildIndex(table: Readonly<Record<string, readonly string[]>>): ReadonlyMap<string, string> {
  const index = new Map<string, string>();
  for (const [vendor, aliases] of Object.entries(table)) {
    if (canonicalName(vendor) !== vendor) throw new RangeError(`vendor table key ${vendor} is not canonical`);
    for (const alias of [vendor, ...aliases]) {
      const key = canonicalName(alias);
      const previous = index.get(key);
      if (previous !== undefined && previous !== vendor) {
        throw new RangeError(`vendor alias ${alias} maps to both ${previous} and ${vendor}`);
      }
      index.set(key, vendor);
    }
  }
  return index;
}

const INDEX = buildIndex(VENDOR_ALIASES);

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Builds an alias map for {@link canonicalVendor} from configuration (`{ alias: canonical }`),
 * canonicalising both sides; throws `ProtocolError('BAD_VALUE')` for a name with nothing left.
 */
export function vendorAliasMap(entries: Readonly<Record<string, string>>): ReadonlyMap<string, string> {
  return new Map(Object.entries(entries).map(([alias, vendor]) => [canonicalName(alias), canonicalName(vendor)]));
}

/**
 * The canonical vendor for any spelling of it: canonicalName, then the configured `extra` aliases
 * (canonical alias → canonical vendor, e.g. from {@link vendorAliasMap}), then the built-in table;
 * an unknown vendor is its own canonical name. Exact keys only, never substrings.
 * @example canonicalVendor('D-Link Systems, Inc.') === 'dlink'; canonicalVendor('Dahua') === 'dahuasecurity'
 */
export function canonicalVendor(name: string, extra?: ReadonlyMap<string, string>): string {
  const key = canonicalName(name);
  return extra?.get(key) ?? INDEX.get(key) ?? key;
}

/**
 * The other canonical names of a canonical vendor: its configured `extra` aliases and its names in
 * the built-in table, minus any that `extra` points at another vendor; sorted, without `vendor`.
 * The publisher puts records out under each, so a device reporting any of them matches.
 * @example vendorAliasesOf('dlink', new Map([['acmecams', 'dlink']])) // ['acmecams', 'dlinkcorporation', 'dlinksystems', …]
 */
export function vendorAliasesOf(vendor: string, extra?: ReadonlyMap<string, string>): string[] {
  const out = new Set<string>();
  for (const [alias, target] of INDEX) if (target === vendor) out.add(alias);
  for (const [alias, target] of extra ?? []) if (target === vendor) out.add(alias);
  out.delete(vendor);
  return [...out].filter((alias) => (extra?.get(alias) ?? INDEX.get(alias)) === vendor).sort(compareText);
}
