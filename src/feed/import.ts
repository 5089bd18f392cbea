/**
 * The import shell: walks the input files, streams them through the JSON parser with bounded
 * memory, hands each record to its pure parser and writes the results in ONE store transaction.
 * Record-level problems are skipped and counted (or abort under `strict`); anything else rolls back.
 * @module
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { JSONParser } from '@streamparser/json';
import { recordVersionOf, type RecordVersion } from './record-version.ts';
import type { FeedImport, FeedStore, StoredRecord } from './store.ts';
import { FeedError, type Advisory, type FeedErrorCode, type FeedSource, type ImportSummary, type KevEntry } from './types.ts';

/** Where a record sits: its file and its id or JSON path. */
export interface ImportLocation {
  readonly file: string;
  readonly record: string;
}

/** The pure per-source parsers, injected so tests can pass fakes (real ones: import-sources.ts). */
export interface ImportParsers {
  /** One NVD CVE object (the `.cve` of a page element, or a single-record file). */
  parseNvdCve(value: unknown, where: ImportLocation): Advisory;
  /** The KEV catalog's top-level object (without its `vulnerabilities`). */
  parseKevHeader(value: unknown, where: ImportLocation): { readonly catalogVersion: string; readonly dateReleased: string };
  parseKevEntry(value: unknown, where: ImportLocation): KevEntry;
  parseOsvRecord(value: unknown, where: ImportLocation): Advisory;
  parseCsafDocument(value: unknown, where: ImportLocation): Advisory[];
}

/** Progress after each chunk read; the CLI renders it. */
export interface ImportProgress {
  readonly file: string;
  readonly filesDone: number;
  readonly totalFiles: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
  readonly recordsRead: number;
}

/** What to import and how. */
export interface ImportOptions {
  readonly db: FeedStore;
  readonly parsers: ImportParsers;
  /** Files or directories (searched recursively for `*.json`), per source. */
  readonly nvd?: readonly string[];
  readonly kev?: readonly string[];
  readonly osv?: readonly string[];
  readonly csaf?: readonly string[];
  /** Abort (and roll back) at the first bad record instead of skipping it. */
  readonly strict?: boolean;
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Import time stored as provenance; the shell passes Date.now(). */
  readonly importedAtMs: number;
  readonly limits?: Partial<ImportLimits>;
}

/** Size limits of one import. */
export interface ImportLimits {
  /** Largest one-document file (OSV, CSAF, KEV): read whole, so it bounds memory. */
  readonly maxDocumentBytes: number;
  /** Most input bytes one streamed NVD record (or header field) may span. */
  readonly maxRecordBytes: number;
  /** Bytes read per chunk from a streamed file. */
  readonly chunkBytes: number;
  /** How many skipped-record messages the report keeps as examples. */
  readonly maxExamples: number;
}

/** Defaults of {@link ImportLimits}. */
export const IMPORT_DEFAULTS: ImportLimits = Object.freeze({
  // 50 MiB: the largest CSAF documents seen (multi-product ICS advisories) are a few MiB; a
  // parsed JSON object costs ~3-5× its text, so this keeps one document under ~250 MB of heap.
  maxDocumentBytes: 50 * 2 ** 20,
  // 16 MiB: the largest NVD 2.0 records (kernel CVEs with thousands of cpeMatch) are ~2 MiB.
  maxRecordBytes: 16 * 2 ** 20,
  // 1 MiB: ~300 NVD records per chunk, parsed and written before the next chunk is read.
  chunkBytes: 2 ** 20,
  maxExamples: 5,
});

/** The summary of a finished import, plus what the shared ImportSummary does not carry yet. */
export interface ImportReport extends ImportSummary {
  readonly bytesRead: number;
  /** Records (or KEV entries) not applied because the database already holds a newer version. */
  readonly olderIgnored: number;
  /** The first few skipped-record messages (file: record: problem). */
  readonly examples: readonly string[];
}

const NO_SKIPS: Readonly<Record<FeedErrorCode, number>> = Object.freeze({
  BAD_JSON: 0,
  BAD_RECORD: 0,
  BAD_CPE: 0,
  BAD_VERSION: 0,
  NOT_A_DEVICE: 0,
  TOO_LARGE: 0,
});

