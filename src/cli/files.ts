/**
 * File access for the key and trust commands: atomic writes (temp file + rename), and readers for
 * key files and signed documents whose errors name the file, the problem and the fix.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodePrivateKeyPem, decodePublicKeyPem, type PrivateKey, type PublicKey } from '../crypto/index.ts';
import { decodeCbor, isProtocolError, readKeyCertificate, readRoot, type KeyCertificate, type Signed, type SignedRoot } from '../protocol/index.ts';

/** Writes `data` to `path` atomically: a temp file in the same directory, then rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, data, { mode: options.mode ?? 0o644, flag: 'wx' });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function readOrExplain(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? 'error'})`;
    throw new Error(`${path}: ${problem}; check the path and permissions`, { cause: err });
  }
}

/** Reads an SPKI PEM public key file (as written by `tattler keys generate`). */
export async function readPublicKeyFile(path: string): Promise<PublicKey> {
  const text = (await readOrExplain(path)).toString('utf8');
  // node:crypto derives a public key from a private PEM without complaint: refuse it here, so a
  // private key is never copied where a public one belongs.
  if (text.includes('PRIVATE KEY')) throw new Error(`${path}: not an Ed25519 public key (it holds a private key); pass the matching .pub file`);
  try {
    return decodePublicKeyPem(text);
  } catch (err) {
    const hint = text.includes('PRIVATE KEY') ? 'this is a private key; pass the matching .pub file' : 'pass a .pub file written by "tattler keys generate"';
    throw new Error(`${path}: not an Ed25519 public key (${err instanceof Error ? err.message : String(err)}); ${hint}`, { cause: err });
  }
}

/** Reads a PKCS#8 PEM private key file (as written by `tattler keys generate`). */
export async function readPrivateKeyFile(path: string): Promise<PrivateKey> {
  const text = (await readOrExplain(path)).toString('utf8');
  try {
    return decodePrivateKeyPem(text);
  } catch (err) {
    const hint = text.includes('PUBLIC KEY') ? 'this is a public key; pass the matching .key file' : 'pass a .key file written by "tattler keys generate"';
    throw new Error(`${path}: not an Ed25519 private key (${err instanceof Error ? err.message : String(err)}); ${hint}`, { cause: err });
  }
}

function explainDocument(path: string, what: string, fix: string, err: unknown): Error {
  if (!isProtocolError(err)) return err instanceof Error ? err : new Error(String(err));
  return new Error(`${path}: not a valid ${what} (${err.code}: ${err.message}); ${fix}`, { cause: err });
}

/** Reads a signed root document (.cbor). */
export async function readRootFile(path: string): Promise<SignedRoot> {
  const bytes = new Uint8Array(await readOrExplain(path));
  try {
    return readRoot(decodeCbor(bytes));
  } catch (err) {
    throw explainDocument(path, 'root document', 'pass a file written by "tattler root init" or "tattler root rotate"', err);
  }
}

/** Reads a signed key certificate (.cbor). */
export async function readCertificateFile(path: string): Promise<Signed<KeyCertificate>> {
  const bytes = new Uint8Array(await readOrExplain(path));
  try {
    return readKeyCertificate(decodeCbor(bytes));
  } catch (err) {
    throw explainDocument(path, 'key certificate', 'pass a file written by "tattler registry issue"', err);
  }
}
