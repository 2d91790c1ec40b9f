/**
 * `tendon agents|environments|sessions|vaults <verb>`: CRUD over the gateway's API with the SDK.
 * Tables for people, `--json` for scripts (a list prints one JSON array; anything else prints the
 * API's object). Bodies come from flags, from `--file body.json` (`-` for stdin), or both: flags
 * win over the file's fields.
 */
import { readFileSync } from "node:fs";
import type Anthropic from "@anthropic-ai/sdk";
import { API_OPTIONS, api, type Ctx, parse, printJson } from "./context.js";
import { EXIT, UsageError } from "./errors.js";
import { explain } from "./explain.js";
import { table } from "./term.js";

type Obj = Record<string, unknown>;
type Values = Record<string, string | boolean | string[] | undefined>;

interface Kind {
  name: "agents" | "environments" | "sessions" | "vaults";
  what: string;
  columns: Array<[string, (o: Obj) => string]>;
  verbs: Array<"list" | "get" | "create" | "update" | "archive" | "delete">;
  /** Flags for create/update, each copied into the body by `toBody`. */
  bodyFlags: Record<string, { type: "string" | "boolean"; help: string }>;
  listFlags?: Record<string, { type: "string"; help: string }>;
  toBody(v: Values, verb: "create" | "update"): Obj;
  listParams?(v: Values): Obj;
  call(c: Anthropic, verb: string, id: string | undefined, body: Obj): Promise<unknown>;
  list(c: Anthropic, params: Obj): AsyncIterable<unknown>;
}

const str = (v: unknown) => (v === null || v === undefined ? "" : String(v));
const when = (o: Obj) => str(o.created_at).replace(/\.\d+Z$/, "Z");
const named = (o: Obj, key: string) => `${str(o[key])}${o.archived_at ? " (archived)" : ""}`;
const set = (body: Obj, key: string, v: unknown) => {
  if (v !== undefined) body[key] = v;
};

function metadata(v: Values): Obj | undefined {
  const list = v.metadata as string[] | undefined;
  if (!list?.length) return undefined;
  const out: Obj = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new UsageError(`--metadata takes key=value, not "${kv}"`);
    out[kv.slice(0, i)] = kv.slice(i + 1) === "" ? null : kv.slice(i + 1);
  }
  return out;
}

