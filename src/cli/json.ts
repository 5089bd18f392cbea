/**
 * JSON rendering of decoded protocol values for people and scripts: bytes as hex, maps as
 * objects, tags as {tag, value}.
 * @module
 */
import { toHex } from '../crypto/index.ts';

/** JSON text of `value` with Uint8Array as hex strings and Maps as plain objects. */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return toHex(v);
    if (v instanceof Map) return Object.fromEntries(v as Map<string, unknown>);
    return v;
  }, indent);
}
