/**
 * `tattler collector notify export`: the ISP's customer-notification process reads the collector's
 * optional notify store (docs/privacy.md) as CSV or JSON, streamed row by row.
 * @module
 */
import { EventEmitter, once } from 'node:events';
import { Command, Option } from 'commander';
import { NOTIFY_DEFAULTS, NotifyStore, type NotifyEntry } from '../../collector/notify-store.ts';
import { formatDuration, parseDuration } from '../../protocol/index.ts';
import type { CliIo } from '../io.ts';

const FORMATS = ['csv', 'json'] as const;
type Format = (typeof FORMATS)[number];

/** Rows per write: large enough to be cheap, small enough that a slow pipe bounds memory. */
const ROWS_PER_CHUNK = 1_000;

const CSV_HEADER = 'address,advisory,first_seen,last_seen,count\n';

/** RFC 4180 §2: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvLine(entry: NotifyEntry): string {
  const { address, advisory, firstSeenMs, lastSeenMs, count } = entry;
  return `${[address, advisory, new Date(firstSeenMs).toISOString(), new Date(lastSeenMs).toISOString(), String(count)].map(csvField).join(',')}\n`;
}

function jsonItem(entry: NotifyEntry): string {
  return JSON.stringify({
    address: entry.address,
    advisory: entry.advisory,
    firstSeen: new Date(entry.firstSeenMs).toISOString(),
    lastSeen: new Date(entry.lastSeenMs).toISOString(),
    count: entry.count,
  });
}

/** Writes `text`, waiting for 'drain' when the stream asks for it (a pipe to a slow reader). */
async function writeChunk(stream: CliIo['out'], text: string): Promise<void> {
  if (stream.write(text) === false && stream instanceof EventEmitter) await once(stream, 'drain');
}

async function writeEntries(
  io: CliIo,
  entries: Iterable<NotifyEntry>,
  format: Format,
): Promise<number> {
  let chunk = format === 'csv' ? CSV_HEADER : '[';
  let n = 0;
  for (const entry of entries) {
    chunk += format === 'csv' ? csvLine(entry) : `${n === 0 ? '\n' : ',\n'}  ${jsonItem(entry)}`;
    n++;
    if (n % ROWS_PER_CHUNK === 0) {
      await writeChunk(io.out, chunk);
      chunk = '';
    }
  }
  if (format === 'json') chunk += n === 0 ? ']\n' : '\n]\n';
  await writeChunk(io.out, chunk);
  return n;
}

function durationMs(option: string, text: string): number {
  try {
    return parseDuration(text) * 1000;
  } catch (err) {
    throw new Error(`${option}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/**
 * The `notify` command group (`export`) for `tattler collector`; `deps.now` (epoch ms) is for tests.
 */
export function collectorNotifyCommand(
  io: CliIo,
  deps: { readonly now?: () => number } = {},
): Command {
  const now = deps.now ?? (() => Date.now());
  const notify = new Command('notify').description(
    "the optional notify store: addresses answered FAIL, for the ISP's customer notification",
  );
  notify
    .command('export')
    .description(
      'print the notify store as CSV or JSON (least recently seen first); the store is opened read-only',
    )
    .requiredOption(
      '--db <path>',
      'the notify database the collector writes (notify.path in its configuration)',
    )
    .option('--since <duration>', 'only rows last seen within this duration, e.g. 7d, 12h')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('csv'))
    .option(
      '--retention <duration>',
      "hide rows last seen longer ago than this, as the collector would delete them; use the collector's notify retention",
      formatDuration(NOTIFY_DEFAULTS.retentionMs / 1000),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  tattler collector notify export --db /var/lib/tattler/notify.db --since 7d > notify.csv\n' +
        '  tattler collector notify export --db notify.db --format json\n\n' +
        'Columns: address, advisory, first_seen and last_seen (ISO 8601, UTC), count (sightings).\n' +
        'The file holds customer addresses: see docs/privacy.md before copying the export anywhere.\n',
    )
    .action(async (options: { db: string; since?: string; format: Format; retention: string }) => {
      const nowMs = now();
      const retentionMs = durationMs('--retention', options.retention);
      const sinceMs =
        options.since === undefined ? undefined : nowMs - durationMs('--since', options.since);
      const store = NotifyStore.open(options.db, { nowMs, retentionMs, readonly: true });
      try {
        const count = await writeEntries(
          io,
          store.entries(sinceMs === undefined ? {} : { sinceMs }),
          options.format,
        );
        io.err.write(`exported ${count.toLocaleString('en-US')} row(s) from ${options.db}\n`);
      } finally {
        store.close();
      }
    });
  return notify;
}
