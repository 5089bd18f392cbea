/**
 * The JSON form of decoded protocol values in vector files: bytes as hex, maps as objects keyed
 * by their CBOR keys, tagged values as {tag, value}; re-encodable CborTag copies are left out.
 * @module
 */
import { toHex } from '../crypto/index.ts';
import { CborTag } from '../protocol/index.ts';

/** The JSON-compatible form of a decoded value (deterministic: object keys in insertion order). */
export function toVectorJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (key === 'tag' && v instanceof CborTag) return undefined;
      if (v instanceof CborTag) return { tag: v.tag, value: v.value };
      if (v instanceof Uint8Array) return toHex(v);
      if (v instanceof Map) return Object.fromEntries([...(v as Map<unknown, unknown>)].map(([k, x]) => [String(k), x]));
      return v;
    }),
  ) as unknown;
}
