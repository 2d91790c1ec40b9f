/**
 * zod → JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) with `z.toJSONSchema`.
 *
 * Every zod schema exported by `@tendon/contracts` is a named component, by its export name, so
 * the document reads like the contracts. A schema whose request (input) and response (output)
 * forms differ — defaults, coercions, strict objects — gets two components: `Name` for the output
 * and `NameInput` for the input (just `Name` when only one form is used).
 *
 * Invariants:
 * - Nothing is written by hand: a contract that zod cannot express in JSON Schema (a transform)
 *   fails the build of the document, unless it is listed in `documentedAs` below.
 * - Only components reachable from the paths end up in the document.
 */
import * as contracts from "@tendon/contracts";
import { ClientEventParams, EventId, ServerEventPayload, SessionEvent, Timestamp } from "@tendon/contracts";
import { z } from "zod";

export type JsonSchema = { [key: string]: unknown };
type Io = "input" | "output";

const COMPONENTS = "#/components/schemas/";

/**
 * The session events as the API returns them: every client and server payload with `id` and
 * `processed_at`. The contract's `SessionEvent` is a pass-through transform (the log stores what
 * was validated on the way in), which JSON Schema cannot describe.
 */
const DocumentedSessionEvent = z.discriminatedUnion(
  "type",
  [...ClientEventParams.options, ...ServerEventPayload.options].map((o) =>
    z.looseObject({ ...o.shape, id: EventId, processed_at: Timestamp }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** Contracts JSON Schema cannot express, and the schema documented in their place. */
const documentedAs = new Map<z.ZodType, z.ZodType>([[SessionEvent, DocumentedSessionEvent]]);

/** zod's own names for string checks, not JSON Schema formats; `pattern` carries the rule. */
const ZOD_ONLY_FORMATS = new Set(["starts_with", "ends_with", "includes", "regex"]);

function tidy(json: JsonSchema, schema: z.core.$ZodType): void {
  // The conversion reads metadata from its own registry; descriptions live in the global one.
  const description = z.globalRegistry.get(schema)?.description;
  if (description && json.description === undefined) json.description = description;
  if (typeof json.format === "string" && ZOD_ONLY_FORMATS.has(json.format)) {
    // An id's prefix (`^agent_.*`): an example id reads better than a string built from the regex.
    const prefix = json.format === "starts_with" && /^\^([A-Za-z0-9]+_)\.\*$/.exec(String(json.pattern))?.[1];
    if (prefix && json.examples === undefined) json.examples = [`${prefix}011CZkZAtmR3yMPDzynEDxu7`];
    delete json.format;
  }
  // The format says it; zod's 400-character date-time regex only buries it.
  if (json.format === "date-time") delete json.pattern;
  if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
  if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
}

const marker = (io: Io, id: string) => `${COMPONENTS}${io === "input" ? "in:" : "out:"}${id}`;

export interface SchemaConverter {
  /** JSON Schema of `schema`; named contracts inside it are `$ref`s to components. */
  convert(schema: z.ZodType, io: Io): JsonSchema;
  /** Like `convert`, but a top-level ref is replaced by the component (to list its properties). */
  inline(schema: z.ZodType, io: Io): JsonSchema;
  /**
   * Resolves the provisional component refs in `doc` (in place) and returns the components it
   * reaches, by their final names.
   */
  finish(doc: unknown): Record<string, JsonSchema>;
}

export function createSchemaConverter(): SchemaConverter {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  const names = new Set<string>();
  for (const [name, value] of Object.entries(contracts)) {
    if (!(value instanceof z.ZodType)) continue;
    const schema = documentedAs.get(value) ?? value;
    if (ids.has(schema)) continue; // an alias: the first name wins
    ids.set(schema, name);
    names.add(name);
    registry.add(schema, { ...(z.globalRegistry.get(schema) ?? {}), id: name });
  }
  /** The transforms zod meets, mapped to the documented schema's ref. */
  const substitutes = new Map<unknown, string>();
  for (const [raw, documented] of documentedAs) {
    const id = ids.get(documented);
    if (id && raw instanceof z.ZodPipe) substitutes.set(raw.out, id);
  }

  const params = (io: Io): z.core.ToJSONSchemaParams => ({
    io,
    target: "draft-2020-12",
    metadata: registry,
    unrepresentable: (ctx) => {
      const id = substitutes.get(ctx.zodSchema);
      if (id) return { $ref: marker(io, id) };
      throw new Error(
        `the API reference cannot describe ${ctx.path.join(".") || "a schema"}: ${ctx.message}`,
      );
    },
    override: (ctx) => tidy(ctx.jsonSchema as JsonSchema, ctx.zodSchema),
  });

  const all: Record<Io, Record<string, JsonSchema>> = { input: {}, output: {} };
  for (const io of ["input", "output"] as const) {
    const out = z.toJSONSchema(registry, { ...params(io), uri: (id) => marker(io, id) });
    for (const [id, schema] of Object.entries(out.schemas)) {
      if (!names.has(id)) throw new Error(`unexpected shared schema "${id}"`);
      const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
      all[io][id] = rest;
    }
  }

  // Which components need separate input and output forms: those whose forms differ, and those
  // whose input refers to one that does.
  const normalised = (s: JsonSchema) =>
    JSON.stringify(s).replace(/"#\/components\/schemas\/(in|out):/g, '"#');
  const split = new Set(
    Object.keys(all.output).filter((id) => normalised(all.input[id] ?? {}) !== normalised(all.output[id]!)),
  );
  for (let grew = true; grew; ) {
    grew = false;
    for (const id of Object.keys(all.input)) {
      if (split.has(id)) continue;
      const refs = refsOf(all.input[id]);
      if ([...refs].some((r) => split.has(r.replace(/^(in|out):/, "")))) {
        split.add(id);
        grew = true;
      }
    }
  }
  // Provisional names: `Name` (shared or output form) and `Name~in` (input form of a split one).
  const provisional = (ref: string): string => {
    const m = /^(in|out):(.*)$/.exec(ref);
    if (!m) return ref;
    const id = m[2]!;
    return m[1] === "in" && split.has(id) ? `${id}~in` : id;
  };
  const definition = (name: string): JsonSchema | undefined =>
    name.endsWith("~in") ? all.input[name.slice(0, -3)] : (all.output[name] ?? all.input[name]);

  function convert(schema: z.ZodType, io: Io): JsonSchema {
    const named = ids.get(documentedAs.get(schema) ?? schema);
    if (named) return { $ref: marker(io, named) };
    const { $schema: _s, $defs, ...json } = z.toJSONSchema(schema, params(io)) as JsonSchema;
    for (const id of Object.keys(($defs as JsonSchema | undefined) ?? {})) {
      if (!names.has(id)) throw new Error(`unexpected shared schema "${id}"`);
    }
    rewriteRefs(json, (ref) => {
      const m = /^#\/\$defs\/(.+)$/.exec(ref);
      return m ? marker(io, decodeURIComponent(m[1]!)) : ref;
    });
    return json;
  }

  return {
    convert,
    inline(schema, io) {
      let json = convert(schema, io);
      for (;;) {
        const m = /^#\/components\/schemas\/(in|out):(.+)$/.exec(String(json.$ref));
        if (!m || Object.keys(json).length !== 1) return json;
        json = structuredClone(all[m[1] === "in" ? "input" : "output"][m[2]!]!);
      }
    },
    finish(doc) {
      rewriteRefs(doc, (ref) =>
        ref.replace(/^#\/components\/schemas\/(.*)$/, (_, r) => COMPONENTS + provisional(r)),
      );
      // Walk from the document to every component it reaches.
      const reached = new Map<string, JsonSchema>();
      const queue = [...refsOf(doc)];
      while (queue.length > 0) {
        const name = queue.pop()!;
        if (reached.has(name)) continue;
        const def = definition(name);
        if (!def) throw new Error(`no component "${name}"`);
        const copy = structuredClone(def);
        rewriteRefs(copy, (ref) =>
          ref.replace(/^#\/components\/schemas\/(.*)$/, (_, r) => COMPONENTS + provisional(r)),
        );
        reached.set(name, copy);
        queue.push(...refsOf(copy));
      }
      const final = (name: string) => {
        if (!name.endsWith("~in")) return name;
        const base = name.slice(0, -3);
        return reached.has(base) ? `${base}Input` : base;
      };
      const out: Record<string, JsonSchema> = {};
      for (const [name, def] of [...reached].sort(([a], [b]) => a.localeCompare(b))) {
        const f = final(name);
        if (out[f]) throw new Error(`two components named "${f}"`);
        out[f] = def;
      }
      const rename = (ref: string) =>
        ref.replace(/^#\/components\/schemas\/(.*)$/, (_, r: string) => COMPONENTS + final(r));
      rewriteRefs(doc, rename);
      for (const def of Object.values(out)) rewriteRefs(def, rename);
      return out;
    },
  };
}

/** Replaces every `$ref` string in `node` (deeply, in place). */
export function rewriteRefs(node: unknown, fn: (ref: string) => string): void {
  if (Array.isArray(node)) {
    for (const item of node) rewriteRefs(item, fn);
  } else if (node && typeof node === "object") {
    const o = node as JsonSchema;
    for (const [k, v] of Object.entries(o)) {
      if (k === "$ref" && typeof v === "string") o[k] = fn(v);
      else rewriteRefs(v, fn);
    }
  }
}

/** The component names (after `#/components/schemas/`) that `node` refers to. */
function refsOf(node: unknown): Set<string> {
  const found = new Set<string>();
  rewriteRefs(node, (ref) => {
    if (ref.startsWith(COMPONENTS)) found.add(ref.slice(COMPONENTS.length));
    return ref;
  });
  return found;
}
