/**
 * The feed publisher's policy file (docs/feed.md §4): reviewed and denied advisories, withdrawals,
 * vendor and model aliases and the vendor update-host table, parsed from untrusted JSON with
 * errors that name the file and the key.
 * @module
 */
import { canonicalName, isProtocolError, MAX_ADVISORY_ID_BYTES, MAX_HOST_BYTES } from '../protocol/index.ts';
import { FeedError } from './types.ts';

/** A (vendor, model, advisory) triple; names canonical. */
export interface ProductAdvisory {
  readonly vendor: string;
  readonly model: string;
  readonly advisory: string;
}

/** A list of advisory ids (every product) and of (vendor, model, advisory) triples. */
export interface AdvisorySelection {
  readonly advisories: readonly string[];
  readonly products: readonly ProductAdvisory[];
}

/** What the publisher decides beyond the imported data. Names are canonical ([P-4.1-1]). */
export interface PublisherPolicy {
  /** Quarantine-eligible after human review, even without KEV or a bounded range. */
  readonly reviewed: AdvisorySelection;
  /** Never quarantine-eligible, whatever else says so (deny wins). */
  readonly deny: AdvisorySelection;
  /** Advisory ids left out of the feed entirely (found wrong). */
  readonly withdrawn: readonly string[];
  /** Canonical vendor → further names the same vendor's devices use. */
  readonly vendorAliases: ReadonlyMap<string, readonly string[]>;
  /** `vendor\0model` → further model names of the same device. */
  readonly modelAliases: ReadonlyMap<string, readonly string[]>;
  /** Canonical vendor → its firmware update hosts (listed first among remediation hosts). */
  readonly updateHosts: ReadonlyMap<string, readonly string[]>;
}

/** The policy of a publisher without a policy file: nothing reviewed, denied, withdrawn or aliased. */
export const EMPTY_PUBLISHER_POLICY: PublisherPolicy = Object.freeze({
  reviewed: { advisories: [], products: [] },
  deny: { advisories: [], products: [] },
  withdrawn: [],
  vendorAliases: new Map(),
  modelAliases: new Map(),
  updateHosts: new Map(),
});

/** The policy-file format version this code reads. */
export const PUBLISHER_POLICY_VERSION = 1;

const TOP_KEYS = ['version', 'reviewed', 'deny', 'withdrawn', 'vendorAliases', 'modelAliases', 'updateHosts'] as const;
// RFC 1123 §2.1 host names: dot-separated labels of letters, digits and hyphens.
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const ADVISORY_ID = /^[\x21-\x7e]+$/;

/** The key a model alias is stored under. */
export function modelKey(vendor: string, model: string): string {
  return `${vendor}\0${model}`;
}

class PolicyReader {
  readonly #file: string;
  constructor(file: string) {
    this.#file = file;
  }
  fail(path: string, message: string): never {
    throw new FeedError('BAD_RECORD', { file: this.#file, record: path }, `${message}; see docs/feed.md "Publisher policy file"`);
  }
  object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'expected an object');
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!keys.includes(key)) this.fail(`${path}.${key}`, `unknown key; expected one of ${keys.join(', ')}`);
    }
    return record;
  }
  array(value: unknown, path: string): readonly unknown[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) this.fail(path, 'expected an array');
    return value as readonly unknown[];
  }
  name(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, 'expected a vendor or model name (string)');
    try {
      return canonicalName(value);
    } catch (err) {
      if (isProtocolError(err)) this.fail(path, err.message);
      throw err;
    }
  }
  advisory(value: unknown, path: string): string {
    if (typeof value !== 'string' || !ADVISORY_ID.test(value) || value.length > MAX_ADVISORY_ID_BYTES) {
      this.fail(path, `expected an advisory id such as "CVE-2021-36260" (printable ASCII, at most ${MAX_ADVISORY_ID_BYTES} bytes)`);
    }
    return value;
  }
  host(value: unknown, path: string): string {
    const host = typeof value === 'string' ? value.toLowerCase() : '';
    if (!HOST.test(host) || host.length > MAX_HOST_BYTES) this.fail(path, 'expected a host name such as "update.vendor.example" (no scheme, port or path)');
    return host;
  }
  selection(value: unknown, path: string): AdvisorySelection {
    if (value === undefined) return { advisories: [], products: [] };
    const o = this.object(value, path, ['advisories', 'products']);
    return {
      advisories: this.array(o.advisories, `${path}.advisories`).map((v, i) => this.advisory(v, `${path}.advisories[${i}]`)),
      products: this.array(o.products, `${path}.products`).map((v, i) => {
        const p = `${path}.products[${i}]`;
        const t = this.object(v, p, ['vendor', 'model', 'advisory']);
        return { vendor: this.name(t.vendor, `${p}.vendor`), model: this.name(t.model, `${p}.model`), advisory: this.advisory(t.advisory, `${p}.advisory`) };
      }),
    };
  }
  nameMap(value: unknown, path: string, item: (v: unknown, p: string) => string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    if (value === undefined) return out;
    const o = this.object(value, path, Object.keys(value as object));
    for (const [key, list] of Object.entries(o)) {
      const vendor = this.name(key, `${path}.${key}`);
      const items = this.array(list, `${path}.${key}`).map((v, i) => item(v, `${path}.${key}[${i}]`));
      out.set(vendor, [...new Set([...(out.get(vendor) ?? []), ...items])]);
    }
    return out;
  }
}

/**
 * Validates a parsed policy file (JSON) into a {@link PublisherPolicy}. Throws `FeedError`
 * ('BAD_RECORD') naming the file and the JSON path of the first problem.
 * @example parsePublisherPolicy(JSON.parse(text), 'policy.json').withdrawn
 */
export function parsePublisherPolicy(json: unknown, file: string): PublisherPolicy {
  const r = new PolicyReader(file);
  const top = r.object(json, '$', TOP_KEYS);
  if (top.version !== PUBLISHER_POLICY_VERSION) r.fail('$.version', `expected ${PUBLISHER_POLICY_VERSION}`);
  const modelAliases = new Map<string, string[]>();
  r.array(top.modelAliases, '$.modelAliases').forEach((v, i) => {
    const p = `$.modelAliases[${i}]`;
    const o = r.object(v, p, ['vendor', 'model', 'aliases']);
    const key = modelKey(r.name(o.vendor, `${p}.vendor`), r.name(o.model, `${p}.model`));
    const aliases = r.array(o.aliases, `${p}.aliases`).map((a, k) => r.name(a, `${p}.aliases[${k}]`));
    modelAliases.set(key, [...new Set([...(modelAliases.get(key) ?? []), ...aliases])]);
  });
  return {
    reviewed: r.selection(top.reviewed, '$.reviewed'),
    deny: r.selection(top.deny, '$.deny'),
    withdrawn: r.array(top.withdrawn, '$.withdrawn').map((v, i) => r.advisory(v, `$.withdrawn[${i}]`)),
    vendorAliases: r.nameMap(top.vendorAliases, '$.vendorAliases', (v, p) => r.name(v, p)),
    modelAliases,
    updateHosts: r.nameMap(top.updateHosts, '$.updateHosts', (v, p) => r.host(v, p)),
  };
}