const KINDS: Kind[] = [
  {
    name: "agents",
    what: "agents (model, system prompt, tools; every update is a new version)",
    columns: [
      ["ID", (o) => str(o.id)],
      ["NAME", (o) => named(o, "name")],
      ["MODEL", (o) => str((o.model as Obj | undefined)?.id)],
      ["VERSION", (o) => str(o.version)],
      ["CREATED", when],
    ],
    verbs: ["list", "get", "create", "update", "archive"],
    bodyFlags: {
      name: { type: "string", help: "name (required to create)" },
      model: { type: "string", help: "model id, e.g. claude-sonnet-4-6 (required to create)" },
      system: { type: "string", help: "system prompt" },
      description: { type: "string", help: "description" },
      toolset: {
        type: "boolean",
        help: "enable the built-in tools (bash, read, write, edit, glob, grep, web)",
      },
    },
    toBody: (v) => {
      const b: Obj = {};
      set(b, "name", v.name);
      set(b, "model", v.model);
      set(b, "system", v.system);
      set(b, "description", v.description);
      if (v.toolset) b.tools = [{ type: "agent_toolset_20260401" }];
      return b;
    },
    call: async (c, verb, id, body) => {
      const a = c.beta.agents;
      if (verb === "get") return a.retrieve(id!);
      if (verb === "create") return a.create(body as never);
      if (verb === "archive") return a.archive(id!);
      // update: optimistic concurrency on the version we just read, unless the body pins one
      const version = body.version ?? (await a.retrieve(id!)).version;
      return a.update(id!, { ...body, version } as never);
    },
    list: (c, p) => c.beta.agents.list(p),
  },
  {
    name: "environments",
    what: "environments (where sessions run: cloud sandboxes or your own workers)",
    columns: [
      ["ID", (o) => str(o.id)],
      ["NAME", (o) => named(o, "name")],
      ["TYPE", (o) => str((o.config as Obj | undefined)?.type)],
      ["CREATED", when],
    ],
    verbs: ["list", "get", "create", "update", "archive", "delete"],
    bodyFlags: {
      name: { type: "string", help: "name (required to create; unique)" },
      description: { type: "string", help: "description" },
      "self-hosted": {
        type: "boolean",
        help: "create a self_hosted environment (your workers run the tools)",
      },
    },
    toBody: (v, verb) => {
      const b: Obj = {};
      set(b, "name", v.name);
      set(b, "description", v.description);
      if (v["self-hosted"]) b.config = { type: "self_hosted" };
      else if (verb === "create") b.config = { type: "cloud", networking: { type: "unrestricted" } };
      return b;
    },
    call: (c, verb, id, body) => {
      const e = c.beta.environments;
      if (verb === "get") return e.retrieve(id!);
      if (verb === "create") return e.create(body as never);
      if (verb === "update") return e.update(id!, body as never);
      if (verb === "archive") return e.archive(id!);
      return e.delete(id!);
    },
    list: (c, p) => c.beta.environments.list(p),
  },
  {
    name: "sessions",
    what: "sessions (one conversation of an agent in an environment)",
    columns: [
      ["ID", (o) => str(o.id)],
      ["STATUS", (o) => str(o.status)],
      ["AGENT", (o) => str((o.agent as Obj | undefined)?.id)],
      ["TITLE", (o) => named(o, "title").slice(0, 60)],
      ["CREATED", when],
    ],
    verbs: ["list", "get", "create", "update", "archive", "delete"],
    bodyFlags: {
      agent: { type: "string", help: "agent id (required to create)" },
      environment: { type: "string", help: "environment id (required to create)" },
      title: { type: "string", help: "title" },
    },
    listFlags: {
      agent: { type: "string", help: "only sessions of this agent" },
      status: {
        type: "string",
        help: "only sessions in this status (idle, running, rescheduling, terminated)",
      },
    },
    toBody: (v, verb) => {
      const b: Obj = {};
      if (verb === "create") {
        set(b, "agent", v.agent);
        set(b, "environment_id", v.environment);
      } else if (v.agent || v.environment)
        throw new UsageError("a session's agent and environment cannot change", "sessions");
      set(b, "title", v.title);
      return b;
    },
    listParams: (v) => ({
      ...(v.agent ? { agent_id: v.agent } : {}),
      ...(v.status ? { statuses: String(v.status).split(",") } : {}),
    }),
    call: (c, verb, id, body) => {
      const s = c.beta.sessions;
      if (verb === "get") return s.retrieve(id!);
      if (verb === "create") return s.create(body as never);
      if (verb === "update") return s.update(id!, body as never);
      if (verb === "archive") return s.archive(id!);
      return s.delete(id!);
    },
    list: (c, p) => c.beta.sessions.list(p),
  },
  {
    name: "vaults",
    what: "vaults (credentials sessions use without seeing them)",
    columns: [
      ["ID", (o) => str(o.id)],
      ["NAME", (o) => named(o, "display_name")],
      ["CREATED", when],
    ],
    verbs: ["list", "get", "create", "update", "archive", "delete"],
    bodyFlags: { name: { type: "string", help: "display name (required to create)" } },
    toBody: (v) => {
      const b: Obj = {};
      set(b, "display_name", v.name);
      return b;
    },
    call: (c, verb, id, body) => {
      const s = c.beta.vaults;
      if (verb === "get") return s.retrieve(id!);
      if (verb === "create") return s.create(body as never);
      if (verb === "update") return s.update(id!, body as never);
      if (verb === "archive") return s.archive(id!);
      return s.delete(id!);
    },
    list: (c, p) => c.beta.vaults.list(p),
  },
];

function help(k: Kind): string {
  const flagLines = (flags: Record<string, { type: string; help: string }>) =>
    Object.entries(flags).map(
      ([f, d]) => `  --${`${f}${d.type === "string" ? " X" : ""}`.padEnd(18)} ${d.help}`,
    );
  const verbs = k.verbs.map((v) => {
    switch (v) {
      case "list":
        return `  tendon ${k.name} list [--all] [--limit N]${k.listFlags ? " [filters]" : ""}`;
      case "get":
        return `  tendon ${k.name} get <id>`;
      case "create":
        return `  tendon ${k.name} create [flags] [--file body.json]`;
      case "update":
        return `  tendon ${k.name} update <id> [flags] [--file body.json]`;
      default:
        return `  tendon ${k.name} ${v} <id>`;
    }
  });
  return [
    `tendon ${k.name} — ${k.what}`,
    "",
    "Usage:",
    ...verbs,
    "",
    "Create/update flags:",
    ...flagLines(k.bodyFlags),
    `  --${"metadata k=v".padEnd(18)} set a metadata key (repeatable; k= removes it on update)`,
    `  --${"file F".padEnd(18)} the request body as JSON (- for stdin); flags override its fields`,
    ...(k.listFlags ? ["", "List filters:", ...flagLines(k.listFlags)] : []),
    "",
    "Common:",
    `  --${"all".padEnd(18)} list archived ones too`,
    `  --${"limit N".padEnd(18)} list at most N (default 50)`,
    `  --${"json".padEnd(18)} print the API's JSON (a list prints one array)`,
    `  --${"url, --api-key".padEnd(18)} the gateway and key (default TENDON_URL, TENDON_API_KEY)`,
  ].join("\n");
}

