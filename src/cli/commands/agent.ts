/**
 * `tattler agent`: runs the device agent (`--config FILE`) until SIGTERM/SIGINT (SIGHUP reloads,
 * SIGUSR1 announces now, SIGUSR2 takes an owner request), checks its config (`--check-config
 * FILE`), shows its state (`status`), asks a running agent to announce (`announce-now`), and
 * overrides or resumes its quarantine for the owner (`override`, `resume`).
 * @module
 */
import { Command, Option } from 'commander';
import { randomBytes } from 'node:crypto';
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
import {
  MAX_OVERRIDE_SECONDS,
  waitForOwnerOutcome,
  writeOwnerRequest,
  type OwnerRequest,
} from '../../agent/owner-request.ts';
import { MAX_REASON_BYTES, type PersistedState } from '../../agent/state.ts';
import { formatDuration, parseDuration } from '../../protocol/index.ts';
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
  /** SIGUSR2: an owner request waits in owner-request.json. */
  ownerRequest(): void;
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
  const ownerRequest = (): void => {
    handlers.ownerRequest();
  };
  process.on('SIGHUP', reload);
  process.on('SIGUSR1', announce);
  process.on('SIGUSR2', ownerRequest);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return () => {
    process.off('SIGHUP', reload);
    process.off('SIGUSR1', announce);
    process.off('SIGUSR2', ownerRequest);
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

/** How long `override`/`resume` wait for the agent's answer in status.json. */
export const OWNER_REQUEST_TIMEOUT_MS = 5_000;

/** The running agent's pid for `name`, or exit 1 saying why there is none. */
async function runningAgentOrExit(io: CliIo, name: string, dir: string): Promise<number> {
  const pid = await readPidFile(dir);
  if (pid === undefined) {
    io.err.write(
      `tattler agent ${name}: no ${STATE_FILES.pid} in ${dir}: the agent is not running (start it with tattler agent --config FILE)\n`,
    );
    throw new CliExit(1);
  }
  if ((await findRunningAgent(dir)) !== pid) {
    io.err.write(
      `tattler agent ${name}: pid ${pid} in ${join(dir, STATE_FILES.pid)} is not a running tattler agent (a stale file); nothing sent\n`,
    );
    throw new CliExit(1);
  }
  return pid;
}

function ownerRequestCommand(io: CliIo, action: 'override' | 'resume'): Command {
  const command = new Command(action)
    .description(
      action === 'override'
        ? "the owner overrides the quarantine in force: full network access at the owner's risk"
        : "end the owner's override: the quarantine applies again",
    )
    .option('--state-dir <dir>', 'the state directory holding agent.pid')
    .option('--config <file>', 'take the state directory from this config');
  if (action === 'override')
    command
      .requiredOption(
        '--reason <text>',
        `why (kept and shown to the owner; at most ${MAX_REASON_BYTES} bytes)`,
      )
      .option('--until <duration>', 'for how long, e.g. 2h or 1d (default: until resumed)');
  return command
    .addHelpText(
      'after',
      `\nThe request goes to the running agent (owner-request.json in the state directory and\n` +
        `SIGUSR2); it answers in status.json within ${OWNER_REQUEST_TIMEOUT_MS / 1000} s.\n` +
        (action === 'override'
          ? 'An override covers the FAIL in force only: a new FAIL for other advisories quarantines again.\n'
          : '') +
        `Exit status: 0 with the new status printed; 1 when no agent runs, when ${action === 'override' ? 'the device is not quarantined or the override does not cover the FAIL' : 'no override is in force'}, or no answer came.\n` +
        `\nExample:\n  tattler agent ${action} ${action === 'override' ? '--reason "camera needed tonight" --until 12h ' : ''}--config /etc/tattler/agent.yaml\n`,
    )
    .action(async function runOwnerRequest(options: {
      stateDir?: string;
      config?: string;
      reason?: string;
      until?: string;
    }) {
      const { dir } = await stateDirOf(io, action, options);
      let request: OwnerRequest;
      const id = randomBytes(8).toString('hex');
      if (action === 'override') {
        const reason = (options.reason ?? '').trim();
        if (
          reason === '' ||
          Buffer.byteLength(reason) > MAX_REASON_BYTES ||
          /\p{Cc}/u.test(reason)
        ) {
          io.err.write(
            `tattler agent override: --reason: expected text of 1 to ${MAX_REASON_BYTES} bytes without control characters\n`,
          );
          throw new CliExit(1);
        }
        let forSeconds: number | undefined;
        if (options.until !== undefined) {
          try {
            forSeconds = parseDuration(options.until);
          } catch (err) {
            io.err.write(
              `tattler agent override: --until: ${err instanceof Error ? err.message : String(err)}\n`,
            );
            throw new CliExit(1);
          }
          if (forSeconds > MAX_OVERRIDE_SECONDS) {
            io.err.write(`tattler agent override: --until: at most 366d\n`);
            throw new CliExit(1);
          }
        }
        request = { id, action, reason, ...(forSeconds === undefined ? {} : { forSeconds }) };
      } else request = { id, action };
      const pid = await runningAgentOrExit(io, action, dir);
      await writeOwnerRequest(dir, request);
      try {
        process.kill(pid, 'SIGUSR2');
      } catch (err) {
        io.err.write(
          `tattler agent ${action}: cannot signal pid ${pid}: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        throw new CliExit(1);
      }
      const record = await waitForOwnerOutcome(dir, id, { timeoutMs: OWNER_REQUEST_TIMEOUT_MS });
      const outcome = record?.ownerRequest;
      if (record === undefined || outcome === undefined) {
        io.err.write(
          `tattler agent ${action}: the agent (pid ${pid}) did not answer within ${OWNER_REQUEST_TIMEOUT_MS / 1000} s; see its log (the request stays in ${join(dir, STATE_FILES.ownerRequest)} until it runs)\n`,
        );
        throw new CliExit(1);
      }
      if (!outcome.ok) {
        io.err.write(`tattler agent ${action}: ${outcome.message}\n`);
        throw new CliExit(1);
      }
      io.out.write(
        `${action === 'override' ? 'overridden' : 'resumed'}: status ${record.status} since ${record.sinceIso} (${record.reason})\n`,
      );
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
        'not process). SIGHUP reloads the config, SIGUSR1 announces now, SIGUSR2 takes an owner\n' +
        'request (override, resume). 1 for a bad config,\n' +
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
      // SIGUSR2's default action ends the process: hold it the same way (an owner request).
      let earlyOwnerRequest = false;
      const holdOwnerRequest = (): void => {
        earlyOwnerRequest = true;
      };
      process.on('SIGUSR2', holdOwnerRequest);
      // SIGTERM/SIGINT while the daemon starts (it re-applies a quarantine before it returns)
      // would end the process half-started: hold them too and stop cleanly once it runs.
      let earlyStop = false;
      const holdStop = (): void => {
        earlyStop = true;
      };
      process.on('SIGTERM', holdStop);
      process.on('SIGINT', holdStop);
      const release = (): void => {
        process.off('SIGUSR1', holdAnnounce);
        process.off('SIGUSR2', holdOwnerRequest);
        process.off('SIGTERM', holdStop);
        process.off('SIGINT', holdStop);
      };
      let running: RunningAgent;
      try {
        running = await startAgentDaemon(settings, trust, {
          onOwnerSecret: (secret) => {
            io.err.write(
              `tattler agent: owner secret for the status page (shown once, write it down): ${secret}\n`,
            );
          },
          ...deps.daemon,
          log,
        });
      } catch (err) {
        release();
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
          ownerRequest: () => {
            if (!stopping) agent.handleOwnerRequest();
          },
          stop: () => {
            if (stopping) return;
            stopping = true;
            void agent.close().then(resolve, resolve);
          },
        });
        release();
        if (earlyStop) {
          stopping = true;
          void agent.close().then(resolve, resolve);
          return;
        }
        if (earlyAnnounce) agent.announceNow();
        // A request signalled before the handler was installed: take it now.
        if (earlyOwnerRequest) agent.handleOwnerRequest();
      });
      remove();
    });
  agent.addCommand(statusCommand(io));
  agent.addCommand(announceNowCommand(io));
  agent.addCommand(ownerRequestCommand(io, 'override'));
  agent.addCommand(ownerRequestCommand(io, 'resume'));
  return agent;
}
