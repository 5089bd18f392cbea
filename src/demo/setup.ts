/**
 * The demo's data (`tattler demo`, docs/demo.md): a throwaway trust root, feed, registry and
 * collector keys, the collector's key certificate, a feed built from the real records in
 * vectors/feeds/, and the collector's config; made with the library calls the CLI commands use.
 * @module
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePrivateKeyPem, encodePublicKeyPem, generatePrivateKey, toHex, type PrivateKey } from '../crypto/index.ts';
import { encodeBundle } from '../feed/bundle.ts';
import { importFiles, listInputFiles } from '../feed/import.ts';
import { IMPORT_PARSERS } from '../feed/import-sources.ts';
import { planFeed, signFeedPlan, type PublishReport } from '../feed/publish.ts';
import { parsePublisherPolicy } from '../feed/publisher-policy.ts';
import { FeedStore } from '../feed/store.ts';
import { decodeCbor, encodeCbor, isSelfSigned, parsePrefix, readRoot, signKeyCertificate, signRoot, type Root } from '../protocol/index.ts';
import { DEMO_SCOPE } from './types.ts';

/** The file that marks a directory as made by `tattler demo`: only such a directory is ever removed. */
export const DEMO_MARKER = '.tattler-demo';

/** The operator name in the demo's certificate and collector config. */
export const DEMO_OPERATOR = 'Tattler demo ISP';

/** Validity of the demo's key certificate: the protocol's maximum (7 days), as the README issues. */
export const DEMO_CERTIFICATE_SECONDS = 7 * 86_400;

/** Validity of the demo's feed bundle: `tattler feed build`'s default (7 days). */
export const DEMO_FEED_SECONDS = 7 * 86_400;

/**
 * The demo publisher's policy (docs/feed.md §6). CVE-2023-1389 (TP-Link Archer AX21, fixed in
 * 1.1.4) is in the full CISA KEV catalog (added 2023-05-01) but not in the trimmed excerpt in
 * vectors/feeds/kev, so the publisher marks it reviewed ([F-1] rule 2): the demo then has a FAIL
 * that a firmware update lifts. Everything else follows the default rule (KEV, high confidence,
 * bounded), which leaves only NUUO NVRmini 2016 (CVE-2018-14933) eligible.
 */
export const DEMO_PUBLISHER_POLICY = Object.freeze({
  version: 1,
  reviewed: { advisories: ['CVE-2023-1389'], products: [] },
});

/** Why the demo data could not be prepared. */
export type DemoSetupErrorCode = 'DIR_NOT_OURS' | 'VECTORS_MISSING';

