/**
 * `tattler root init | rotate | verify`: create, rotate and check root documents, the threshold-
 * signed lists of root, feed and registry keys that devices follow version by version.
 * @module
 */
import { Command, InvalidArgumentError } from 'commander';
import { toHex, type PrivateKey, type PublicKey } from '../../crypto/index.ts';
import { decodeCbor, encodeCbor, readRoot, signRoot, type Root, type SignedRoot } from '../../protocol/index.ts';
import { followRootChain, isSelfSigned, verifyRootLink } from '../../protocol/trust-root.ts';
import { CliExit } from '../exit.ts';
import { readPrivateKeyFile, readPublicKeyFile, readRootFile, writeFileAtomic } from '../files.ts';
import type { CliIo } from '../io.ts';

function parseThreshold(text: string): number {
  if (!/^[1-9][0-9]*$/.test(text)) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return Number(text);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

async function readPublics(paths: readonly string[] | undefined): Promise<PublicKey[] | undefined> {
  return paths === undefined ? undefined : Promise.all(paths.map(readPublicKeyFile));
}

function describe(root: Root): string {
  const kids = (keys: readonly Uint8Array[]): string => keys.map((k) => toHex(k).slice(0, 12)).join(', ');
  return `root v${root.version}: threshold ${root.threshold} of ${root.rootKeys.length} root keys; feed keys [${kids(root.feedKeys)}…]; registry keys [${kids(root.registryKeys)}…]`;
}

function signAndCheck(out: string, signers: PrivateKey[], value: Root, check: (signed: SignedRoot) => string | undefined): Uint8Array {
  const bytes = encodeCbor(signRoot(signers, value));
  // Check exactly the bytes that will be written, as a device would read them.
  const problem = check(readRoot(decodeCbor(bytes)));
  if (problem !== undefined) throw new Error(`${out}: not written: ${problem}`);
  return bytes;
}

/** The `root` command group. */
export function rootCommand(io: CliIo): Command {
  const root = new Command('root').description('create, rotate and verify root documents (the device trust anchor)');

  root
    .command('init')
    .description('create root v1 and sign it with at least THRESHOLD of its own root keys')
    .requiredOption('--threshold <n>', 'root signatures needed for the next version', parseThreshold)
    .requiredOption('--keys <pub...>', 'root public keys (1..5 .pub files)')
    .requiredOption('--feed-key <pub...>', 'feed-signing public keys (1..4)')
    .requiredOption('--registry-key <pub...>', 'registry public keys (1..4)')
    .requiredOption('--sign <key...>', 'root private keys to sign with (at least THRESHOLD of --keys)')
    .requiredOption('--out <file>', 'where to write the signed root (.cbor)')
    .addHelpText('after', '\nExample:\n  tattler root init --threshold 2 --keys k/root-a.pub k/root-b.pub k/root-c.pub \\\n    --feed-key k/feed-f.pub --registry-key k/registry-r.pub --sign k/root-a.key k/root-b.key --out root-v1.cbor\n')
    .action(async (o: { threshold: number; keys: string[]; feedKey: string[]; registryKey: string[]; sign: string[]; out: string }) => {
      const [rootKeys, feedKeys, registryKeys, signers] = await Promise.all([readPublics(o.keys), readPublics(o.feedKey), readPublics(o.registryKey), Promise.all(o.sign.map(readPrivateKeyFile))]);
      if (o.threshold > o.keys.length) throw new Error(`--threshold ${o.threshold}: more than the ${o.keys.length} root keys given; lower it or add --keys`);
      const value: Root = { version: 1, threshold: o.threshold, rootKeys: (rootKeys ?? []).map((k) => k.raw), feedKeys: (feedKeys ?? []).map((k) => k.raw), registryKeys: (registryKeys ?? []).map((k) => k.raw), issuedAt: nowSeconds() };
      const bytes = signAndCheck(o.out, signers, value, (signed) =>
        isSelfSigned(signed) ? undefined : `fewer than ${o.threshold} of the --keys signed it; pass at least ${o.threshold} matching private keys with --sign`,
      );
      await writeFileAtomic(o.out, bytes);
      io.out.write(`wrote ${o.out}: ${describe(value)}\n`);
    });

  root
    .command('rotate')
    .description('create version N+1 of a root, signed by the thresholds of both N and N+1')
    .requiredOption('--from <file>', 'the current root document (version N)')
    .requiredOption('--out <file>', 'where to write version N+1 (.cbor)')
    .requiredOption('--sign <key...>', 'private keys: enough old root keys for N and new ones for N+1')
    .option('--threshold <n>', 'new threshold (default: unchanged)', parseThreshold)
    .option('--keys <pub...>', 'new root public keys (default: unchanged)')
    .option('--feed-key <pub...>', 'new feed public keys (default: unchanged)')
    .option('--registry-key <pub...>', 'new registry public keys (default: unchanged)')
    .addHelpText('after', '\nExamples:\n  tattler root rotate --from root-v1.cbor --out root-v2.cbor --feed-key k/feed-new.pub --sign k/root-a.key k/root-b.key\n  tattler root rotate --from root-v2.cbor --out root-v3.cbor --threshold 3 --keys a.pub b.pub c.pub d.pub --sign a.key b.key c.key\n')
    .action(async (o: { from: string; out: string; sign: string[]; threshold?: number; keys?: string[]; feedKey?: string[]; registryKey?: string[] }) => {
      const current = await readRootFile(o.from);
      const [rootKeys, feedKeys, registryKeys, signers] = await Promise.all([readPublics(o.keys), readPublics(o.feedKey), readPublics(o.registryKey), Promise.all(o.sign.map(readPrivateKeyFile))]);
      const c = current.value;
      const value: Root = {
        version: c.version + 1,
        threshold: o.threshold ?? c.threshold,
        rootKeys: rootKeys?.map((k) => k.raw) ?? c.rootKeys,
        feedKeys: feedKeys?.map((k) => k.raw) ?? c.feedKeys,
        registryKeys: registryKeys?.map((k) => k.raw) ?? c.registryKeys,
        issuedAt: Math.max(nowSeconds(), c.issuedAt),
      };
      if (value.threshold > value.rootKeys.length) throw new Error(`--threshold ${value.threshold}: more than the ${value.rootKeys.length} root keys; lower it or add --keys`);
      const bytes = signAndCheck(o.out, signers, value, (signed) => {
        const link = verifyRootLink(c, signed);
        return link.ok ? undefined : `${link.reason}: ${link.message}; add --sign keys of ${from(link.reason, o.from)}`;
      });
      await writeFileAtomic(o.out, bytes);
      io.out.write(`wrote ${o.out}: ${describe(value)}\n`);
    });

  root
    .command('verify')
    .description('follow a chain of root documents from a trusted one, as a device does; exit 2 on a refused link')
    .argument('<files...>', 'root documents N+1, N+2, … in order')
    .requiredOption('--trusted <file>', 'the root the device ships with (or has reached)')
    .addHelpText('after', '\nExample:\n  tattler root verify root-v2.cbor root-v3.cbor --trusted root-v1.cbor\n')
    .action(async (files: string[], o: { trusted: string }) => {
      const trusted = await readRootFile(o.trusted);
      if (!isSelfSigned(trusted)) throw new Error(`${o.trusted}: not signed by its own threshold of root keys; it cannot be a trust anchor`);
      const chain = await Promise.all(files.map(readRootFile));
      const result = followRootChain(trusted.value, chain);
      for (const [i, version] of result.accepted.entries()) io.out.write(`ok      ${files[i] ?? '?'}: root v${version}\n`);
      if (result.refused !== undefined) {
        io.out.write(`REFUSED ${files[result.refused.index] ?? '?'}: ${result.refused.reason}: ${result.refused.message}\n`);
        io.out.write(`current: root v${result.root.version}\n`);
        throw new CliExit(2);
      }
      io.out.write(`current: ${describe(result.root)}\n`);
    });
  return root;
}

function from(reason: string, file: string): string {
  return reason === 'ROOT_UNDER_SIGNED_PREVIOUS' ? `the root keys listed in ${file}` : 'the new root keys';
}
