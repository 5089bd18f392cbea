/**
 * `tattler report vendors`: the vendor report (docs/report.md) from the collector's stats store
 * and its signed feed bundle — per vendor and model, announcements seen vulnerable, advisories,
 * KEV, fixed versions, days since the advisory; private-mode counts per bucket only.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CollectorConfigError, loadCollectorConfig, type CollectorConfig } from '../../collector/config.ts';
import { fetchFeed } from '../../collector/feed-source.ts';
import { openStatsStore, STATS_DEFAULTS, StatsStoreError, type StatsQuery } from '../../collector/stats-store.ts';
import { readBundleManifest, verifyBundle, type BundleManifest, type VerifiedBundle } from '../../feed/bundle.ts';
import { isProtocolError, isSelfSigned, parseDuration } from '../../protocol/index.ts';
import { AdvisoryDatesError, loadAdvisoryDates } from '../../report/advisory-dates.ts';
import { REPORT_FORMATS, formatVendorReport, type ReportFormat } from '../../report/format.ts';
import { buildVendorReport } from '../../report/vendors.ts';
import { CliExit } from '../exit.ts';
import { readRootFile, writeFileAtomic } from '../files.ts';
import type { CliIo } from '../io.ts';

const PREFIX = 'tattler report vendors';

/** What the report command needs from outside; tests inject the clock. */
export interface ReportCommandDeps {
  /** Seconds since the Unix epoch. */
  readonly nowSeconds?: () => number;
}

interface VendorsOptions {
  readonly config?: string;
  readonly stats?: string;
  readonly feed?: string;
  readonly root?: string;
  readonly feedDb?: string;
  readonly since?: number;
  readonly format: ReportFormat;
  readonly output?: string;
}

/** Where the report's inputs are; a feed URL comes only from a config's `feed.url`. */
interface Sources {
  readonly statsPath: string;
  readonly retentionSeconds: number;
  readonly feed: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'url'; readonly url: string };
  readonly rootPath: string;
}

function systemNowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function parseSince(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** Prints `message` as the command's one error line and ends with exit status 1. */
function fail(io: CliIo, message: string): never {
  io.err.write(`${PREFIX}: ${message}\n`);
  throw new CliExit(1);
}

async function loadConfig(io: CliIo, file: string): Promise<CollectorConfig> {
  try {
    return await loadCollectorConfig(file);
  } catch (err) {
    if (!(err instanceof CollectorConfigError)) throw err;
    // One line, as docs/report.md promises: the first problem, and how many more there are.
    const [first = file, ...more] = err.message.split('\n');
    const rest = more.length === 0 ? '' : ` (and ${more.length} more problem${more.length === 1 ? '' : 's'})`;
    return fail(io, `not a valid collector config: ${first}${rest}; see docs/collector.md`);
  }
}

async function resolveSources(io: CliIo, options: VendorsOptions): Promise<Sources> {
  if (options.config === undefined) {
    const missing = (['stats', 'feed', 'root'] as const).filter((name) => options[name] === undefined);
    if (missing.length > 0)
      return fail(
        io,
        `missing ${missing.map((m) => `--${m} FILE`).join(', ')}; pass --config COLLECTOR.yaml, or all of --stats, --feed and --root`,
      );
  }
  const config = options.config === undefined ? undefined : await loadConfig(io, options.config);
  const statsPath = options.stats ?? config?.stats?.databasePath;
  if (statsPath === undefined)
    return fail(
      io,
      `${options.config ?? ''}: the config has no stats section, so the collector keeps no counts on disk; add "stats: {database: stats.db}" (docs/collector.md) or pass --stats FILE`,
    );
  const feedSource = config?.feed.source;
  const feed =
    options.feed !== undefined
      ? { kind: 'file' as const, path: options.feed }
      : feedSource ?? fail(io, 'no feed bundle; pass --feed FILE');
  const rootPath = options.root ?? config?.feed.rootPath ?? fail(io, 'no trust root; pass --root FILE');
  return {
    statsPath,
    retentionSeconds: config?.stats?.retentionSeconds ?? STATS_DEFAULTS.retentionSeconds,
    feed,
    rootPath,
  };
}

function queryStats(io: CliIo, sources: Sources, sinceSeconds: number | null): StatsQuery {
  let store;
  try {
    store = openStatsStore(sources.statsPath, { retentionSeconds: sources.retentionSeconds, readOnly: true });
  } catch (err) {
    if (err instanceof StatsStoreError) return fail(io, `${err.message} [${err.code}]`);
    throw err;
  }
  try {
    return store.query(sinceSeconds);
  } catch (err) {
    if (err instanceof StatsStoreError) return fail(io, `${err.message} [${err.code}]`);
    throw err;
  } finally {
    store.close();
  }
}

async function readBundleBytes(io: CliIo, feed: Sources['feed']): Promise<{ bytes: Uint8Array; where: string }> {
  if (feed.kind === 'url') {
    try {
      const fetched = await fetchFeed(feed.url, undefined);
      if (fetched.kind === 'fetched') return { bytes: fetched.bytes, where: feed.url };
      return fail(io, `${feed.url}: HTTP 304 to an unconditional request; pass the bundle with --feed FILE`);
    } catch (err) {
      return fail(io, `${err instanceof Error ? err.message : String(err)}; pass the bundle with --feed FILE`);
    }
  }
  try {
    return { bytes: new Uint8Array(await readFile(feed.path)), where: feed.path };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? 'error'})`;
    return fail(io, `${feed.path}: ${problem}; pass the feed bundle the collector serves (feed.file, or "tattler feed build --out")`);
  }
}

/**
 * Verifies the bundle against the root as the collector does. An expired bundle is history, not
 * an attack on the report: it is verified as of its issue time (every signature and digest still
 * checked, only the expiry not) and a note says so.
 */
async function loadBundle(io: CliIo, sources: Sources, nowSeconds: number): Promise<VerifiedBundle> {
  let root;
  try {
    root = await readRootFile(sources.rootPath);
  } catch (err) {
    return fail(io, err instanceof Error ? err.message : String(err));
  }
  if (!isSelfSigned(root))
    return fail(io, `${sources.rootPath}: not signed by its own threshold of root keys; pass the root the collector trusts (feed.root)`);
  const { bytes, where } = await readBundleBytes(io, sources.feed);
  const result = verifyBundle(bytes, root.value, { nowSeconds });
  if (result.ok) return result.bundle;
  if (result.reason === 'EXPIRED') {
    let manifest: BundleManifest;
    try {
      manifest = readBundleManifest(bytes);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      return fail(io, `${where}: feed bundle refused (MALFORMED: ${err.message})`);
    }
    const asIssued = verifyBundle(bytes, root.value, { nowSeconds: manifest.issuedAt });
    if (asIssued.ok) {
      io.err.write(
        `${PREFIX}: note: feed v${manifest.feedVersion} expired at ${new Date(manifest.expiresAt * 1000).toISOString()}; its signatures verify, so the report uses it as history\n`,
      );
      return asIssued.bundle;
    }
    return fail(io, `${where}: feed bundle refused (${asIssued.reason}: ${asIssued.message})`);
  }
  return fail(io, `${where}: feed bundle refused (${result.reason}: ${result.message}); pass the bundle signed under --root`);
}

function loadDates(io: CliIo, feedDb: string | undefined): ReadonlyMap<string, string> | undefined {
  if (feedDb === undefined) {
    io.err.write(
      `${PREFIX}: note: "days since advisory" is empty; pass --feed-db FILE (the database "tattler feed import --db" wrote) to fill it\n`,
    );
    return undefined;
  }
  try {
    return loadAdvisoryDates(feedDb);
  } catch (err) {
    if (err instanceof AdvisoryDatesError) return fail(io, `${err.message} [${err.code}]`);
    throw err;
  }
}

/** The `report` command and its `vendors` subcommand. */
export function reportCommand(io: CliIo, deps: ReportCommandDeps = {}): Command {
  const now = deps.nowSeconds ?? systemNowSeconds;
  const vendors = new Command('vendors')
    .description(
      'per vendor and model: announcements seen vulnerable, advisories, KEV, fixed version and days since the ' +
        'advisory; private-mode counts per bucket only. Built from the stats store\'s aggregate counts (docs/report.md)',
    )
    .option('--config <file>', 'collector config: takes stats.database, feed.file or feed.url, and feed.root from it')
    .option('--stats <file>', 'the stats database the collector writes (stats.database)')
    .option('--feed <file>', 'the signed feed bundle (feed.file)')
    .option('--root <file>', 'the trust root the bundle is verified against (feed.root)')
    .option('--feed-db <file>', 'the feed import database ("tattler feed import --db"), for days since advisory')
    .option('--since <duration>', 'only the counts of the last DURATION, e.g. 30d, 12h (default: every hour kept)', parseSince)
    .addOption(new Option('--format <format>', 'output format').choices(REPORT_FORMATS).default('md'))
    .option('--output <file>', 'write the report to FILE (atomically) instead of standard output')
    .addHelpText(
      'after',
      '\nThe counts are whole hours: --since 12h starts at the beginning of the hour 12 h ago.\n' +
        'An expired feed bundle is still used (it is history); a note on stderr says so.\n' +
        'Exit status: 0 with the report, 1 for a missing or wrong file (the message names it).\n' +
        '\nExamples:\n' +
        '  tattler report vendors --config /etc/tattler/collector.yaml --feed-db feed.db\n' +
        '  tattler report vendors --stats stats.db --feed bundle.cbor --root root.cbor --since 30d --format csv --output vendors.csv\n',
    )
    .action(async function runVendorsReport(options: VendorsOptions) {
      const nowSeconds = now();
      const sources = await resolveSources(io, options);
      const sinceSeconds = options.since === undefined ? null : Math.max(0, nowSeconds - options.since);
      const stats = queryStats(io, sources, sinceSeconds);
      const bundle = await loadBundle(io, sources, nowSeconds);
      const advisoryDates = loadDates(io, options.feedDb);
      if (stats.window.fromSeconds === null)
        io.err.write(`${PREFIX}: note: ${sources.statsPath} holds no counts${sinceSeconds === null ? '' : ' in this window'}; the report lists the feed's models only\n`);
      const report = buildVendorReport({
        counts: stats,
        records: bundle.records.map((entry) => entry.record),
        feedVersion: bundle.manifest.feedVersion,
        ...(advisoryDates === undefined ? {} : { advisoryDates }),
        nowSeconds,
        window: stats.window,
      });
      const text = formatVendorReport(report, options.format);
      if (options.output === undefined) {
        io.out.write(text);
        return;
      }
      try {
        await writeFileAtomic(options.output, text);
      } catch (err) {
        fail(io, `${options.output}: cannot write (${err instanceof Error ? err.message : String(err)}); check the directory exists and is writable`);
      }
      io.err.write(`${PREFIX}: wrote ${options.output}: ${report.rows.length} models, ${report.private.length} private buckets\n`);
    });
  return new Command('report')
    .description("reports from the collector's aggregate counts (docs/report.md)")
    .addCommand(vendors);
}
