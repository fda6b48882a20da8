// JSON Merge Patch, RFC 7396 §2: objects merge recursively, null removes, anything else replaces.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: unknown): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else {
      const merged = applyMergePatch(Object.hasOwn(result, key) ? (result[key] ?? null) : null, value);
      // Defined, not assigned: a member named "__proto__" is data (RFC 8259 §4), not the result's prototype.
      Object.defineProperty(result, key, { value: merged, enumerable: true, writable: true, configurable: true });
    }
  }
  return result;
}
