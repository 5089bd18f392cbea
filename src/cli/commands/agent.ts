/**
 * `tattler agent`: runs the device agent (`--config FILE`) until SIGTERM/SIGINT (SIGHUP reloads,
 * SIGUSR1 announces now), checks its config (`--check-config FILE`), shows its state (`status`)
 * and asks a running agent to announce (`announce-now`).
 * @module
 */
import { Command, Option } from 'commander';
import { join } from 'node:path';
import {
  AgentConfigError,
  loadAgentConfig,
  loadAgentTrust,
  summarizeAgentConfig,
  type AgentSettings,
  type AgentTrust,
} from '../../agent/config.ts';
import { startAgentDaemon, type AgentDaemonDeps, type RunningAgent } from '../../agent/daemon.ts';
import {
  STATE_FILES,
  findRunningAgent,
  readPidFile,
  readStateFile,
  readStatusFile,
  type StatusRecord,
} from '../../agent/state-file.ts';
import type { PersistedState } from '../../agent/state.ts';
import { formatDuration } from '../../protocol/index.ts';
import {
  LOG_FORMATS,
  LOG_LEVELS,
  createLogSink,
  defaultLogFormat,
  type LogFormat,
  type LogLevel,
} from '../../logging/log.ts';
import { CliExit } from '../exit.ts';
import type { CliIo } from '../io.ts';

/** What the running agent does on a signal. */
export interface AgentSignalHandlers {
  reload(): void;
  announceNow(): void;
  stop(): void;
}

/** Injected process hooks and daemon dependencies (tests). */
export interface AgentCommandDeps {
  /** Installs the handlers and returns their removal; default: process signal handlers. */
  readonly onSignal?: (handlers: AgentSignalHandlers) => () => void;
  /** Overrides of the daemon's I/O (route layer, network monitor…); default the real ones. */
  readonly daemon?: Partial<Omit<AgentDaemonDeps, 'log'>>;
  /** Called once the agent runs. */
  readonly onStarted?: (agent: RunningAgent) => void;
}

