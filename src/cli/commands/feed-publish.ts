/**
 * `tattler feed build` and `tattler feed verify`: publish the imported data as a signed, versioned,
 * expiring feed bundle (docs/feed.md), and check a bundle against a root as a collector does.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError } from 'commander';
import { toHex } from '../../crypto/index.ts';
import { BundleError, encodeBundle, readBundleManifest, verifyBundle, type BundleManifest } from '../../feed/bundle.ts';
import { PublishError, planFeed, signFeedPlan, type PublishReport } from '../../feed/publish.ts';
import { EMPTY_PUBLISHER_POLICY, parsePublisherPolicy, type PublisherPolicy } from '../../feed/publisher-policy.ts';
import { FeedStore } from '../../feed/store.ts';
import type { FeedReader } from '../../feed/types.ts';
import { isProtocolError, isSelfSigned, parseDuration } from '../../protocol/index.ts';
import { CliExit } from '../exit.ts';
import { readPrivateKeyFile, readRootFile, writeFileAtomic } from '../files.ts';
import type { CliIo } from '../io.ts';
import { toJson } from '../json.ts';

/** An open feed database: the reader and how to close it. */
export interface OpenedFeed {
  readonly reader: FeedReader;
  close(): void;
}

/** What the feed publishing commands need from outside; tests inject an in-memory reader and a clock. */
export interface FeedPublishDeps {
  /** Opens the feed database at `path` read-only. Default: the SQLite {@link FeedStore}. */
  readonly openFeed?: (path: string) => OpenedFeed;
  /** Seconds since the Unix epoch. */
  readonly nowSeconds?: () => number;
}

/** Opens the SQLite feed database read-only (the default of {@link FeedPublishDeps.openFeed}). */
export function openFeedDatabase(path: string): OpenedFeed {
  const store = FeedStore.open(path, { readonly: true });
  return { reader: store, close: () => { store.close(); } };
}

function systemNowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function parseVersion(text: string): number {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(text)) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return Number(text);
}

function parseExpiresIn(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? 'error'})`;
    throw new Error(`${path}: ${problem}; check the ${what} path and permissions`, { cause: err });
  }
}

async function readPolicyFile(path: string): Promise<PublisherPolicy> {
  const text = new TextDecoder().decode(await readBytes(path, '--policy'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON (${err instanceof Error ? err.message : String(err)}); fix the syntax, see docs/feed.md "Publisher policy file"`, { cause: err });
  }
  return parsePublisherPolicy(json, path);
}

async function readPreviousManifest(path: string): Promise<BundleManifest> {
  const bytes = await readBytes(path, '--previous');
  try {
    return readBundleManifest(bytes);
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    throw new Error(`${path}: not a feed bundle (${err.code}: ${err.message}); pass the last file written by "tattler feed build"`, { cause: err });
  }
}

