/**
 * `tattler demo`: the whole system on this machine with nothing to configure (src/demo/run.ts,
 * docs/demo.md); `--cleanup` removes what a crashed run left behind.
 * @module
 */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { parseDuration } from '../../protocol/index.ts';
import { DEFAULT_DASHBOARD_PORT, MAX_DEMO_DEVICES, cleanupDemo, runDemo } from '../../demo/run.ts';
import { CliExit } from '../exit.ts';
import type { CliIo } from '../io.ts';

interface DemoOptions {
  readonly devices: string;
  readonly duration?: string;
  readonly json?: boolean;
  readonly data: string;
  readonly httpPort: string;
  readonly collectorPort: string;
  readonly mode: 'auto' | 'netns' | 'loopback';
  readonly keepData?: boolean;
  readonly cleanup?: boolean;
}

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new Error(`${name} ${JSON.stringify(text)}: expected a whole number ${String(min)}..${String(max)}`);
  return Number(text);
}

/** The `demo` command. */
export function demoCommand(io: CliIo): Command {
  return new Command('demo')
    .description(
      'Run the whole system here: throwaway keys and trust root, a signed feed from the real records ' +
        'in vectors/feeds, a collector with its dashboard, and devices of real models announcing to it. ' +
        'As root with iproute2 the devices run in network namespaces and a FAIL really takes the ' +
        "device's default route; otherwise they run on loopback with enforcement simulated (it says so). " +
        'Everything it makes is removed when it stops (Ctrl-C, SIGTERM, --duration, or an error).',
    )
    .option('--devices <n>', `how many devices (1..${String(MAX_DEMO_DEVICES)})`, '20')
    .option('--duration <time>', 'stop by itself after this long once the devices run (30s, 2m); default: until Ctrl-C')
    .option('--json', 'for scripts: progress on stderr, and the last line of stdout is the JSON summary')
    .option('--data <dir>', 'where the throwaway keys, feed and device state go', 'demo-data')
    .option('--http-port <port>', 'the dashboard port (0: any free port; a busy default takes a free one)', String(DEFAULT_DASHBOARD_PORT))
    .option('--collector-port <port>', "the collector's UDP port (0: any free port)", '0')
    .addOption(new Option('--mode <mode>', 'where the devices run').choices(['auto', 'netns', 'loopback']).default('auto'))
    .option('--keep-data', 'keep the data directory at the end (to run `tattler report vendors` on it)')
    .option('--cleanup', 'remove what a crashed run left (namespaces, its processes, the data directory) and exit')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npm start                                  # the same as: tattler demo\n' +
        '  sudo tattler demo                          # real namespaces and routes\n' +
        '  tattler demo --devices 20 --duration 30s --json | tail -n 1\n' +
        '  tattler demo --cleanup\n\n' +
        'Exit status: 0 when every device that had to be quarantined was, no other was, and nothing\n' +
        'was left behind; 1 otherwise. A signal stops the demo cleanly (same rule, never 130/143).\n',
    )
    .action(async (options: DemoOptions) => {
      const dataDir = resolve(options.data);
      const say = (line: string): void => void io.err.write(`tattler demo: ${line}\n`);
      if (options.cleanup === true) {
        const removed = await cleanupDemo(dataDir, say);
        say(removed.length === 0 ? 'nothing to clean up' : `removed ${String(removed.length)}: ${removed.join(', ')}`);
        return;
      }
      const devices = integer('--devices', options.devices, 1, MAX_DEMO_DEVICES);
      const httpPort = integer('--http-port', options.httpPort, 0, 65_535);
      const collectorPort = integer('--collector-port', options.collectorPort, 0, 65_535);
      let durationMs: number | null = null;
      if (options.duration !== undefined) {
        let seconds: number;
        try {
          seconds = parseDuration(options.duration);
        } catch {
          throw new Error(`--duration ${JSON.stringify(options.duration)}: expected a duration such as 30s, 2m or 1h`);
        }
        if (seconds < 1) throw new Error('--duration must be at least 1s');
        durationMs = seconds * 1000;
      }
      const controller = new AbortController();
      const stop = (): void => {
        controller.abort();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const out = process.stdout;
      const live = options.json !== true && out.isTTY;
      try {
        const result = await runDemo({
          devices,
          durationMs,
          json: options.json === true,
          dataDir,
          httpPort,
          collectorPort,
          mode: options.mode,
          keepData: options.keepData === true,
          out: { write: (text: string) => io.out.write(text) } as NodeJS.WritableStream,
          err: { write: (text: string) => io.err.write(text) } as NodeJS.WritableStream,
          live,
          color: live && process.env.NO_COLOR === undefined,
          signal: controller.signal,
        });
        const s = result.summary;
        if (options.json === true) io.out.write(`${JSON.stringify(s)}\n`);
        else
          io.out.write(
            `\n${s.mode} mode, ${String(s.devices)} devices: PASS ${String(s.verdicts.pass)}, FAIL ${String(s.verdicts.fail)}, WARN ${String(s.verdicts.warn)}, UNKNOWN ${String(s.verdicts.unknown)}; ` +
              `quarantined ${String(s.quarantined)} (wrongly ${String(s.wronglyQuarantined)}, missed ${String(s.missed)}), restored ${String(s.restored)}, ` +
              `time to quarantine p50 ${String(s.timeToQuarantineMs.p50 ?? '–')} ms / p99 ${String(s.timeToQuarantineMs.p99 ?? '–')} ms; left behind: ${String(s.leftovers)}\n`,
          );
        if (result.exitCode !== 0) throw new CliExit(result.exitCode);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
