/**
 * JSON mutation for the fuzz suite: start from a valid request body and drop, add, retype, rename
 * or replace parts of it with edge values; render the result to the exact bytes sent.
 *
 * Invariants:
 * - Everything here is a pure function of fast-check's generated values, so a seed replays.
 * - Values that `JSON.stringify` cannot produce (nesting 10k deep, `1e999`, duplicate keys) are
 *   `Raw` nodes whose text is spliced in verbatim by `render`.
 * - Objects are built with `defineProperty`, so a `__proto__` key is an own key (as `JSON.parse`
 *   makes it), never a prototype change in the test process.
 * - Mutations never move a value from one field into another, so a secret placed in a secret field
 *   stays there or disappears (see the secret-leak invariant).
 */
import fc from "fast-check";

const RAW = Symbol("raw");
/** The longest text one "repeat" mutation makes (36 MiB: just past the gateway's 32 MiB body limit). */
const MAX_REPEAT_CHARS = 36 * 1024 * 1024;
export interface Raw {
  readonly [RAW]: string;
}
export type Json = null | boolean | number | string | Raw | Json[] | { [k: string]: Json };

export function raw(text: string): Raw {
  return { [RAW]: text };
}
function isRaw(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && RAW in v;
}

export function setKey(o: { [k: string]: Json }, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function obj(entries: Array<[string, Json]>): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  for (const [k, v] of entries) setKey(o, k, v);
  return o;
}

