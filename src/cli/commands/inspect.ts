/**
 * `tattler inspect`: decodes a request or answer datagram (hex or a file) and prints what it
 * holds, or the exact error code and reason why it would be refused. For device implementers.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { fromHex } from '../../crypto/index.ts';
import { decodeRequest, decodeResponse, isProtocolError } from '../../protocol/index.ts';
import { CliExit } from '../exit.ts';
import type { CliIo } from '../io.ts';
import { toJson } from '../json.ts';

async function readInput(input: string): Promise<Uint8Array> {
  const trimmed = input.replace(/\s+/g, '');
  if (/^([0-9a-fA-F]{2})+$/.test(trimmed) && trimmed.length >= 8) return fromHex(trimmed);
  return new Uint8Array(await readFile(input));
}

/** The `inspect` subcommand. */
export function inspectCommand(io: CliIo): Command {
  return new Command('inspect')
    .description('decode a Tattler datagram (request or answer) and print it as JSON, or why it is refused')
    .argument('<datagram>', 'hex digits, or a file holding the raw datagram')
    .option('--as <kind>', 'decode as "request" or "response" (default: request if 1232 bytes)')
    .addHelpText('after', '\nExamples:\n  tattler inspect vectors/protocol/announcement.bin\n  tattler inspect 5801…  --as response\n')
    .action(async (input: string, options: { as?: string }) => {
      const bytes = await readInput(input);
      const as = options.as ?? (bytes.byteLength === 1232 ? 'request' : 'response');
      if (as !== 'request' && as !== 'response') throw new Error(`--as: expected request or response, got ${as}`);
      try {
        const decoded = as === 'request' ? decodeRequest(bytes) : decodeResponse(bytes);
        io.out.write(`${toJson({ bytes: bytes.byteLength, ...decoded })}\n`);
      } catch (err) {
        if (!isProtocolError(err)) throw err;
        io.out.write(`${toJson({ bytes: bytes.byteLength, refused: err.code, reason: err.message })}\n`);
        throw new CliExit(2);
      }
    });
}