function summarise(report: PublishReport): string {
  const d = report.modelsPerBucket;
  const histogram = Object.entries(report.pagesHistogram).map(([pages, n]) => `${pages}p×${n}`).join(' ');
  const lines = [
    `rows ${report.rows} (withdrawn ${report.withdrawnRows}), products ${report.products}`,
    `records ${report.records}: eligible ${report.eligibleRecords}, under aliases ${report.aliasRecords}, split ${report.splitRecords} in ${report.splitGroups} groups`,
    `eligibility: ${Object.entries(report.eligibility).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `buckets ${report.buckets}, pages ${report.pages} [${histogram}], entries ${report.entries}`,
    `models per bucket: min ${d.min}, median ${d.median}, p99 ${d.p99}, max ${d.max}`,
  ];
  const left = report.droppedEntryMembers + report.droppedEntryFixed + report.overflowEntries;
  if (left > 0) {
    lines.push(`left out of buckets: ${report.droppedEntryMembers} over-long ranges, ${report.droppedEntryFixed} fixed versions, ${report.overflowEntries} entries of full buckets (${report.overflowModels} whole models)`);
  }
  return lines.map((l) => `  ${l}\n`).join('');
}

/** `tattler feed build`: the signed feed bundle of the imported data. */
export function feedBuildCommand(io: CliIo, deps: FeedPublishDeps = {}): Command {
  const openFeed = deps.openFeed ?? openFeedDatabase;
  const now = deps.nowSeconds ?? systemNowSeconds;
  return new Command('build')
    .description('publish the imported data as a signed, versioned, expiring feed bundle (records and all 4096 bucket pages)')
    .requiredOption('--db <path>', 'feed database written by "tattler feed import"')
    .requiredOption('--signing-key <key>', 'feed private key (.key, authorised as a feed key by the root)')
    .requiredOption('--out <file>', 'where to write the bundle')
    .option('--expires-in <duration>', 'validity of the bundle and every document in it', parseExpiresIn, 7 * 86_400)
    .option('--policy <file>', 'publisher policy (JSON): reviewed, deny, withdrawn, aliases, update hosts')
    .option('--previous <file>', 'the last published bundle: the new version must be above its version')
    .option('--version <n>', 'feed version (default: previous + 1, or the issue time in seconds)', parseVersion)
    .addHelpText('after', '\nExample:\n  tattler feed build --db feed.db --signing-key keys/feed-1a2b.key --out feed-v8.bundle --previous feed-v7.bundle --policy publisher.json\n')
    .action(async (o: { db: string; signingKey: string; out: string; expiresIn: number; policy?: string; previous?: string; version?: number }) => {
      const [key, policy, previous] = await Promise.all([
        readPrivateKeyFile(o.signingKey),
        o.policy === undefined ? EMPTY_PUBLISHER_POLICY : readPolicyFile(o.policy),
        o.previous === undefined ? undefined : readPreviousManifest(o.previous),
      ]);
      const issuedAt = now();
      const feedVersion = o.version ?? (previous === undefined ? issuedAt : previous.feedVersion + 1);
      if (previous !== undefined && feedVersion <= previous.feedVersion) {
        throw new Error(`--version ${feedVersion}: not above ${o.previous ?? ''}'s version ${previous.feedVersion}; versions strictly increase (omit --version for ${previous.feedVersion + 1})`);
      }
      const expiresAt = issuedAt + o.expiresIn;
      const started = performance.now();
      const feed = openFeed(o.db);
      let bytes: Uint8Array;
      let report: PublishReport;
      try {
        const plan = planFeed(feed.reader, { policy, feedVersion, issuedAt, expiresAt });
        report = plan.report;
        bytes = encodeBundle(key, { feedVersion, issuedAt, expiresAt, ...signFeedPlan(key, plan) }, previous === undefined ? {} : { previous });
      } catch (err) {
        if (err instanceof PublishError || err instanceof BundleError) throw new Error(`${o.out}: not written: ${err.message}`, { cause: err });
        throw err;
      } finally {
        feed.close();
      }
      await writeFileAtomic(o.out, bytes);
      const ms = Math.round(performance.now() - started);
      io.out.write(`wrote ${o.out}: feed v${feedVersion}, ${bytes.byteLength} bytes, signed by ${toHex(key.publicKey.kid)}, valid ${issuedAt}..${expiresAt}, built in ${ms} ms\n${summarise(report)}`);
    });
}

/** `tattler feed verify`: check a bundle as a collector does; exit 2 when it is refused. */
export function feedVerifyCommand(io: CliIo, deps: FeedPublishDeps = {}): Command {
  const now = deps.nowSeconds ?? systemNowSeconds;
  return new Command('verify')
    .description('verify a feed bundle against a root: manifest and every record and page signature, digests, expiry; exit 2 if refused')
    .argument('<file>', 'feed bundle written by "tattler feed build"')
    .requiredOption('--root <file>', 'the root document the collector trusts')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  tattler feed verify feed-v8.bundle --root root-v2.cbor\n')
    .action(async (file: string, o: { root: string; json?: boolean }) => {
      const root = await readRootFile(o.root);
      if (!isSelfSigned(root)) throw new Error(`${o.root}: not signed by its own threshold of root keys; pass a root written by "tattler root init" or "tattler root rotate"`);
      const bytes = await readBytes(file, 'bundle');
      const started = performance.now();
      const nowSeconds = now();
      const result = verifyBundle(bytes, root.value, { nowSeconds });
      const ms = Math.round(performance.now() - started);
      if (!result.ok) {
        io.out.write(o.json === true ? `${toJson({ ok: false, file, reason: result.reason, message: result.message })}\n` : `REFUSED ${file}: ${result.reason}: ${result.message}\n`);
        throw new CliExit(2);
      }
      const m = result.bundle.manifest;
      const summary = { ok: true, file, feedVersion: m.feedVersion, issuedAt: m.issuedAt, expiresAt: m.expiresAt, records: m.recordCount, pages: m.pageCount, kid: toHex(m.kid), rootVersion: root.value.version, verifyMs: ms };
      io.out.write(
        o.json === true
          ? `${toJson(summary)}\n`
          : `ok ${file}: feed v${m.feedVersion}, ${m.recordCount} records, ${m.pageCount} pages, signed by ${toHex(m.kid)} (feed key of root v${root.value.version}), expires ${m.expiresAt} (in ${m.expiresAt - nowSeconds} s), verified in ${ms} ms\n`,
      );
    });
}
