/**
 * `tendon hand serve`: any machine (a laptop, a box in a customer VPC) registers named tools and
 * serves them over NATS; brains route calls of those custom tools here instead of waiting for the
 * client. Each tool is a hand named `tool-<name>` (several machines may serve the same tool; NATS
 * spreads the calls), announced in the registry on a heartbeat.
 *
 * Tools are shell commands (the call's input arrives as JSON on stdin; stdout is the result;
 * a non-zero exit is a tool error) or functions exported by an ES module
 * (`export const tools = { name: async (input) => string | {content, is_error} }`).
 *
 * Credentials: give it a NATS user scoped to `<prefix>.hand.tool-*` and the hand buckets
 * (infra/nats/nats.conf has one); it needs nothing else.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Bus, createBus, type HandServer } from "@tendon/bus";
import { customToolHandName, inboxPrefixOf, type ToolResult } from "@tendon/contracts";
import { randomBase62 } from "@tendon/runtime";

export type ToolFn = (input: Record<string, unknown>, signal: AbortSignal) => Promise<string | ToolResult>;

export interface HandServeOptions {
  natsUrl: string;
  prefix: string;
  natsUser?: string | undefined;
  natsPassword?: string | undefined;
  natsToken?: string | undefined;
  /** `name=shell command` */
  commands: string[];
  modules: string[];
  log: (line: string) => void;
}

export function commandTool(command: string, maxOutputBytes = 512 * 1024): ToolFn {
  return (input, signal) =>
    new Promise((resolveResult) => {
      const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], signal });
      let out = "";
      let err = "";
      child.stdout.on("data", (b: Buffer) => {
        if (out.length < maxOutputBytes) out += b.toString("utf8");
      });
      child.stderr.on("data", (b: Buffer) => {
        if (err.length < 64 * 1024) err += b.toString("utf8");
      });
      child.on("error", (e) =>
        resolveResult({
          content: [{ type: "text", text: `could not run the tool: ${e.message}` }],
          is_error: true,
        }),
      );
      child.on("close", (code) => {
        const text = (code === 0 ? out : `${out}${err}`).slice(0, maxOutputBytes) || "(no output)";
        resolveResult({
          content: [{ type: "text", text: code === 0 ? text : `exit ${code}: ${text}` }],
          is_error: code !== 0,
        });
      });
      child.stdin.end(JSON.stringify(input));
    });
}

function asResult(r: string | ToolResult): ToolResult {
  return typeof r === "string" ? { content: [{ type: "text", text: r }], is_error: false } : r;
}

export async function loadTools(
  opts: Pick<HandServeOptions, "commands" | "modules">,
): Promise<Map<string, ToolFn>> {
  const tools = new Map<string, ToolFn>();
  for (const spec of opts.commands) {
    const i = spec.indexOf("=");
    if (i <= 0) throw new Error(`--tool expects name=command, got "${spec}"`);
    tools.set(spec.slice(0, i), commandTool(spec.slice(i + 1)));
  }
  for (const m of opts.modules) {
    const mod = (await import(pathToFileURL(resolve(m)).href)) as { tools?: Record<string, ToolFn> };
    if (!mod.tools) throw new Error(`${m} does not export "tools"`);
    for (const [name, fn] of Object.entries(mod.tools)) tools.set(name, fn);
  }
  for (const name of tools.keys()) {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(name))
      throw new Error(`invalid tool name "${name}" (letters, digits, _ and - only)`);
  }
  if (tools.size === 0) throw new Error("no tools: pass --tool name=command or --module ./tools.mjs");
  return tools;
}

export async function serveHands(
  opts: HandServeOptions,
): Promise<{ bus: Bus; hands: HandServer[]; stop(): Promise<void> }> {
  const tools = await loadTools(opts);
  const instance = `hand-${randomBase62(10)}`;
  const bus = await createBus({
    servers: opts.natsUrl,
    prefix: opts.prefix,
    name: instance,
    // A hand's credential may only bind to the hand buckets, not create them.
    createHandStores: false,
    inboxPrefix: inboxPrefixOf("hand"),
    ...(opts.natsUser ? { user: opts.natsUser, pass: opts.natsPassword ?? "" } : {}),
    ...(opts.natsToken ? { token: opts.natsToken } : {}),
  });
  const hands: HandServer[] = [];
  for (const [tool, fn] of tools) {
    hands.push(
      await bus.serveHand({
        name: customToolHandName(tool),
        kind: "custom",
        instance,
        tools: [tool],
        indexTools: true,
        handler: async (req, signal) => asResult(await fn(req.input, signal)),
        onError: (e) => opts.log(`tool ${tool}: ${e instanceof Error ? e.message : String(e)}`),
      }),
    );
    opts.log(`serving tool "${tool}" as hand ${customToolHandName(tool)}`);
  }
  return {
    bus,
    hands,
    async stop() {
      await Promise.allSettled(hands.map((h) => h.stop()));
      await bus.close();
    },
  };
}
