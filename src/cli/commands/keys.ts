/**
 * `tattler keys generate`: a fresh Ed25519 key pair for one role, written as ROLE-KID.key
 * (PKCS#8 PEM, mode 0600) and ROLE-KID.pub (SPKI PEM); prints the fingerprint (kid).
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { encodePrivateKeyPem, encodePublicKeyPem, generatePrivateKey, toHex } from '../../crypto/index.ts';
import { writeFileAtomic } from '../files.ts';
import type { CliIo } from '../io.ts';

/** Roles a key can have (docs/keys.md). */
export const KEY_ROLES = ['root', 'feed', 'registry', 'collector'] as const;

/** The `keys` command group. */
export function keysCommand(io: CliIo): Command {
  const keys = new Command('keys').description('create and inspect Ed25519 keys for the trust roles');
  keys
    .command('generate')
    .description('generate a key pair: ROLE-KID.key (private, PKCS#8 PEM, mode 0600) and ROLE-KID.pub (public, SPKI PEM)')
    .addOption(new Option('--role <role>', 'what the key will sign').choices(KEY_ROLES).makeOptionMandatory())
    .requiredOption('--out <dir>', 'directory to write the two files into (created if missing)')
    .addHelpText('after', '\nExamples:\n  tattler keys generate --role root --out keys/\n  tattler keys generate --role collector --out /etc/tattler/\n\nThe printed fingerprint is the key id (kid): the first 8 bytes of SHA-256 of the raw key.\n')
    .action(async (options: { role: string; out: string }) => {
      await mkdir(options.out, { recursive: true });
      const key = generatePrivateKey();
      const kid = toHex(key.publicKey.kid);
      const base = join(options.out, `${options.role}-${kid}`);
      await writeFileAtomic(`${base}.key`, encodePrivateKeyPem(key), { mode: 0o600 });
      await writeFileAtomic(`${base}.pub`, encodePublicKeyPem(key.publicKey));
      io.out.write(`${options.role} key ${kid}\n  private: ${base}.key\n  public:  ${base}.pub\n`);
    });
  return keys;
}
