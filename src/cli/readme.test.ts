/**
 * The README's "Run it for real" walkthrough runs as written: every `sh` block between the
 * `readme-test: begin` and `end` markers, in order, in a fresh directory where `tattler` is this
 * build and `vectors/` is the repository's. A README that drifts from the CLI fails here.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runTool } from '../testing/external-tool.ts';
import { TATTLER_BIN } from '../testing/topology.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The `sh` blocks between the markers, in order. */
function testedBlocks(markdown: string): string[] {
  const begin = markdown.indexOf('<!-- readme-test: begin -->');
  const end = markdown.indexOf('<!-- readme-test: end -->');
  if (begin < 0 || end < begin) return [];
  const section = markdown.slice(begin, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

test('README: the "Run it for real" commands work as written', async (t) => {
  const blocks = testedBlocks(await readFile(join(REPO, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 3, 'the publisher, collector and agent blocks are marked');
  const dir = await mkdtemp(join(tmpdir(), 'tattler-readme-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const shim = join(bin, 'tattler');
  await writeFile(shim, `#!/bin/sh\nexec '${process.execPath}' '${TATTLER_BIN}' "$@"\n`);
  await chmod(shim, 0o755);
  const work = join(dir, 'work');
  await mkdir(work);
  await symlink(join(REPO, 'vectors'), join(work, 'vectors'));
  const script = join(dir, 'readme.sh');
  await writeFile(script, `set -euo pipefail\ncd '${work}'\n${blocks.join('\n')}\n`);
  const result = await runTool('bash', [script], {
    timeoutMs: 120_000,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  assert.equal(result.exitCode, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  assert.match(result.stdout, /config ok/, 'the collector config is accepted');
  assert.equal((result.stdout.match(/config ok/g) ?? []).length, 2, 'both the collector and the agent config are accepted');
});
