/**
 * Headless Chromium for tests (tests only): Debian's `/usr/bin/chromium` driven by
 * playwright-core, with a fresh profile and every background connection turned off (the test
 * machines have no Internet, and Chromium otherwise keeps dialling out).
 * @module
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet, offline, throwaway browser. */
export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

/** Why browser tests are skipped here, or undefined when Chromium is installed. Pass to `test(…, { skip })`. */
export function browserSkipReason(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `${CHROMIUM_PATH} is missing: apt-get install chromium`;
}

/** A launched browser (one persistent context) and its profile directory; `close()` removes both. */
export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launch options: `extraArgs` adds flags, e.g. `--host-resolver-rules=MAP attacker.example 127.0.0.1`. */
export interface LaunchOptions {
  readonly extraArgs?: readonly string[];
}

/**
 * Launches headless Chromium with a fresh `--user-data-dir`.
 * @example const { context, close } = await launchBrowser(); after(close); const page = await context.newPage();
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'tattler-chromium-'));
  try {
    // Playwright refuses `--user-data-dir` in args: the profile is its first argument here.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
      headless: true,
      timeout: 30_000,
    });
    return {
      context,
      close: async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}
