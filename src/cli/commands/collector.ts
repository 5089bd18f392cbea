/**
 * `tattler collector`: loads and validates the collector's config (`--check-config FILE`), and
 * will serve with `--config FILE` once the collector is built (issue #5); today it says so.
 * @module
 */
import { collectorNotifyCommand } from './collector-notify.ts';
import { Command } from 'commander';
import {
  CollectorConfigError,
  loadCollectorConfig,
  summarizeCollectorConfig,
  type CollectorConfig,
} from '../../collector/config.ts';
import { CliExit } from '../exit.ts';
import type { CliIo } from '../io.ts';

/** Exit status of `--config` while serving is not built: distinct from 1 (bad config). */
export const EXIT_NOT_BUILT = 3;

interface CollectorOptions {
  readonly config?: string;
  readonly checkConfig?: string;
}

async function loadOrExplain(io: CliIo, file: string): Promise<CollectorConfig> {
  try {
    return await loadCollectorConfig(file);
  } catch (err) {
    if (!(err instanceof CollectorConfigError)) throw err;
    const count = err.problems.length;
    io.err.write(
      `${err.message}\ntattler collector: ${count} problem${count === 1 ? '' : 's'} in ${file}; see docs/collector.md\n`,
    );
    throw new CliExit(1);
  }
}

/** The `collector` subcommand. */
export function collectorCommand(io: CliIo): Command {
  const collector = new Command('collector')
    .description("run the ISP's anycast collector (not built yet), or check its config file")
    .option('--config <file>', 'YAML config file to run with (docs/collector.md)')
    .option(
      '--check-config <file>',
      'validate the config file, print the effective settings and exit',
    )
    .addHelpText(
      'after',
      '\nExit status: --check-config: 0 when the config is valid, 1 listing every problem.\n' +
        '--config: 1 for a bad config; 3 after a valid one, because serving is not built yet.\n' +
        '\nExample:\n  tattler collector --check-config /etc/tattler/collector.yaml\n',
    )
    .action(async function runCollector(options: CollectorOptions) {
      if ((options.config === undefined) === (options.checkConfig === undefined)) {
        io.err.write(
          'tattler collector: pass exactly one of --config FILE or --check-config FILE\n',
        );
        throw new CliExit(1);
      }
      if (options.checkConfig !== undefined) {
        const config = await loadOrExplain(io, options.checkConfig);
        io.out.write(`config ok\n${summarizeCollectorConfig(config)}`);
        return;
      }
      const config = await loadOrExplain(io, options.config ?? '');
      io.out.write(summarizeCollectorConfig(config));
      io.err.write(
        'tattler collector: the configuration is valid, but serving is not built yet (issue #5); nothing is listening\n',
      );
      throw new CliExit(EXIT_NOT_BUILT);
    });
  collector.addCommand(collectorNotifyCommand(io));
  return collector;
}
