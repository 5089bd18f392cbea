/**
 * `tattler collector`: loads and validates the collector's config (`--check-config FILE`), or
 * serves with `--config FILE` until SIGTERM/SIGINT (SIGHUP reloads; src/collector/udp.ts).
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
import { formatListen, startCollector } from '../../collector/udp.ts';
import { startCollectorCluster } from '../../collector/cluster.ts';
import {
  LOG_FORMATS,
  LOG_LEVELS,
  createLogSink,
  defaultLogFormat,
  type LogFormat,
  type LogLevel,
} from '../../logging/log.ts';
import { Option } from 'commander';
import { CliExit } from '../exit.ts';
import type { CliIo } from '../io.ts';

/** What the serving collector does on a signal: reload (SIGHUP) or stop (SIGTERM, SIGINT). */
export interface SignalHandlers {
  reload(): void;
  stop(): void;
}

/** Injected process hooks; tests call the handlers themselves instead of sending real signals. */
export interface CollectorCommandDeps {
  /** Installs the handlers and returns their removal; default: process signal handlers. */
  readonly onSignal?: (handlers: SignalHandlers) => () => void;
}

function processSignals(handlers: SignalHandlers): () => void {
  const reload = (): void => {
    handlers.reload();
  };
  const stop = (): void => {
    handlers.stop();
  };
  // SIGHUP may come many times; the first SIGTERM or SIGINT stops.
  process.on('SIGHUP', reload);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return () => {
    process.off('SIGHUP', reload);
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
}

interface CollectorOptions {
  readonly config?: string;
  readonly checkConfig?: string;
  readonly logFormat?: LogFormat;
  readonly logLevel: LogLevel;
}

/** What the command serves with: one process, or a primary with its workers. */
interface Serving {
  addresses(): { address: string; port: number }[];
  opsAddress(): { address: string; port: number } | undefined;
  reload(): Promise<void>;
  close(): Promise<void>;
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
export function collectorCommand(io: CliIo, deps: CollectorCommandDeps = {}): Command {
  const collector = new Command('collector')
    .description("run the ISP's anycast collector, or check its config file")
    .option('--config <file>', 'YAML config file to run with (docs/collector.md)')
    .option(
      '--check-config <file>',
      'validate the config file, print the effective settings and exit',
    )
    .addOption(
      new Option('--log-format <format>', 'log lines on stderr (default: text on a terminal, json otherwise)').choices(
        LOG_FORMATS,
      ),
    )
    .addOption(
      new Option('--log-level <level>', 'the least severe events logged').choices(LOG_LEVELS).default('info'),
    )
    .addHelpText(
      'after',
      '\nExit status: --check-config: 0 when the config is valid, 1 listing every problem.\n' +
        '--config: serves until SIGTERM or SIGINT (exit 0); SIGHUP reloads the config, key,\n' +
        'certificate and feed. 1 for a bad config, an unreadable file, a bad feed or a port in use.\n' +
        'A feed.url is fetched at start (failure: exit 1) and pulled every feed.pullInterval.\n' +
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
      const logFormat = options.logFormat ?? defaultLogFormat(process.stderr);
      const log = createLogSink({
        format: logFormat,
        level: options.logLevel,
        name: 'tattler-collector',
        write: (line) => {
          io.err.write(line);
        },
      });
      let running: Serving;
      try {
        running =
          config.workers > 1
            ? await startCollectorCluster(config, { log, logFormat, logLevel: options.logLevel })
            : await startCollector(config, { log });
      } catch (err) {
        io.err.write(`tattler collector: ${err instanceof Error ? err.message : String(err)}\n`);
        throw new CliExit(1);
      }
      const collector = running;
      const ops = collector.opsAddress();
      io.err.write(
        `tattler collector: listening on ${collector.addresses().map(formatListen).join(', ')}` +
          (config.workers > 1 ? ` with ${config.workers} workers` : '') +
          `${ops === undefined ? '' : `; metrics on http://${formatListen(ops)}/metrics`}\n`,
      );
      let remove = (): void => undefined;
      await new Promise<void>((resolve) => {
        let stopping = false;
        remove = (deps.onSignal ?? processSignals)({
          reload: () => {
            if (!stopping) void collector.reload();
          },
          stop: () => {
            if (stopping) return;
            stopping = true;
            void collector.close().then(resolve, resolve);
          },
        });
      });
      remove();
      io.err.write('tattler collector: stopped\n');
    });
  collector.addCommand(collectorNotifyCommand(io));
  return collector;
}