function readBody(file: string | undefined): Obj {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not JSON: ${(err as Error).message}`);
  }
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new UsageError(`${file} must hold one JSON object (the request body)`);
  return body as Obj;
}

/** Prints one object for a person: `key  value` lines, nested values as compact JSON. */
function describe(ctx: Ctx, o: Obj): void {
  const keys = Object.keys(o);
  const w = Math.max(...keys.map((k) => k.length));
  for (const k of keys) {
    const v = o[k];
    const text = v !== null && typeof v === "object" ? JSON.stringify(v) : str(v);
    ctx.out.write(`${k.padEnd(w)}  ${text}\n`);
  }
}

export async function resourceCommand(ctx: Ctx, name: string, args: string[]): Promise<number> {
  const k = KINDS.find((x) => x.name === name);
  if (!k) throw new UsageError(`unknown command "${name}"`);
  const flags: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    all: { type: "boolean" },
    limit: { type: "string" },
    file: { type: "string" },
    metadata: { type: "string", multiple: true },
  };
  for (const [f, d] of Object.entries({ ...k.bodyFlags, ...k.listFlags })) flags[f] = { type: d.type };
  const { values, positionals } = parse(k.name, args, { ...API_OPTIONS, ...flags });
  const v = values as Values;
  const [verb, id, ...extra] = positionals;
  if (values.help || verb === undefined || verb === "help") {
    ctx.out.write(`${help(k)}\n`);
    return verb === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  if (!(k.verbs as string[]).includes(verb))
    throw new UsageError(`"${verb}" is not a ${k.name} command; try ${k.verbs.join(", ")}`, k.name);
  const needsId = verb !== "list" && verb !== "create";
  if (needsId && !id) throw new UsageError(`tendon ${k.name} ${verb} needs an id`, k.name);
  if ((needsId ? extra.length : id !== undefined ? 1 : 0) > 0)
    throw new UsageError(`unexpected argument "${needsId ? extra[0] : id}"`, k.name);

  const { target, client } = api(ctx, values);
  const json = values.json === true;
  try {
    if (verb === "list") {
      const limit = v.limit === undefined ? 50 : Number(v.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit takes a positive count`, k.name);
      const params: Obj = {
        limit: Math.min(limit, 100),
        ...(v.all ? { include_archived: true } : {}),
        ...k.listParams?.(v),
      };
      const items: Obj[] = [];
      for await (const item of k.list(client, params)) {
        items.push(item as Obj);
        if (items.length >= limit) break;
      }
      if (json) printJson(ctx, items);
      else if (items.length === 0)
        ctx.out.write(`no ${k.name}${v.all ? "" : " (--all shows archived ones)"}\n`);
      else
        ctx.out.write(
          `${table(
            k.columns.map((c) => c[0]),
            items.map((o) => k.columns.map((c) => c[1](o))),
          )}\n`,
        );
      return EXIT.ok;
    }
    let body: Obj = {};
    if (verb === "create" || verb === "update") {
      body = { ...readBody(v.file as string | undefined), ...k.toBody(v, verb) };
      const md = metadata(v);
      if (md) body.metadata = { ...(body.metadata as Obj | undefined), ...md };
      if (verb === "update" && Object.keys(body).length === 0)
        throw new UsageError("nothing to update: pass flags or --file", k.name);
    }
    const result = (await k.call(client, verb, id, body)) as Obj;
    if (json) printJson(ctx, result);
    else if (verb === "get") describe(ctx, result);
    else if (verb === "create") ctx.out.write(`${str(result.id)}\n`);
    else
      ctx.out.write(`${verb === "delete" ? "deleted" : verb === "archive" ? "archived" : "updated"} ${id}\n`);
    return EXIT.ok;
  } catch (err) {
    throw explain(err, target.url);
  }
}