function processSignals(handlers: AgentSignalHandlers): () => void {
  const reload = (): void => {
    handlers.reload();
  };
  const announce = (): void => {
    handlers.announceNow();
  };
  const stop = (): void => {
    handlers.stop();
  };
  process.on('SIGHUP', reload);
  process.on('SIGUSR1', announce);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return () => {
    process.off('SIGHUP', reload);
    process.off('SIGUSR1', announce);
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
}

async function loadOrExplain(io: CliIo, file: string): Promise<AgentSettings> {
  try {
    return await loadAgentConfig(file);
  } catch (err) {
    if (!(err instanceof AgentConfigError)) throw err;
    const count = err.problems.length;
    io.err.write(
      `${err.message}\ntattler agent: ${count} problem${count === 1 ? '' : 's'} in ${file}; see docs/agent.md\n`,
    );
    throw new CliExit(1);
  }
}

async function trustOrExplain(io: CliIo, settings: AgentSettings): Promise<AgentTrust> {
  try {
    return await loadAgentTrust(settings);
  } catch (err) {
    if (!(err instanceof AgentConfigError)) throw err;
    io.err.write(`${err.message}\ntattler agent: cannot start without its trust files\n`);
    throw new CliExit(1);
  }
}

/** The state directory from `--state-dir`, or the `stateDir` of `--config`. */
async function stateDirOf(
  io: CliIo,
  name: string,
  options: { stateDir?: string; config?: string },
): Promise<{ dir: string; settings?: AgentSettings }> {
  if ((options.stateDir === undefined) === (options.config === undefined)) {
    io.err.write(`tattler agent ${name}: pass exactly one of --state-dir DIR or --config FILE\n`);
    throw new CliExit(1);
  }
  if (options.stateDir !== undefined) return { dir: options.stateDir };
  const settings = await loadOrExplain(io, options.config ?? '');
  return { dir: settings.stateDir, settings };
}

/** The status a person sees, derived from the persisted state (and mode/enforcement when known). */
function statusOf(
  state: PersistedState,
  mode: string | undefined,
  enforcement: boolean | undefined,
): string {
  if (mode === 'off') return 'off';
  const fail = state.fail;
  if (fail === undefined) return 'clear';
  const override = state.override;
  if (
    override !== undefined &&
    override.swVersion === fail.swVersion &&
    fail.advisories.every((a) => override.advisories.includes(a))
  )
    return 'overridden';
  if (enforcement === false) return 'would-quarantine';
  return 'quarantined';
}

/** The one JSON object `status --json` prints (stable keys: the owner's status page reads it). */
export interface AgentStatusReport {
  readonly stateDir: string;
  readonly running: number | null;
  readonly mode: string | null;
  readonly enforcement: boolean | null;
  readonly status: string;
  readonly since: string | null;
  readonly reason: string | null;
  readonly fail: NonNullable<PersistedState['fail']> | null;
  readonly override: NonNullable<PersistedState['override']> | null;
  readonly lastExchange: NonNullable<PersistedState['lastExchange']> | null;
  readonly lastAccepted: string | null;
  readonly unanswered: number;
  readonly timeFloorSeconds: number;
}

function reportOf(
  dir: string,
  state: PersistedState,
  record: StatusRecord | undefined,
  settings: AgentSettings | undefined,
  running: number | undefined,
): AgentStatusReport {
  const mode = settings?.mode ?? record?.mode;
  const enforcement = settings?.enforcement ?? record?.enforcement;
  const status = statusOf(state, mode, enforcement);
  const recordMatches = record !== undefined && record.status === status;
  return {
    stateDir: dir,
    running: running ?? null,
    mode: mode ?? null,
    enforcement: enforcement ?? null,
    status,
    since: recordMatches ? record.sinceIso : null,
    reason: recordMatches ? record.reason : null,
    fail: state.fail ?? null,
    override: state.override ?? null,
    lastExchange: state.lastExchange ?? null,
    lastAccepted: record?.lastAcceptedIso ?? null,
    unanswered: state.unanswered,
    timeFloorSeconds: state.timeFloorSeconds,
  };
}

function duration(seconds: number): string {
  return seconds <= 0 ? '0s' : formatDuration(seconds);
}

function formatReport(report: AgentStatusReport): string {
  const fail = report.fail;
  const override = report.override;
  const last = report.lastExchange;
  const refusals = Object.entries(last?.refusals ?? {});
  const rows: [string, string][] = [
    [
      'mode',
      report.mode === null
        ? 'unknown (pass --config FILE to show it)'
        : `${report.mode}${report.enforcement === false ? ' (enforcement off)' : ''}`,
    ],
    [
      'status',
      `${report.status}${report.since === null ? '' : ` since ${report.since}`}${report.reason === null ? '' : ` (${report.reason})`}`,
    ],
    [
      'advisories',
      fail === null
        ? 'none in force'
        : `${fail.advisories.join(', ')} (${fail.mode} FAIL for software ${fail.swVersion}; ${duration(fail.remainingSeconds)} left at the last checkpoint)`,
    ],
    ...(fail === null
      ? []
      : [
          [
            'reachable',
            fail.remediationHosts.length === 0
              ? 'the LAN, DNS and the collectors'
              : `the LAN, DNS, the collectors and ${fail.remediationHosts.join(', ')}`,
          ] as [string, string],
        ]),
    [
      'override',
      override === null
        ? 'none'
        : `${JSON.stringify(override.reason)} for ${override.advisories.join(', ') || 'no advisory'} on ${override.swVersion}${override.remainingSeconds === undefined ? ', until resumed' : `, ${duration(override.remainingSeconds)} left`}`,
    ],
    [
      'last exchange',
      last === null
        ? 'none yet'
        : last.outcome === 'unanswered'
          ? `unanswered (${report.unanswered} in a row; nothing changes without a valid answer)`
          : `accepted ${(last.status ?? '?').toUpperCase()}, certificate scope ${last.scopeCheck ?? '?'}${report.lastAccepted === null ? '' : ` at ${report.lastAccepted}`}`,
    ],
    [
      'refusals',
      refusals.length === 0
        ? 'none in the last exchange'
        : refusals.map(([code, n]) => `${code} ${String(n)}`).join(', '),
    ],
    ['agent', report.running === null ? 'not running' : `running (pid ${report.running})`],
  ];
  return rows.map(([name, value]) => `${name.padEnd(15)}${value}\n`).join('');
}

function statusCommand(io: CliIo): Command {
  return new Command('status')
    .description("show the agent's state: status, advisories in force, last exchange")
    .option('--state-dir <dir>', 'the state directory (stateDir of the config)')
    .option('--config <file>', 'take the state directory, mode and enforcement from this config')
    .option('--json', 'print one JSON object instead of text')
    .addHelpText(
      'after',
      '\nStatus is one of: clear, quarantined, overridden, would-quarantine (enforcement off), off.\n' +
        'Exit status: 0 with the state printed; 1 when there is no state yet, it cannot be read,\n' +
        'or the options are wrong.\n' +
        '\nExamples:\n  tattler agent status --config /etc/tattler/agent.yaml\n' +
        '  tattler agent status --state-dir /var/lib/tattler --json\n',
    )
    .action(async function runStatus(options: {
      stateDir?: string;
      config?: string;
      json?: boolean;
    }) {
      const { dir, settings } = await stateDirOf(io, 'status', options);
      let read;
      try {
        read = await readStateFile(dir, { nowMs: Date.now() });
      } catch (err) {
        io.err.write(
          `tattler agent status: cannot read ${join(dir, STATE_FILES.state)}: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        throw new CliExit(1);
      }
      if (read.kind === 'missing') {
        io.err.write(
          `tattler agent status: no state in ${dir} yet (the agent writes ${STATE_FILES.state} once it has run; is the state directory right?)\n`,
        );
        throw new CliExit(1);
      }
      if (read.kind === 'corrupt') {
        io.err.write(
          `tattler agent status: ${join(dir, STATE_FILES.state)} is corrupt (${read.error.message})${read.movedTo === undefined ? '' : `; moved to ${read.movedTo}`}; the agent starts fresh\n`,
        );
        throw new CliExit(1);
      }
      const report = reportOf(
        dir,
        read.state,
        await readStatusFile(dir),
        settings,
        await findRunningAgent(dir),
      );
      io.out.write(options.json === true ? `${JSON.stringify(report)}\n` : formatReport(report));
    });
}

function announceNowCommand(io: CliIo): Command {
  return new Command('announce-now')
    .description('ask the running agent to announce now (sends it SIGUSR1)')
    .option('--state-dir <dir>', 'the state directory holding agent.pid')
    .option('--config <file>', 'take the state directory from this config')
    .addHelpText(
      'after',
      '\nExit status: 0 when the signal was sent; 1 when no agent runs with that state directory\n' +
        '(no agent.pid, or its pid is not a running tattler agent).\n' +
        '\nExample:\n  tattler agent announce-now --config /etc/tattler/agent.yaml\n',
    )
    .action(async function runAnnounceNow(options: { stateDir?: string; config?: string }) {
      const { dir } = await stateDirOf(io, 'announce-now', options);
      const pid = await readPidFile(dir);
      if (pid === undefined) {
        io.err.write(
          `tattler agent announce-now: no ${STATE_FILES.pid} in ${dir}: the agent is not running (start it with tattler agent --config FILE)\n`,
        );
        throw new CliExit(1);
      }
      if ((await findRunningAgent(dir)) !== pid) {
        io.err.write(
          `tattler agent announce-now: pid ${pid} in ${join(dir, STATE_FILES.pid)} is not a running tattler agent (a stale file); nothing sent\n`,
        );
        throw new CliExit(1);
      }
      try {
        process.kill(pid, 'SIGUSR1');
      } catch (err) {
        io.err.write(
          `tattler agent announce-now: cannot signal pid ${pid}: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        throw new CliExit(1);
      }
      io.out.write(`asked the agent (pid ${pid}) to announce now\n`);
    });
}

interface AgentOptions {
  readonly config?: string;
  readonly checkConfig?: string;
  readonly logFormat?: LogFormat;
  readonly logLevel: LogLevel;
}

/** The `agent` subcommand. */
export function agentCommand(io: CliIo, deps: AgentCommandDeps = {}): Command {
  const agent = new Command('agent')
    .description('run the device agent, check its config, show its state')
    .option('--config <file>', 'YAML config file to run with (docs/agent.md)')
    .option(
      '--check-config <file>',
      'validate the config file, print the effective settings and exit',
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines on stderr (default: text on a terminal, json otherwise)',
      ).choices(LOG_FORMATS),
    )
    .addOption(
      new Option('--log-level <level>', 'the least severe events logged')
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .addHelpText(
      'after',
      '\nExit status: --check-config: 0 when the config is valid, 1 listing every problem.\n' +
        '--config: runs until SIGTERM or SIGINT (exit 0; a quarantine stays in place: it is state,\n' +
        'not process). SIGHUP reloads the config, SIGUSR1 announces now. 1 for a bad config,\n' +
        'unreadable trust files, an unusable state directory or another agent on it.\n' +
        '\nExamples:\n  tattler agent --check-config /etc/tattler/agent.yaml\n' +
        '  tattler agent --config /etc/tattler/agent.yaml --log-format text\n' +
        '  tattler agent status --config /etc/tattler/agent.yaml\n' +
        '  tattler agent announce-now --state-dir /var/lib/tattler\n',
    )
    .action(async function runAgent(options: AgentOptions) {
      if ((options.config === undefined) === (options.checkConfig === undefined)) {
        io.err.write('tattler agent: pass exactly one of --config FILE or --check-config FILE\n');
        throw new CliExit(1);
      }
      if (options.checkConfig !== undefined) {
        const settings = await loadOrExplain(io, options.checkConfig);
        io.out.write(`config ok\n${summarizeAgentConfig(settings)}`);
        return;
      }
      const settings = await loadOrExplain(io, options.config ?? '');
      io.out.write(summarizeAgentConfig(settings));
      const trust = await trustOrExplain(io, settings);
      const log = createLogSink({
        format: options.logFormat ?? defaultLogFormat(process.stderr),
        level: options.logLevel,
        name: 'tattler-agent',
        write: (line) => {
          io.err.write(line);
        },
      });
      // SIGUSR1's default action in Node starts the inspector (a debugger on 127.0.0.1:9229):
      // hold it from now until the daemon's own handler is installed, then announce once.
      let earlyAnnounce = false;
      const holdAnnounce = (): void => {
        earlyAnnounce = true;
      };
      process.on('SIGUSR1', holdAnnounce);
      let running: RunningAgent;
      try {
        running = await startAgentDaemon(settings, trust, { ...deps.daemon, log });
      } catch (err) {
        process.off('SIGUSR1', holdAnnounce);
        io.err.write(`tattler agent: ${err instanceof Error ? err.message : String(err)}\n`);
        throw new CliExit(1);
      }
      const agent = running;
      deps.onStarted?.(agent);
      let remove = (): void => undefined;
      await new Promise<void>((resolve) => {
        let stopping = false;
        remove = (deps.onSignal ?? processSignals)({
          reload: () => {
            if (!stopping) void agent.reload();
          },
          announceNow: () => {
            if (!stopping) agent.announceNow();
          },
          stop: () => {
            if (stopping) return;
            stopping = true;
            void agent.close().then(resolve, resolve);
          },
        });
        process.off('SIGUSR1', holdAnnounce);
        if (earlyAnnounce) agent.announceNow();
      });
      remove();
    });
  agent.addCommand(statusCommand(io));
  agent.addCommand(announceNowCommand(io));
  return agent;
}