interface InputFile {
  readonly source: FeedSource;
  readonly path: string;
  readonly bytes: number;
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shortText(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : null;
}

async function statOrExplain(path: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? 'error'})`;
    throw new Error(`${path}: ${problem}; check the path`, { cause: err });
  }
}

async function walkJson(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walkJson(path, out);
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.json')) out.push(path);
  }
}

/**
 * The input files of one source: each path given as a file is taken as is; a directory is
 * searched recursively for `*.json`, in name order so runs are reproducible.
 */
export async function listInputFiles(source: FeedSource, paths: readonly string[]): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const path of paths) {
    const info = await statOrExplain(path);
    const files: string[] = [];
    if (info.isDirectory()) await walkJson(path, files);
    else files.push(path);
    for (const file of files) out.push({ source, path: file, bytes: (await stat(file)).size });
  }
  return out;
}

/** A location for messages: the record's id when it has one, and its JSON path. */
function locate(file: string, path: string, id: string | null): ImportLocation {
  return { file, record: id === null ? path : `${id} (${path})` };
}

interface StreamHandlers {
  /** An element of the top-level `vulnerabilities` array. */
  element(value: unknown, index: number): void;
  /** Bytes of the file read so far. */
  progress(bytesRead: number): void;
}

interface StreamResult {
  /** The top-level object's other members (small for pages; the record itself for a single file). */
  readonly top: Record<string, unknown>;
  readonly sawVulnerabilities: boolean;
  readonly rootIsObject: boolean;
}

/**
 * Streams one file: every `$.vulnerabilities[*]` element goes to `handlers.element` as soon as the
 * chunk that completes it is parsed, then is dropped; other top-level members are collected.
 * Memory is bounded by one chunk, the records it completes and `maxRecordBytes` of pending input.
 * Throws FeedError BAD_JSON (fatal) when the file is not well-formed JSON.
 */
async function streamVulnerabilities(file: string, limits: ImportLimits, handlers: StreamHandlers): Promise<StreamResult> {
  // '$.*' collects the header members; elements of '$.vulnerabilities' are emitted first, and we
  // empty that array ourselves, because the parser keeps children of any emitted container.
  const parser = new JSONParser({ paths: ['$.vulnerabilities.*', '$.*'], keepStack: false });
  const top: Record<string, unknown> = {};
  const pending: { value: unknown; index: number }[] = [];
  let sawVulnerabilities = false;
  let rootIsObject = true;
  let sinceEmitBytes = 0;
  parser.onValue = ({ value, key, parent, stack }) => {
    sinceEmitBytes = 0;
    if (stack.length === 2 && typeof key === 'number' && Array.isArray(parent)) {
      pending.push({ value, index: key });
      parent.length = 0;
    } else if (stack.length === 1 && typeof key === 'string') {
      if (key === 'vulnerabilities') sawVulnerabilities = true;
      else top[key] = value;
    } else if (stack.length === 1) {
      rootIsObject = false; // a top-level array: nothing of it is kept
      if (Array.isArray(parent)) parent.length = 0;
    }
  };
  let bytesRead = 0;
  let position = 0;
  const fail = (err: unknown): FeedError =>
    new FeedError('BAD_JSON', { file, record: `near byte ${position}` }, `not well-formed JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  const stream = createReadStream(file, { highWaterMark: limits.chunkBytes });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      position = bytesRead;
      bytesRead += chunk.byteLength;
      sinceEmitBytes += chunk.byteLength;
      try {
        parser.write(chunk);
      } catch (err) {
        throw fail(err);
      }
      for (const item of pending.splice(0)) handlers.element(item.value, item.index);
      if (sinceEmitBytes > limits.maxRecordBytes) {
        throw new FeedError('TOO_LARGE', { file, record: `near byte ${position}` }, `one JSON value spans more than ${limits.maxRecordBytes} bytes`);
      }
      handlers.progress(bytesRead);
    }
    position = bytesRead;
    if (bytesRead === 0) throw new FeedError('BAD_JSON', { file, record: '$' }, 'empty file, expected a JSON object');
    if (!parser.isEnded) {
      try {
        parser.end();
      } catch (err) {
        throw fail(err);
      }
    }
  } finally {
    stream.destroy();
  }
  return { top, sawVulnerabilities, rootIsObject };
}

class ImportRun {
  readonly #options: ImportOptions;
  readonly #limits: ImportLimits;
  readonly #writer: FeedImport;
  readonly #skipped: Record<FeedErrorCode, number> = { ...NO_SKIPS };
  readonly #examples: string[] = [];
  recordsRead = 0;
  files = 0;
  bytesRead = 0;
  #fileBase = 0;
  #totalFiles = 0;
  #totalBytes = 0;