/** The JSON text of a value; `Raw` nodes are written verbatim. */
export function render(v: Json): string {
  if (isRaw(v)) return v[RAW];
  if (Array.isArray(v)) return `[${v.map(render).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** True when `s` has no unpaired surrogate (String.prototype.isWellFormed, ES2024). */
export function isWellFormed(s: string): boolean {
  return s.match(LONE_SURROGATE) === null;
}

/** `s` with unpaired surrogates replaced by U+FFFD (String.prototype.toWellFormed, ES2024). */
export function toWellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, "\ufffd");
}

// ---- edge values ----

export const EDGE_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udc00y",
  "\ud83d",
  "\ufeff",
  "\u202e",
  "\uffff",
  "\ufffd",
  "💩",
  "👍🏽",
  "e\u0301",
  "null",
  "true",
  "0",
  "-1",
  "NaN",
  "Infinity",
  "__proto__",
  "constructor",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template injection probe, on purpose
  "${7*7}",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "%00",
  "%2e%2e%2f",
  "../../../etc/passwd",
  "\r\n\r\n",
  "\t",
  "\\",
  '"',
  "a".repeat(257),
  "b".repeat(2049),
  "sesn_",
  "agent_",
  "env_",
  "sevt_",
  "vlt_",
  "sevt_000000000000000000000000",
  "2024-02-30T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "https://",
  "file:///etc/passwd",
  "javascript:alert(1)",
  "http://[::1]:99999/",
];

export const EDGE_KEYS: readonly string[] = [
  "",
  "__proto__",
  "constructor",
  "prototype",
  "\u0000",
  "\ud800",
  "type",
  "id",
  "k".repeat(65),
  "x".repeat(1000),
  "💩",
  "a.b",
  "a[]",
];

/** Numbers as JSON text: some are not representable as JS numbers (they parse to ±Infinity or 0). */
export const EDGE_NUMBER_TEXT: readonly string[] = [
  "0",
  "-0",
  "1",
  "-1",
  "0.5",
  "1.0",
  "2147483647",
  "2147483648",
  "-2147483649",
  "4294967296",
  "9007199254740991",
  "9007199254740993",
  "99999999999",
  "123456789012345678901234567890",
  "1e308",
  "1e999",
  "-1e999",
  "1e-400",
  "5e-324",
  "1E2",
  "0.1e1",
];

/** Nesting `depth` levels deep (arrays or objects), as raw JSON text. */
export function deepText(depth: number, kind: "array" | "object"): string {
  if (kind === "array") return `${"[".repeat(depth)}${"]".repeat(depth)}`;
  return `${'{"a":'.repeat(depth)}0${"}".repeat(depth)}`;
}

export const edgeString = fc.constantFrom(...EDGE_STRINGS);
export const edgeKey = fc.oneof(fc.constantFrom(...EDGE_KEYS), fc.string({ unit: "binary", maxLength: 12 }));
export const edgeNumber: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(...EDGE_NUMBER_TEXT).map(raw),
  fc.double(),
  fc.integer(),
);

/** Strings that stress encodings: any code point, including lone surrogates. */
export const unicodeString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  edgeString,
);

/** Sizes of the large values: the gateway's body limit is just under NATS max_payload (1 MiB). */
export const HUGE_SIZES = [10_000, 100_000, 600_000, 1_200_000] as const;

/** Something of a different type or shape than expected, from small to pathological. */
export const junk: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: edgeString },
  { weight: 3, arbitrary: edgeNumber },
  { weight: 2, arbitrary: unicodeString },
  { weight: 1, arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, [null], { "": null }) },
  {
    weight: 2,
    arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v) ?? "null") as Json),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...HUGE_SIZES), fc.constantFrom("x", "é", "💩", "\u0000"))
      .map(([n, c]) => c.repeat(Math.ceil(n / c.length))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(101, 1_001, 20_000), fc.constantFrom<Json>(0, null, "x", {}))
      .map(([n, v]) => raw(`[${new Array(n).fill(render(v)).join(",")}]`)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(64, 1_000, 5_000, 10_000, 100_000),
        fc.constantFrom("array", "object") as fc.Arbitrary<"array" | "object">,
      )
      .map(([d, k]) => raw(deepText(d, k))),
  },
);

// ---- structural mutation ----

type Path = Array<string | number>;

function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (isRaw(v)) return out;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  }
  return out;
}

function clone(v: Json): Json {
  if (isRaw(v)) return v;
  if (Array.isArray(v)) return v.map(clone);
  if (v !== null && typeof v === "object") return obj(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

function get(v: Json, p: Path): Json {
  let cur = v;
  for (const k of p) cur = (cur as Record<string | number, Json>)[k] as Json;
  return cur;
}

/** Replaces the value at `p` (the root when `p` is empty). */
function put(root: Json, p: Path, value: Json): Json {
  if (p.length === 0) return value;
  const parent = get(root, p.slice(0, -1)) as Json[] | { [k: string]: Json };
  const last = p[p.length - 1]!;
  if (Array.isArray(parent)) parent[last as number] = value;
  else setKey(parent, String(last), value);
  return root;
}

export type Mutation =
  | { kind: "drop"; at: number }
  | { kind: "add"; at: number; key: string; value: Json }
  | { kind: "replace"; at: number; value: Json }
  | { kind: "rename"; at: number; key: string }
  | { kind: "duplicateKey"; at: number; value: Json }
  | { kind: "repeat"; at: number; times: number }
  | { kind: "wrapArray"; at: number }
  | { kind: "nullify"; at: number }
  | { kind: "caseFlip"; at: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      at: fc.nat(),
      key: fc.oneof(edgeKey, fc.constantFrom("extra", "type", "id", "metadata", "events", "name")),
      value: junk,
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: junk }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("rename" as const), at: fc.nat(), key: edgeKey }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("duplicateKey" as const), at: fc.nat(), value: junk }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("repeat" as const),
      at: fc.nat(),
      times: fc.constantFrom(2, 21, 101, 257, 1001),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("wrapArray" as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("nullify" as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("caseFlip" as const), at: fc.nat() }) },
);

/** Applies one mutation to a copy of `v`. */
export function applyMutation(v: Json, m: Mutation): Json {
  const root = clone(v);
  const all = paths(root);
  const p = all[m.at % all.length]!;
  const target = get(root, p);
  const isObj = target !== null && typeof target === "object" && !Array.isArray(target) && !isRaw(target);
  switch (m.kind) {
    case "drop": {
      if (p.length === 0) return raw("");
      const parent = get(root, p.slice(0, -1));
      const last = p[p.length - 1]!;
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete (parent as Record<string, Json>)[last as string];
      return root;
    }
    case "add": {
      if (isObj) setKey(target as { [k: string]: Json }, m.key, m.value);
      else if (Array.isArray(target)) target.push(m.value);
      else return put(root, p, m.value);
      return root;
    }
    case "replace":
      return put(root, p, m.value);
    case "rename": {
      if (p.length === 0) return root;
      const parent = get(root, p.slice(0, -1));
      const last = p[p.length - 1]!;
      if (Array.isArray(parent)) return root;
      const entries = Object.entries(parent as Record<string, Json>).map(
        ([k, x]) => [k === last ? m.key : k, x] as [string, Json],
      );
      return put(root, p.slice(0, -1), obj(entries));
    }
    case "duplicateKey": {
      if (!isObj) return root;
      const entries = Object.entries(target as Record<string, Json>);
      const first = entries[0];
      if (!first) return root;
      // `{"k": valid, ..., "k": junk}` and the reverse: JSON.parse keeps the last one.
      const text = render(target);
      return put(
        root,
        p,
        raw(
          `${text.slice(0, -1)}${text.length > 2 ? "," : ""}${JSON.stringify(first[0])}:${render(m.value)}}`,
        ),
      );
    }
    case "repeat": {
      const unit = Array.isArray(target)
        ? (target.length > 0 ? target : [null]).map(render).join(",")
        : render(target);
      // Repeats of repeats grow geometrically: capped so one body stays within what a string holds.
      const times = Math.max(1, Math.min(m.times, Math.floor(MAX_REPEAT_CHARS / (unit.length + 1))));
      return put(root, p, raw(`[${new Array(times).fill(unit).join(",")}]`));
    }
    case "wrapArray":
      return put(root, p, [target]);
    case "nullify":
      return put(root, p, null);
    case "caseFlip":
      if (typeof target === "string") {
        const flipped = target.toUpperCase() === target ? target.toLowerCase() : target.toUpperCase();
        return put(root, p, flipped === target ? `${target} ` : flipped);
      }
      return root;
  }
}

export function applyMutations(v: Json, ms: readonly Mutation[]): Json {
  return ms.reduce(applyMutation, v);
}

/** A valid body, or the same body mutated one to three times. */
export function mutated(
  valid: fc.Arbitrary<Json>,
  validWeight = 1,
): fc.Arbitrary<{ body: Json; mutations: Mutation[] }> {
  return fc.oneof(
    { weight: validWeight, arbitrary: valid.map((body) => ({ body, mutations: [] as Mutation[] })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([v, ms]) => ({ body: applyMutations(v, ms), mutations: ms })),
    },
  );
}
