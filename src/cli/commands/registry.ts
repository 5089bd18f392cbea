/**
 * `tattler registry issue | show`: key certificates that bind a collector key to an operator, an
 * address scope and at most 7 days of validity.
 * @module
 */
import { Command } from 'commander';
import { keyId, toHex } from '../../crypto/index.ts';
import { encodeCbor, formatPrefix, MAX_CERTIFICATE_VALIDITY_SECONDS, parsePrefix, signKeyCertificate, verifySign1, type IpPrefix } from '../../protocol/index.ts';
import { formatDuration, parseDuration } from '../../protocol/duration.ts';
import { keyByKid, trustAnchorsOf } from '../../protocol/trust-root.ts';
import { readCertificateFile, readPrivateKeyFile, readPublicKeyFile, readRootFile, writeFileAtomic } from '../files.ts';
import type { CliIo } from '../io.ts';
import { toJson } from '../json.ts';

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** The `registry` command group. */
export function registryCommand(io: CliIo): Command {
  const registry = new Command('registry').description('issue and show key certificates for collector keys');

  registry
    .command('issue')
    .description(`certify a collector key for an operator and address scope, valid from now for at most ${formatDuration(MAX_CERTIFICATE_VALIDITY_SECONDS)}`)
    .requiredOption('--key <pub>', "the collector's public key (.pub)")
    .requiredOption('--operator <name>', 'operator name shown to device owners (≤ 64 bytes)')
    .requiredOption('--scope <cidr...>', 'address prefixes of the devices this key may answer (1..16)')
    .requiredOption('--expires-in <duration>', 'validity: 7d, 12h, 30m, 45s or combinations like 1d12h (at most 7d)')
    .requiredOption('--signing-key <key>', 'the registry private key (.key)')
    .requiredOption('--out <file>', 'where to write the certificate (.cbor)')
    .addHelpText('after', '\nExample:\n  tattler registry issue --key k/collector-3f2a.pub --operator "Example ISP" \\\n    --scope 2001:db8::/32 192.0.2.0/24 --expires-in 7d --signing-key k/registry-9c1d.key --out collector.cert.cbor\n')
    .action(async (o: { key: string; operator: string; scope: string[]; expiresIn: string; signingKey: string; out: string }) => {
      let seconds: number;
      try {
        seconds = parseDuration(o.expiresIn);
      } catch (err) {
        throw new Error(`--expires-in: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (seconds > MAX_CERTIFICATE_VALIDITY_SECONDS) throw new Error(`--expires-in ${o.expiresIn}: certificates last at most 7d (revocation is expiry); re-issue before it runs out`);
      const scope: IpPrefix[] = o.scope.map((text) => {
        try {
          return parsePrefix(text);
        } catch (err) {
          throw new Error(`--scope ${text}: ${err instanceof Error ? err.message : String(err)}; write ADDRESS/LENGTH with host bits zero, e.g. 2001:db8::/32`, { cause: err });
        }
      });
      const [subject, signer] = await Promise.all([readPublicKeyFile(o.key), readPrivateKeyFile(o.signingKey)]);
      const notBefore = Math.floor(Date.now() / 1000);
      const tag = signKeyCertificate(signer, { subject: subject.raw, operator: o.operator, scope, notBefore, notAfter: notBefore + seconds });
      await writeFileAtomic(o.out, encodeCbor(tag));
      io.out.write(`wrote ${o.out}: collector ${toHex(subject.kid)} for ${o.operator}, ${scope.map(formatPrefix).join(' ')}, until ${iso(notBefore + seconds)}\n`);
    });

  registry
    .command('show')
    .description('print a key certificate as JSON; with --root, also check its signature against that root')
    .argument('<cert>', 'a certificate file (.cbor)')
    .option('--root <file>', 'a root document whose registry keys must have signed it')
    .addHelpText('after', '\nExamples:\n  tattler registry show collector.cert.cbor\n  tattler registry show collector.cert.cbor --root root-v5.cbor\n')
    .action(async (file: string, o: { root?: string }) => {
      const cert = await readCertificateFile(file);
      const now = Math.floor(Date.now() / 1000);
      const v = cert.value;
      let signature: string | undefined;
      if (o.root !== undefined) {
        const anchors = trustAnchorsOf((await readRootFile(o.root)).value);
        const issuer = keyByKid(anchors.registryKeys, cert.sign1.kid);
        signature = issuer === undefined ? 'issuer is not a registry key of this root' : verifySign1(cert.sign1, issuer) ? 'valid' : 'INVALID';
      }
      io.out.write(
        `${toJson({
          subjectKid: toHex(keyId(v.subject)),
          operator: v.operator,
          scope: v.scope.map(formatPrefix),
          notBefore: iso(v.notBefore),
          notAfter: iso(v.notAfter),
          status: now < v.notBefore ? 'not yet valid' : now >= v.notAfter ? 'expired' : `valid for ${formatDuration(v.notAfter - now)}`,
          issuerKid: toHex(cert.sign1.kid),
          ...(signature === undefined ? {} : { signature }),
        })}\n`,
      );
    });
  return registry;
}