/** A refusal of {@link prepareDemoData}, with a stable code. */
export class DemoSetupError extends Error {
  override readonly name = 'DemoSetupError';
  readonly code: DemoSetupErrorCode;
  constructor(code: DemoSetupErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** What {@link prepareDemoData} made; every path is absolute. */
export interface DemoFiles {
  readonly dir: string;
  readonly rootPath: string;
  readonly certificatePath: string;
  readonly collectorKeyPath: string;
  readonly bundlePath: string;
  readonly feedDbPath: string;
  readonly feedVersion: number;
  /** Signed feed records in the bundle (under every vendor and model name). */
  readonly recordCount: number;
  /** What the demo prints as "created in ./demo-data: …", in order. */
  readonly created: readonly { readonly what: string; readonly path: string }[];
}

/** Options of {@link prepareDemoData}. */
export interface PrepareDemoOptions {
  /** Wall-clock "now", epoch seconds: the root, certificate and feed are issued at it. */
  readonly nowSeconds: number;
  /** One line for people per step. */
  readonly progress: (line: string) => void;
  /** The vectors/feeds directory; default the package's own. */
  readonly feedsDir?: string;
}

/** The package's vectors/feeds/ (from dist/demo/ or src/demo/, both two levels below the root). */
function defaultFeedsDir(): string {
  return fileURLToPath(new URL('../../vectors/feeds/', import.meta.url));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Makes `dir` empty and ours: removes it when it holds our marker, refuses when it holds anything
 * else (never deletes a user's files), then creates it with the marker.
 */
async function claimDirectory(dir: string): Promise<void> {
  if (await exists(dir)) {
    if (await exists(join(dir, DEMO_MARKER))) {
      await rm(dir, { recursive: true, force: true });
    } else if ((await readdir(dir)).length > 0) {
      throw new DemoSetupError('DIR_NOT_OURS', `${dir} exists and was not made by tattler demo; remove it or pass --data DIR`);
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Written first, so that a run that fails half-way leaves a directory the next run may remove.
  await writeFile(join(dir, DEMO_MARKER), 'made by tattler demo; removed and remade by the next run\n');
}

function counted(n: number, one: string, many: string): string {
  return `${String(n)} ${n === 1 ? one : many}`;
}

/** Writes ROLE.key (PKCS#8 PEM, mode 0600) and ROLE.pub (SPKI PEM) as `tattler keys generate` does. */
async function writeKeyPair(dir: string, role: string, key: PrivateKey): Promise<string> {
  const path = join(dir, `${role}.key`);
  await writeFile(path, encodePrivateKeyPem(key), { mode: 0o600 });
  await writeFile(join(dir, `${role}.pub`), encodePublicKeyPem(key.publicKey));
  return path;
}

/**
 * Creates the demo's throwaway trust and feed in `dir` (absolute, else `RangeError`): refuses a non-empty directory
 * not made by the demo ({@link DemoSetupError} `DIR_NOT_OURS`), and replaces one that was.
 * @example const files = await prepareDemoData(resolve('demo-data'), { nowSeconds: Math.floor(Date.now() / 1000), progress: (l) => process.stderr.write(`${l}\n`) });
 */
export async function prepareDemoData(dir: string, options: PrepareDemoOptions): Promise<DemoFiles> {
  if (!isAbsolute(dir)) throw new RangeError(`prepareDemoData: expected an absolute directory, got ${dir}`);
  const now = options.nowSeconds;
  const progress = options.progress;
  const feeds = options.feedsDir ?? defaultFeedsDir();
  if (!(await exists(feeds))) throw new DemoSetupError('VECTORS_MISSING', `${feeds}: the feed samples are missing; reinstall tattler`);
  await claimDirectory(dir);
  const created: { what: string; path: string }[] = [];
  const keysDir = join(dir, 'keys');
  await mkdir(keysDir, { mode: 0o700 });

  progress('creating trust root…');
  const rootKey = generatePrivateKey();
  const feedKey = generatePrivateKey();
  const registryKey = generatePrivateKey();
  const collectorKey = generatePrivateKey();
  await writeKeyPair(keysDir, 'root', rootKey);
  await writeKeyPair(keysDir, 'feed', feedKey);
  await writeKeyPair(keysDir, 'registry', registryKey);
  const collectorKeyPath = await writeKeyPair(keysDir, 'collector', collectorKey);
  created.push({ what: 'keys: root, feed, registry, collector (private keys mode 0600)', path: keysDir });
  // One root key, threshold 1: what README's "Trying the pieces" gives a new operator.
  const root: Root = { version: 1, threshold: 1, rootKeys: [rootKey.publicKey.raw], feedKeys: [feedKey.publicKey.raw], registryKeys: [registryKey.publicKey.raw], issuedAt: now };
  const rootBytes = encodeCbor(signRoot([rootKey], root));
  // As `tattler root init` does: check the bytes that will be written, as a device reads them.
  if (!isSelfSigned(readRoot(decodeCbor(rootBytes)))) throw new Error('demo root: not signed by its own root key');
  const rootPath = join(dir, 'root.cbor');
  await writeFile(rootPath, rootBytes);
  created.push({ what: `trust root v1 (threshold 1 of 1, root key ${toHex(rootKey.publicKey.kid)})`, path: rootPath });

  progress('certifying the collector key…');
  const certificate = signKeyCertificate(registryKey, {
    subject: collectorKey.publicKey.raw,
    operator: DEMO_OPERATOR,
    scope: DEMO_SCOPE.map((prefix) => parsePrefix(prefix)),
    notBefore: now,
    notAfter: now + DEMO_CERTIFICATE_SECONDS,
  });
  const certificatePath = join(dir, 'collector.cert.cbor');
  await writeFile(certificatePath, encodeCbor(certificate));
  created.push({ what: `collector key certificate (${DEMO_OPERATOR}, ${DEMO_SCOPE.join(' ')}, 7 days)`, path: certificatePath });

  const feedDir = join(dir, 'feed');
  await mkdir(feedDir);
  // The sources as `tattler feed import --nvd DIR --kev DIR --osv DIR --csaf DIR` takes them.
  const nvd = [join(feeds, 'nvd')];
  const kev = [join(feeds, 'kev')];
  const osv = [join(feeds, 'osv')];
  const csaf = [join(feeds, 'csaf')];
  const [nvdFiles, kevFiles, osvFiles, csafFiles] = await Promise.all([listInputFiles('nvd', nvd), listInputFiles('kev', kev), listInputFiles('osv', osv), listInputFiles('csaf', csaf)]);
  progress(
    `importing ${counted(nvdFiles.length, 'NVD record', 'NVD records')}, ${counted(kevFiles.length, 'KEV catalog', 'KEV catalogs')}, ` +
      `${counted(osvFiles.length, 'OSV record', 'OSV records')} and ${counted(csafFiles.length, 'CSAF advisory', 'CSAF advisories')} from vectors/feeds/…`,
  );
  const feedDbPath = join(feedDir, 'feed.db');
  const store = FeedStore.open(feedDbPath);
  let imported: Awaited<ReturnType<typeof importFiles>>;
  try {
    imported = await importFiles({ db: store, parsers: IMPORT_PARSERS, nvd, kev, osv, csaf, strict: false, importedAtMs: now * 1000 });
  } finally {
    store.close();
  }
  progress(`imported ${imported.advisories} advisories, ${imported.products} products, ${imported.kevEntries} KEV entries (${imported.skipped.NOT_A_DEVICE} not a device)`);
  created.push({ what: `feed database (${imported.advisories} advisories from vectors/feeds/)`, path: feedDbPath });

  const policyPath = join(feedDir, 'publisher-policy.json');
  await writeFile(policyPath, `${JSON.stringify(DEMO_PUBLISHER_POLICY, null, 2)}\n`);
  const policy = parsePublisherPolicy(DEMO_PUBLISHER_POLICY, policyPath);
  created.push({ what: 'publisher policy (CVE-2023-1389 reviewed: in CISA KEV, not in the trimmed excerpt)', path: policyPath });

  // As `tattler feed build` without --previous: the version is the issue time in seconds.
  const feedVersion = now;
  const expiresAt = now + DEMO_FEED_SECONDS;
  const reader = FeedStore.open(feedDbPath, { readonly: true });
  let bytes: Uint8Array;
  let report: PublishReport;
  try {
    const plan = planFeed(reader, { policy, feedVersion, issuedAt: now, expiresAt });
    report = plan.report;
    bytes = encodeBundle(feedKey, { feedVersion, issuedAt: now, expiresAt, ...signFeedPlan(feedKey, plan) });
  } finally {
    reader.close();
  }
  const bundlePath = join(feedDir, 'bundle.cbor');
  await writeFile(bundlePath, bytes);
  progress(`signed feed version ${feedVersion}: ${report.records} records (${report.eligibleRecords} quarantine-eligible), ${report.pages} pages, valid 7 days`);
  created.push({ what: `signed feed v${feedVersion} (${report.records} records, ${report.pages} pages, feed key ${toHex(feedKey.publicKey.kid)})`, path: bundlePath });

  return { dir, rootPath, certificatePath, collectorKeyPath, bundlePath, feedDbPath, feedVersion, recordCount: report.records, created };
}

/** Options of {@link writeDemoCollectorConfig}. */
export interface DemoCollectorConfigOptions {
  readonly listen: readonly { readonly address: string; readonly port: number }[];
  /** The metrics, health and dashboard port on 127.0.0.1. */
  readonly httpPort: number;
  /** Default {@link DEMO_OPERATOR}. */
  readonly operator?: string;
}

/** YAML single-quoted scalar: no escapes but the doubled quote (YAML 1.2 §7.3.2). */
function quote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Writes `collector.yaml` in the demo directory (docs/collector.md) and returns its path. Paths in
 * it are relative (resolved against the config's directory), so the directory may move.
 * @example const config = await writeDemoCollectorConfig(files, { listen: [{ address: '127.0.0.1', port: 0 }], httpPort: 0 });
 */
export async function writeDemoCollectorConfig(files: DemoFiles, options: DemoCollectorConfigOptions): Promise<string> {
  const rel = (path: string): string => quote(relative(files.dir, path));
  const listen = options.listen.map((l) => `{address: ${quote(l.address)}, port: ${String(l.port)}}`).join(', ');
  const text = [
    '# tattler demo: the collector of the throwaway trust in this directory (docs/collector.md)',
    `listen: [${listen}]`,
    `feed: {file: ${rel(files.bundlePath)}, root: ${rel(files.rootPath)}}`,
    `key: ${rel(files.collectorKeyPath)}`,
    `certificate: ${rel(files.certificatePath)}`,
    `operator: ${quote(options.operator ?? DEMO_OPERATOR)}`,
    // Loopback mode sends every device from 127.0.0.1, one /24 for the limiter: 100 devices
    // retrying at start-up stay far below 1000/s with a burst of 2000.
    'rateLimit: {ratePerSecond: 1000, burst: 2000}',
    `metrics: {address: 127.0.0.1, port: ${String(options.httpPort)}, dashboard: {enabled: true, sampleInterval: 1s}}`,
    'stats: {database: stats.db, flushInterval: 2s}',
    '',
  ].join('\n');
  const path = join(files.dir, 'collector.yaml');
  await writeFile(path, text);
  return path;
}
