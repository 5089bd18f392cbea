/**
 * `tattler feed import`, `tattler feed stats` and `tattler feed aliases`: load NVD, KEV, OSV and
 * CSAF files into the SQLite feed database (one transaction, progress on a terminal, a summary at the
 * end), summarise it, and configure vendor aliases. The publisher's `feed build` / `feed verify` are
 * added to the same group.
 * @module
 */
import { feedBuildCommand, feedVerifyCommand } from './feed-publish.ts';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { Command } from 'commander';
import { canonicalName, isProtocolError } from '../../protocol/index.ts';
import { importFiles, type ImportParsers, type ImportProgress, type ImportReport } from '../../feed/import.ts';
import { IMPORT_PARSERS } from '../../feed/import-sources.ts';
import { FeedStore, type FeedStats, type VendorAliasEntry } from '../../feed/store.ts';
import { FeedError, type FeedErrorCode } from '../../feed/types.ts';
import type { CliIo } from '../io.ts';

/** What the feed commands need besides the streams; tests replace the parsers or the clock. */
export interface FeedCommandDeps {
  readonly parsers: ImportParsers;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** Environment for the default --db (main passes process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Peak resident set size of this process in bytes so far. */
  readonly peakRssBytes: () => number;
}

const DEFAULT_DEPS: FeedCommandDeps = Object.freeze({
  parsers: IMPORT_PARSERS,
  now: () => Date.now(),
  env: {},
  // resourceUsage().maxRSS is in KiB (getrusage ru_maxrss on Linux).
  peakRssBytes: () => process.resourceUsage().maxRSS * 1024,
});

/** Progress redraws on a terminal at most this often. */
const TTY_REDRAW_MS = 100;
/** Plain progress lines (stderr not a terminal) at most this often. */
const PLAIN_LINE_MS = 10_000;
const BAR_WIDTH = 30;

/**
 * The default feed database: `$XDG_DATA_HOME/tattler/feed.db`, else `~/.local/share/tattler/feed.db`;
 * undefined when neither variable is usable (then --db is required).
 * @example defaultFeedDbPath({ HOME: '/h/alice' }) === '/h/alice/.local/share/tattler/feed.db'
 */
export function defaultFeedDbPath(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const xdg = env.XDG_DATA_HOME;
  // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and ignored.
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'tattler', 'feed.db');
  const home = env.HOME;
  if (home !== undefined && isAbsolute(home)) return join(home, '.local', 'share', 'tattler', 'feed.db');
  return undefined;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** One progress line: bar, bytes, files, records and records/s. */
export function renderProgress(p: ImportProgress, elapsedMs: number, options: { bar: boolean }): string {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.bytesRead / p.totalBytes) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const rate = elapsedMs > 0 ? Math.round((p.recordsRead * 1000) / elapsedMs) : 0;
  const bar = options.bar ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ` : '';
  return (
    `${bar}${(fraction * 100).toFixed(0).padStart(3)}% ${megabytes(p.bytesRead)} / ${megabytes(p.totalBytes)}, ` +
    `file ${Math.min(p.filesDone + 1, p.totalFiles)}/${p.totalFiles}, ${count(p.recordsRead)} records, ${count(rate)} records/s`
  );
}

const SKIP_LABELS: Readonly<Record<Exclude<FeedErrorCode, 'NOT_A_DEVICE'>, string>> = {
  BAD_JSON: 'not the expected JSON shape',
  BAD_RECORD: 'missing or mistyped fields',
  BAD_CPE: 'unparsable CPE',
  BAD_VERSION: 'bad version bound',
  TOO_LARGE: 'over a size limit',
};

/** The human summary of an import. */
export function renderImportSummary(report: ImportReport, run: { elapsedMs: number; peakRssBytes: number; db: string }): string {
  const seconds = run.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(report.recordsRead / seconds) : 0;
  const errors = (Object.keys(SKIP_LABELS) as (keyof typeof SKIP_LABELS)[]).filter((code) => report.skipped[code] > 0);
  const skippedTotal = errors.reduce((sum, code) => sum + report.skipped[code], 0);
  const lines = [
    `imported ${count(report.files)} file(s), ${megabytes(report.bytesRead)}, into ${run.db} in ${seconds.toFixed(1)} s`,
    `  records read   ${count(report.recordsRead)} (${count(rate)} records/s)`,
    `  advisories     ${count(report.advisories)}`,
    `  products       ${count(report.products)}`,
    `  ranges         ${count(report.intervals)}`,
    `  KEV entries    ${count(report.kevEntries)}`,
    `  not a device   ${count(report.skipped.NOT_A_DEVICE)} (application-only records, not stored)`,
    `  kept newer     ${count(report.olderIgnored)} (the database already held a newer version)`,
    `  skipped        ${count(skippedTotal)}${errors.length > 0 ? `: ${errors.map((c) => `${c} ${count(report.skipped[c])} (${SKIP_LABELS[c]})`).join(', ')}` : ''}`,
    ...report.examples.map((e) => `    e.g. ${e}`),
    `  peak RSS       ${megabytes(run.peakRssBytes)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The human form of `feed stats`. */
export function renderStats(stats: FeedStats, db: string): string {
  const sources = (['nvd', 'kev', 'osv', 'csaf'] as const).map(
    (s) => `  ${s.padEnd(5)} ${count(stats.records[s]).padStart(10)} records ${count(stats.advisories[s]).padStart(10)} advisories ${count(stats.products[s]).padStart(10)} products`,
  );
  const top = stats.topVendors.map((v) => `  ${v.vendor.padEnd(24)} ${count(v.products).padStart(8)} products ${count(v.models).padStart(6)} models`);
  return [
    `feed database ${db}`,
    ...sources,
    `vendors ${count(stats.vendors)}, models ${count(stats.models)}, vendor aliases ${count(stats.vendorAliases)}`,
    `KEV entries ${count(stats.kevEntries)}${stats.kevCatalogVersion === null ? '' : ` (catalog ${stats.kevCatalogVersion})`}`,
    `last import ${stats.lastImportMs === null ? 'never' : new Date(stats.lastImportMs).toISOString()}`,
    ...(top.length > 0 ? ['top vendors:', ...top] : []),
    '',
  ].join('\n');
}

function isTerminal(stream: CliIo['err']): boolean {
  return 'isTTY' in stream && stream.isTTY === true;
}

/** A progress reporter for stderr: a redrawn bar on a terminal, a plain line now and then otherwise. */
function progressReporter(io: CliIo, now: () => number, startMs: number): { update(p: ImportProgress): void; done(): void } {
  const tty = isTerminal(io.err);
  let lastMs = startMs;
  let drawn = false;
  return {
    update(p) {
      const t = now();
      if (t - lastMs < (tty ? TTY_REDRAW_MS : PLAIN_LINE_MS)) return;
      lastMs = t;
      const line = renderProgress(p, t - startMs, { bar: tty });
      io.err.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      drawn = tty;
    },
    done() {
      if (drawn) io.err.write('\r\x1b[K');
    },
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface ImportCommandOptions {
  db?: string;
  nvd: string[];
  kev: string[];
  osv: string[];
  csaf: string[];
  strict?: boolean;
  quiet?: boolean;
  json?: boolean;
}

function resolveDb(db: string | undefined, deps: FeedCommandDeps): string {
  const path = db ?? defaultFeedDbPath(deps.env);
  if (path === undefined) throw new Error('--db: no default (neither XDG_DATA_HOME nor HOME is set); pass --db PATH');
  return path;
}

/** Provenance record id of aliases added on the command line. */
const ALIASES_ADDED_BY = 'tattler feed aliases add';

/** One `ALIAS=CANONICAL` argument, both sides canonicalised; throws an Error naming the argument and the fix. */
export function parseAliasArgument(text: string): { alias: string; canonical: string } {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1 || text.indexOf('=', at + 1) !== -1) {
    throw new Error(`${JSON.stringify(text)}: expected ALIAS=CANONICAL, e.g. "ACME Cams=D-Link" (quote names with spaces)`);
  }
  const side = (name: string, what: string): string => {
    try {
      return canonicalName(name);
    } catch (err) {
      if (isProtocolError(err)) throw new Error(`${JSON.stringify(text)}: the ${what} ${err.message}; use a name with letters or digits`, { cause: err });
      throw err;
    }
  };
  return { alias: side(text.slice(0, at), 'alias'), canonical: side(text.slice(at + 1), 'vendor') };
}

/** The human form of `feed aliases list`. */
export function renderVendorAliases(entries: readonly VendorAliasEntry[], db: string): string {
  if (entries.length === 0) return `no configured vendor aliases in ${db} (the maintained table still applies); add one with "tattler feed aliases add --db ${db} ALIAS=VENDOR"\n`;
  const width = Math.max(...entries.map((e) => e.alias.length));
  const lines = entries.map(
    (e) => `  ${e.alias.padEnd(width)} → ${e.canonical}  (${e.origin}: ${e.recordId}, ${new Date(e.importedAtMs).toISOString()})`,
  );
  return [`configured vendor aliases in ${db} (applied before the maintained table):`, ...lines, ''].join('\n');
}

function aliasesCommand(io: CliIo, d: FeedCommandDeps): Command {
  const aliases = new Command('aliases').description('configure vendor aliases: other names a device or a feed uses for a vendor');
  aliases
    .command('add')
    .description('store vendor aliases (with provenance): check resolves device vendors through them, feed build publishes under them')
    .argument('<alias=vendor...>', 'an alias and the vendor it stands for, e.g. "ACME Cams=D-Link"; names are canonicalised')
    .option('--db <path>', 'feed database (default: $XDG_DATA_HOME/tattler/feed.db or ~/.local/share/tattler/feed.db)')
    .addHelpText(
      'after',
      '\nExamples:\n  tattler feed aliases add --db feed.db "ACME Cams=D-Link" dlinkcorp=dlink\n\n' +
        'The vendor side is resolved through the aliases already known ("D-Link Systems" means dlink).\n' +
        'A configured alias wins over the maintained table; adding an alias again replaces it.\n',
    )
    .action(async (pairs: string[], options: { db?: string }) => {
      const parsed = pairs.map(parseAliasArgument);
      const db = resolveDb(options.db, d);
      await mkdir(dirname(db), { recursive: true });
      const store = FeedStore.open(db);
      try {
        const resolved = parsed.map(({ alias, canonical }) => ({ alias, canonical: store.canonicalVendor(canonical) }));
        for (const [n, { alias, canonical }] of resolved.entries()) {
          if (alias === canonical) throw new Error(`${JSON.stringify(pairs[n])}: the alias already is the vendor ${canonical}; nothing to add`);
          // One step of resolution only (alias → vendor): a vendor that others point at cannot itself become an alias.
          if (store.vendorAliases(alias).length > 0) {
            throw new Error(`${alias}: is a canonical vendor with aliases of its own (${store.vendorAliases(alias).slice(0, 3).join(', ')}); alias it the other way round: ${canonical}=${alias}`);
          }
        }
        const run = store.beginImport(d.now());
        try {
          run.putVendorAliases(resolved, { recordId: ALIASES_ADDED_BY, catalogVersion: null });
          run.commit();
        } finally {
          run.rollback();
        }
        io.out.write(resolved.map(({ alias, canonical }) => `vendor alias ${alias} → ${canonical}\n`).join('') + `stored in ${db}\n`);
      } finally {
        store.close();
      }
    });
  aliases
    .command('list')
    .description('list the configured vendor aliases with their provenance')
    .option('--db <path>', 'feed database (default: $XDG_DATA_HOME/tattler/feed.db or ~/.local/share/tattler/feed.db)')
    .option('--json', 'print JSON')
    .action((options: { db?: string; json?: boolean }) => {
      const db = resolveDb(options.db, d);
      const store = FeedStore.open(db, { readonly: true });
      try {
        const entries = store.vendorAliasEntries();
        io.out.write(options.json === true ? `${JSON.stringify(entries, null, 2)}\n` : renderVendorAliases(entries, db));
      } finally {
        store.close();
      }
    });
  return aliases;
}

/** The `feed` command group (`import`, `stats`, `aliases`); others add their subcommands to it. */
export function feedCommand(io: CliIo, deps: Partial<FeedCommandDeps> = {}): Command {
  const d: FeedCommandDeps = { ...DEFAULT_DEPS, env: io.env ?? {}, ...deps };
  const feed = new Command('feed').description('import vulnerability feeds into the feed database, and publish signed feeds from it');
  feed
    .command('import')
    .description('import NVD, CISA KEV, OSV and CSAF JSON files in one transaction: on any fatal error nothing changes')
    .option('--db <path>', 'feed database (default: $XDG_DATA_HOME/tattler/feed.db or ~/.local/share/tattler/feed.db)')
    .option('--nvd <file|dir>', 'NVD CVE API 2.0 page or single-CVE JSON (a directory: every *.json below it); repeatable', collect, [])
    .option('--kev <file>', 'CISA Known Exploited Vulnerabilities catalog JSON; repeatable', collect, [])
    .option('--osv <file|dir>', 'OSV JSON record(s); repeatable', collect, [])
    .option('--csaf <file|dir>', 'CSAF 2.0 advisory JSON; repeatable', collect, [])
    .option('--strict', 'abort and roll back at the first bad record instead of skipping it')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  tattler feed import --db feed.db --nvd nvd-pages/ --kev known_exploited_vulnerabilities.json\n' +
        '  tattler feed import --db feed.db --csaf advisories/ --strict\n\n' +
        'A record whose stored version is newer (NVD/OSV modified time, CSAF current_release_date, KEV\n' +
        'dateReleased) is kept; an equal or newer input replaces it. Bad records are skipped and counted.\n',
    )
    .action(async (options: ImportCommandOptions) => {
      const sources = options.nvd.length + options.kev.length + options.osv.length + options.csaf.length;
      if (sources === 0) throw new Error('nothing to import: pass at least one of --nvd, --kev, --osv, --csaf');
      const db = resolveDb(options.db, d);
      await mkdir(dirname(db), { recursive: true });
      const store = FeedStore.open(db);
      const startMs = d.now();
      const progress = options.quiet === true || options.json === true ? undefined : progressReporter(io, d.now, startMs);
      let report: ImportReport;
      try {
        report = await importFiles({
          db: store,
          parsers: d.parsers,
          nvd: options.nvd,
          kev: options.kev,
          osv: options.osv,
          csaf: options.csaf,
          strict: options.strict === true,
          importedAtMs: startMs,
          ...(progress === undefined ? {} : { onProgress: (p: ImportProgress) => { progress.update(p); } }),
        });
      } catch (err) {
        progress?.done();
        const what = err instanceof FeedError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
        throw new Error(`${what}\nimport rolled back: ${db} is unchanged`, { cause: err });
      } finally {
        store.close();
      }
      progress?.done();
      const run = { elapsedMs: d.now() - startMs, peakRssBytes: d.peakRssBytes(), db };
      io.out.write(options.json === true ? `${JSON.stringify({ ...report, ...run })}\n` : renderImportSummary(report, run));
    });
  feed
    .command('stats')
    .description('summarise the feed database: counts by source, vendors, models, KEV, top vendors')
    .option('--db <path>', 'feed database (default: $XDG_DATA_HOME/tattler/feed.db or ~/.local/share/tattler/feed.db)')
    .option('--top <n>', 'how many top vendors to list', '10')
    .option('--json', 'print JSON')
    .action((options: { db?: string; top: string; json?: boolean }) => {
      const top = Number(options.top);
      if (!Number.isInteger(top) || top < 0 || top > 1000) throw new Error(`--top: expected an integer 0..1000, got ${options.top}`);
      const db = resolveDb(options.db, d);
      const store = FeedStore.open(db, { readonly: true });
      try {
        const stats = store.stats({ topVendors: top });
        io.out.write(options.json === true ? `${JSON.stringify(stats, null, 2)}\n` : renderStats(stats, db));
      } finally {
        store.close();
      }
    });
  feed.addCommand(aliasesCommand(io, d));
  feed.addCommand(feedBuildCommand(io)).addCommand(feedVerifyCommand(io));
  return feed;
}
