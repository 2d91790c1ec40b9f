/**
 * Query strings as the SDK encodes them: arrays as `key[]=a&key[]=b` (also `key=a&key=b`), and
 * bracketed names such as `created_at[gte]` kept literally. Parsing never throws.
 */
export function parseQuery(qs: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(qs);
  } catch {
    return out;
  }
  for (const [rawKey, value] of params) {
    const isArray = rawKey.endsWith("[]");
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    const cur = out[key];
    if (isArray) out[key] = Array.isArray(cur) ? [...cur, value] : cur === undefined ? [value] : [cur, value];
    else if (cur === undefined) out[key] = value;
    else out[key] = Array.isArray(cur) ? [...cur, value] : [cur, value];
  }
  return out;
}

/** Fields that are arrays in a schema accept one value too. */
export function asArray(v: unknown): unknown {
  if (v === undefined || Array.isArray(v)) return v;
  return [v];
}
