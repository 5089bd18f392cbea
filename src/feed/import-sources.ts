/**
 * The real per-source parsers, wired into the import shell's {@link ImportParsers} interface.
 * @module
 */
import type { ImportParsers } from './import.ts';
import { parseCsafDocument } from './parse-csaf.ts';
import { parseKevEntry, parseKevHeader } from './parse-kev.ts';
import { parseNvdCve } from './parse-nvd.ts';
import { parseOsvRecord } from './parse-osv.ts';

/** NVD, KEV, OSV and CSAF parsers as the importer calls them. */
export const IMPORT_PARSERS: ImportParsers = Object.freeze({
  parseNvdCve: (value: unknown, where: { readonly file: string; readonly record: string }) => parseNvdCve(value, where),
  parseKevHeader,
  parseKevEntry,
  parseOsvRecord,
  parseCsafDocument,
});
