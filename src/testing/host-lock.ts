/**
 * A lock shared by test files that need one host-wide resource (tests only): the demo's
 * network (`tattler-demo0`, the `tattler-demo-*` namespaces) exists once per host, and
 * `node --test` runs test files in parallel on machines with more cores. An exclusive create of
 * a file in the temp directory, holding the owner's pid; a lock whose owner is gone is taken over.
 * @module
 */
import { open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How often a waiter looks again: a lock is held for seconds to minutes, not milliseconds. */
const RETRY_MS = 250;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits (up to `timeoutMs`) for the lock `name` and resolves with its release.
 * @example const release = await acquireHostLock('demo-netns'); t.after(release);
 */
export async function acquireHostLock(name: string, timeoutMs = 15 * 60_000): Promise<() => Promise<void>> {
  const path = join(tmpdir(), `tattler-test-${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`host lock ${name}: still held by pid ${String(owner)} after ${String(timeoutMs)} ms`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
