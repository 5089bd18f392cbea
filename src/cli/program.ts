/**
 * Builds the `tattler` command tree. Each subcommand lives in commands/<verb>.ts.
 * @module
 */
import { Command } from 'commander';
import { agentCommand } from './commands/agent.ts';
import { checkCommand } from './commands/check.ts';
import { collectorCommand } from './commands/collector.ts';
import { demoCommand } from './commands/demo.ts';
import { feedCommand } from './commands/feed.ts';
import { inspectCommand } from './commands/inspect.ts';
import { keysCommand } from './commands/keys.ts';
import { registryCommand } from './commands/registry.ts';
import { reportCommand } from './commands/report.ts';
import { rootCommand } from './commands/root.ts';
import type { CliIo } from './io.ts';

/** The `tattler` program, writing to `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('tattler')
    .description(
      'Tattler: IoT devices announce their model and firmware; the ISP answers with a signed verdict;\n' +
        'a device with a valid FAIL keeps only its LAN until it is fixed or its owner overrides.',
    )
    .version('0.1.0')
    // Program options only before the subcommand: `tattler check --version X` is check's own option.
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .showHelpAfterError();
  program.addCommand(inspectCommand(io));
  program.addCommand(keysCommand(io));
  program.addCommand(rootCommand(io));
  program.addCommand(registryCommand(io));
  program.addCommand(checkCommand(io));
  program.addCommand(feedCommand(io));
  program.addCommand(collectorCommand(io));
  program.addCommand(agentCommand(io));
  program.addCommand(demoCommand(io));
  program.addCommand(reportCommand(io));
  // addCommand() does not pass output settings down: give every subcommand the program's streams.
  const inherit = (command: Command): void => {
    for (const sub of command.commands) {
      sub.copyInheritedSettings(command);
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}
