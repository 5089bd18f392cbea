/**
 * `tattler check`: is this device vulnerable according to the feed database? Prints the matcher's
 * verdict as one JSON object (`--json`, the acceptance format) or as a readable explanation.
 * Exit status 0 whatever the verdict (the verdict is in the output); 1 for bad input.
 * @module
 */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { matchDevice, type DeviceIdentity, type Match, type MatchResult } from '../../feed/match.ts';
import { FeedStore } from '../../feed/store.ts';
import type { FeedReader } from '../../feed/types.ts';
import { CliExit } from '../exit.ts';
import type { CliIo } from '../io.ts';

/** An open feed database: a reader that may need closing. */
export type OpenedReader = FeedReader & { close?(): void };

/** What `check` needs from outside, injected so tests run against an in-memory reader. */
export interface CheckDeps {
  /** Opens the database at `path` read-only; throws an Error whose message names the path. */
  readonly openReader: (path: string) => OpenedReader;
}

/** Opens the SQLite feed database read-only, with a clear message when the file is missing. */
export function openFeedReader(path: string): OpenedReader {
  if (!existsSync(path)) {
    throw new Error(`${path}: no feed database there; create it with "tattler feed import --db ${path} --nvd FILE" first`);
  }
  return FeedStore.open(path, { readonly: true });
}

const DEFAULT_DEPS: CheckDeps = Object.freeze({ openReader: openFeedReader });

interface CheckOptions {
  readonly db: string;
  readonly vendor: string;
  readonly model: string;
  readonly version: string;
  readonly hwVersion?: string;
  readonly cpe?: string;
  readonly software?: string;
  readonly json?: boolean;
}

/** The `--json` object, keys in the documented order. */
export function checkJson(result: MatchResult): string {
  return JSON.stringify({
    status: result.status,
    matches: result.matches.map((m) => ({
      id: m.id,
      source: m.source,
      kev: m.kev,
      cvss: m.cvss,
      fixed: [...m.fixed],
      confidence: m.confidence,
      reason: m.reason,
    })),
  });
}

function describeMatch(m: Match): string {
  const head = [m.id, m.kev ? 'KEV (known exploited)' : null, m.cvss === null ? 'CVSS unknown' : `CVSS ${m.cvss}`, `confidence ${m.confidence}`, `source ${m.source}`]
    .filter((x) => x !== null)
    .join(' · ');
  const fixed = m.fixed.length === 0 ? 'no fixed version named' : `fixed in ${m.fixed.join(', ')}`;
  return `  ${head}\n    why: ${m.reason}\n    ${fixed}\n`;
}

/** The readable explanation of a verdict. */
export function checkText(device: DeviceIdentity, result: MatchResult): string {
  const who = `${device.vendor} ${device.model}${device.hwVersion === undefined ? '' : ` (hardware ${device.hwVersion})`} version ${device.version}`;
  switch (result.status) {
    case 'unknown':
      return `${who}: UNKNOWN — the feed has no record for this vendor and model (names are compared after canonicalisation and vendor aliases). This is not a clean bill of health.\n`;
    case 'not-vulnerable':
      return `${who}: NOT VULNERABLE — the feed has records for this model, and none covers this version and hardware revision.\n`;
    case 'vulnerable': {
      const kev = result.matches.filter((m) => m.kev).length;
      const low = result.matches.filter((m) => m.confidence === 'low').length;
      const summary = `${result.matches.length} advisor${result.matches.length === 1 ? 'y' : 'ies'}` +
        (kev > 0 ? `, ${kev} known exploited (CISA KEV)` : '') + (low > 0 ? `, ${low} with low confidence` : '');
      return `${who}: VULNERABLE — ${summary}\n${result.matches.map(describeMatch).join('')}`;
    }
  }
}

function fail(io: CliIo, message: string): never {
  io.err.write(`tattler check: ${message}\n`);
  throw new CliExit(1);
}

/** The `check` subcommand; `deps.openReader` opens the database (injected in tests). */
export function checkCommand(io: CliIo, deps: CheckDeps = DEFAULT_DEPS): Command {
  return new Command('check')
    .description('decide whether a device is vulnerable according to the feed database, and say why')
    .requiredOption('--db <path>', 'feed database (from "tattler feed import")')
    .requiredOption('--vendor <name>', 'device vendor, any spelling ("D-Link", "dlink")')
    .requiredOption('--model <name>', 'device model, any spelling ("DIR-859")')
    .requiredOption('--version <version>', 'software/firmware version as the device reports it')
    .option('--hw-version <revision>', 'hardware revision ("A1", "v8")')
    .option('--cpe <cpe>', 'a CPE 2.3 name of the device, looked up as another identity')
    .option('--software <name>', 'the software the device runs ("RouterOS", "DSM"): advisories filed under an OS name apply')
    .option('--json', 'print one JSON object: {"status", "matches": [...]}')
    .addHelpText('after', '\nExit status: 0 whatever the verdict (read status); 1 for bad input or a missing database.\n' +
      '\nExample:\n  tattler check --db feed.db --vendor D-Link --model DIR-859 --version 1.05B03 --json\n')
    .action(function runCheck(options: CheckOptions) {
      for (const [flag, value] of [['--vendor', options.vendor], ['--model', options.model], ['--version', options.version]] as const) {
        if (value.trim() === '') fail(io, `${flag}: expected a non-empty value`);
      }
      let reader: OpenedReader;
      try {
        reader = deps.openReader(options.db);
      } catch (err) {
        fail(io, err instanceof Error ? err.message : String(err));
      }
      const device: DeviceIdentity = {
        vendor: options.vendor,
        model: options.model,
        version: options.version,
        ...(options.hwVersion === undefined ? {} : { hwVersion: options.hwVersion }),
        ...(options.cpe === undefined ? {} : { cpe: options.cpe }),
        ...(options.software === undefined ? {} : { software: options.software }),
      };
      let result: MatchResult;
      try {
        result = matchDevice(reader, device);
      } catch (err) {
        // ProtocolError (a name with nothing left) and FeedError (a bad --cpe) are bad input.
        if (err instanceof Error && (err.name === 'ProtocolError' || err.name === 'FeedError')) fail(io, err.message);
        throw err;
      } finally {
        reader.close?.();
      }
      io.out.write(options.json === true ? `${checkJson(result)}\n` : checkText(device, result));
    });
}
