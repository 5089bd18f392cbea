/**
 * Pulls the signed feed bundle from an HTTP(S) URL (a shell): one conditional GET with the
 * previous response's validators (RFC 9110 §13.1: `If-None-Match`, `If-Modified-Since`), a
 * timeout and a streamed size cap. It decides nothing about the bundle: the caller verifies it.
 * Errors name the URL and the problem; config refuses URLs with credentials, so a URL is safe to log.
 * @module
 */

/** Default timeout of one pull, headers and body together: 30 s. */
export const FEED_FETCH_TIMEOUT_MS = 30_000;
/** Largest bundle accepted: 512 MiB, far above an NVD-scale bundle; bounds memory on a bad server. */
export const MAX_FEED_BUNDLE_BYTES = 512 * 1024 * 1024;

/** The validators of the last bundle fetched, sent back on the next pull. */
export interface FeedValidators {
  readonly etag?: string;
  readonly lastModified?: string;
}

/** The outcome of {@link fetchFeed}. */
export type FeedFetch =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'fetched'; readonly bytes: Uint8Array; readonly validators: FeedValidators };

/** What {@link fetchFeed} needs from outside. */
export interface FeedFetchDeps {
  /** Default: Node's global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Default {@link FEED_FETCH_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Default {@link MAX_FEED_BUNDLE_BYTES}. */
  readonly maxBytes?: number;
  /** Aborts the pull (the collector closing). */
  readonly signal?: AbortSignal;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    if (err.name === 'AbortError') return 'aborted';
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** Reads the body, counting bytes as they arrive; refuses beyond `maxBytes` without buffering more. */
async function readCapped(url: string, response: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    await response.body?.cancel();
    throw new Error(
      `${url}: feed bundle of ${declared} bytes is larger than the ${maxBytes}-byte limit`,
    );
  }
  if (response.body === null) return new Uint8Array(0);
  // The DOM typing leaves the chunk type open; fetch bodies yield Uint8Array chunks.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`${url}: feed bundle is larger than the ${maxBytes}-byte limit`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * One conditional GET of `url`: 304 → `unchanged`; 200 → the bytes and their validators; any
 * other status, a network error, a timeout or an oversize body → an Error naming the URL.
 * @example const r = await fetchFeed('https://feed.example.net/bundle.cbor', previous, {});
 */
export async function fetchFeed(
  url: string,
  previous: FeedValidators | undefined,
  deps: FeedFetchDeps = {},
): Promise<FeedFetch> {
  const doFetch = deps.fetch ?? fetch;
  const timeout = AbortSignal.timeout(deps.timeoutMs ?? FEED_FETCH_TIMEOUT_MS);
  const signal = deps.signal === undefined ? timeout : AbortSignal.any([timeout, deps.signal]);
  const headers: Record<string, string> = { accept: 'application/cbor, application/octet-stream' };
  if (previous?.etag !== undefined) headers['if-none-match'] = previous.etag;
  if (previous?.lastModified !== undefined) headers['if-modified-since'] = previous.lastModified;
  try {
    const response = await doFetch(url, { headers, signal, redirect: 'follow' });
    if (response.status === 304) {
      await response.body?.cancel();
      return { kind: 'unchanged' };
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(
        `${url}: HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}`,
      );
    }
    const bytes = await readCapped(url, response, deps.maxBytes ?? MAX_FEED_BUNDLE_BYTES);
    const etag = response.headers.get('etag');
    const lastModified = response.headers.get('last-modified');
    return {
      kind: 'fetched',
      bytes,
      validators: {
        ...(etag === null ? {} : { etag }),
        ...(lastModified === null ? {} : { lastModified }),
      },
    };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${url}: `)) throw err;
    throw new Error(`${url}: cannot fetch the feed bundle: ${describeError(err)}`, { cause: err });
  }
}