  constructor(options: ImportOptions, writer: FeedImport) {
    this.#options = options;
    this.#limits = { ...IMPORT_DEFAULTS, ...options.limits };
    this.#writer = writer;
  }

  async run(files: readonly InputFile[]): Promise<void> {
    this.#totalFiles = files.length;
    this.#totalBytes = files.reduce((sum, f) => sum + f.bytes, 0);
    for (const file of files) {
      this.#fileBase = this.bytesRead;
      switch (file.source) {
        case 'nvd':
          await this.#importNvd(file.path);
          break;
        case 'kev':
          await this.#importKev(file.path);
          break;
        case 'osv':
        case 'csaf':
          await this.#importDocument(file.source, file.path, file.bytes);
          break;
      }
      this.files++;
      this.bytesRead = this.#fileBase + file.bytes;
      this.#fileBase = this.bytesRead;
      this.#progress(file.path, 0);
    }
  }

  #progress(file: string, bytesOfFile: number): void {
    this.#options.onProgress?.({
      file,
      filesDone: this.files,
      totalFiles: this.#totalFiles,
      bytesRead: this.#fileBase + bytesOfFile,
      totalBytes: this.#totalBytes,
      recordsRead: this.recordsRead,
    });
  }

  /** Runs `step`; a FeedError is counted and skipped (or rethrown under strict / if fatal). */
  #record<T>(step: () => T): T | undefined {
    try {
      return step();
    } catch (err) {
      if (!(err instanceof FeedError)) throw err;
      this.#skip(err);
      return undefined;
    }
  }

  #skip(err: FeedError): void {
    if (err.code !== 'NOT_A_DEVICE' && this.#options.strict === true) throw err;
    this.#skipped[err.code]++;
    if (err.code !== 'NOT_A_DEVICE' && this.#examples.length < this.#limits.maxExamples) this.#examples.push(err.message);
  }

  /** Stores one record's advisories; those without products are not kept (NOT_A_DEVICE). */
  #store(source: StoredRecord['source'], recordId: string, version: RecordVersion, advisories: readonly Advisory[]): void {
    const devices = advisories.filter((a) => a.products.length > 0);
    if (devices.length === 0) this.#skipped.NOT_A_DEVICE++;
    this.#writer.putRecord({ source, recordId, version, advisories: devices });
  }

  #nvdRecord(cve: unknown, where: ImportLocation): void {
    this.recordsRead++;
    const id = isObject(cve) ? shortText(cve.id) : null;
    const version = recordVersionOf('nvd', cve);
    try {
      const advisory = this.#options.parsers.parseNvdCve(cve, where);
      this.#store('nvd', advisory.id, version, [advisory]);
    } catch (err) {
      // An application-only CVE still replaces what an older version of it stored.
      if (err instanceof FeedError && err.code === 'NOT_A_DEVICE' && id !== null) this.#writer.putRecord({ source: 'nvd', recordId: id, version, advisories: [] });
      if (err instanceof FeedError) this.#skip(err);
      else throw err;
    }
  }

  async #importNvd(file: string): Promise<void> {
    const result = await streamVulnerabilities(file, this.#limits, {
      element: (value, index) => {
        const path = `$.vulnerabilities[${index}]`;
        const cve = isObject(value) ? value.cve : undefined;
        const id = isObject(cve) ? shortText(cve.id) : null;
        const where = locate(file, path, id);
        if (!isObject(cve)) {
          this.recordsRead++;
          this.#skip(new FeedError('BAD_RECORD', where, `${path}: expected {"cve": {…}}`));
          return;
        }
        this.#nvdRecord(cve, where);
      },
      progress: (bytes) => {
        this.#progress(file, bytes);
      },
    });
    if (result.sawVulnerabilities) return;
    const { top } = result;
    if (result.rootIsObject && isObject(top.cve)) this.#nvdRecord(top.cve, locate(file, '$.cve', shortText(top.cve.id)));
    else if (result.rootIsObject && shortText(top.id) !== null) this.#nvdRecord(top, locate(file, '$', shortText(top.id)));
    else {
      this.recordsRead++;
      this.#skip(new FeedError('BAD_JSON', { file, record: '$' }, 'not an NVD CVE API 2.0 page ({"vulnerabilities": […]}) nor a CVE record ({"cve": {…}} or {"id": "CVE-…", …})'));
    }
  }

  async #importKev(file: string): Promise<void> {
    const entries: KevEntry[] = [];
    const result = await streamVulnerabilities(file, this.#limits, {
      element: (value, index) => {
        this.recordsRead++;
        const cve = isObject(value) ? shortText(value.cveID) : null;
        const entry = this.#record(() => this.#options.parsers.parseKevEntry(value, { file, record: `$.vulnerabilities[${index}]` }));
        // A skipped entry is counted; the rest of the catalog still applies.
        if (entry !== undefined) entries.push(entry);
        if (entries.length * 64 > this.#limits.maxDocumentBytes) {
          throw new FeedError('TOO_LARGE', locate(file, `$.vulnerabilities[${index}]`, cve), `more KEV entries than a ${this.#limits.maxDocumentBytes}-byte catalog holds`);
        }
      },
      progress: (bytes) => {
        this.#progress(file, bytes);
      },
    });
    if (!result.sawVulnerabilities || !result.rootIsObject) {
      this.#skip(new FeedError('BAD_JSON', { file, record: '$' }, 'not a KEV catalog ({"catalogVersion": …, "vulnerabilities": […]})'));
      return;
    }
    const header = this.#record(() => this.#options.parsers.parseKevHeader(result.top, { file, record: '$' }));
    if (header === undefined) return;
    this.#writer.putKevCatalog(entries, { catalogVersion: header.catalogVersion, modified: header.dateReleased });
  }

  async #importDocument(source: 'osv' | 'csaf', file: string, bytes: number): Promise<void> {
    this.recordsRead++;
    if (bytes > this.#limits.maxDocumentBytes) {
      this.#skip(new FeedError('TOO_LARGE', { file, record: '$' }, `${bytes} bytes, at most ${this.#limits.maxDocumentBytes} for one ${source.toUpperCase()} document`));
      return;
    }
    const text = await readFile(file, 'utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new FeedError('BAD_JSON', { file, record: '$' }, `not well-formed JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    this.#progress(file, bytes);
    const version = recordVersionOf(source, value);
    if (source === 'osv') {
      const id = isObject(value) ? shortText(value.id) : null;
      const where = locate(file, '$', id);
      const advisory = this.#record(() => this.#options.parsers.parseOsvRecord(value, where));
      if (advisory !== undefined) this.#store('osv', advisory.id, version, [advisory]);
      return;
    }
    const document = isObject(value) ? value.document : undefined;
    const tracking = isObject(document) ? document.tracking : undefined;
    const id = isObject(tracking) ? shortText(tracking.id) : null;
    const where = locate(file, '$', id);
    const advisories = this.#record(() => this.#options.parsers.parseCsafDocument(value, where));
    if (advisories === undefined) return;
    if (id === null) {
      this.#skip(new FeedError('BAD_RECORD', where, '$.document.tracking.id: missing; a CSAF document needs it as its record id'));
      return;
    }
    this.#store('csaf', id, version, advisories);
  }

  report(): ImportReport {
    const c = this.#writer.counts;
    return {
      files: this.files,
      recordsRead: this.recordsRead,
      advisories: c.advisories,
      products: c.products,
      intervals: c.intervals,
      kevEntries: c.kevEntries,
      skipped: { ...this.#skipped },
      bytesRead: this.bytesRead,
      olderIgnored: c.olderIgnored,
      examples: [...this.#examples],
    };
  }
}

/**
 * Imports the given files into `options.db` in one transaction and returns what it did. On any
 * thrown error (a bad record under `strict`, malformed JSON, I/O) the transaction is rolled back
 * and the database is exactly as before; the error propagates.
 */
export async function importFiles(options: ImportOptions): Promise<ImportReport> {
  const files = [
    ...(await listInputFiles('nvd', options.nvd ?? [])),
    ...(await listInputFiles('kev', options.kev ?? [])),
    ...(await listInputFiles('osv', options.osv ?? [])),
    ...(await listInputFiles('csaf', options.csaf ?? [])),
  ];
  const writer = options.db.beginImport(options.importedAtMs);
  try {
    const run = new ImportRun(options, writer);
    await run.run(files);
    writer.commit();
    return run.report();
  } catch (err) {
    writer.rollback();
    throw err;
  }
}
