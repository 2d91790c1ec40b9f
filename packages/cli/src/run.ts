/**
 * `tendon run "<prompt>"`: one turn of an agent from the terminal. Finds or creates what the turn
 * needs (the `tendon-cli` environment, a `tendon-run` agent for the model and system prompt),
 * creates a session (or reuses `--session`), opens the stream, sends the prompt, renders the
 * events and exits with the turn's outcome. Ctrl-C sends `user.interrupt`, then exits 130.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { API_OPTIONS, api, type Ctx, parse } from "./context.js";
import { EXIT, UsageError } from "./errors.js";
import { explain } from "./explain.js";
import { follow } from "./follow.js";
import { Renderer } from "./render.js";
import { paint } from "./term.js";

export const RUN_HELP = `tendon run "<prompt>" — run one turn of an agent and watch it live

Usage:
  tendon run "<prompt>" [--agent agent_... | --model M --system S --no-tools]
                        [--environment env_...] [--session sesn_...] [--json]

Options:
  --agent ID         use this agent (latest version)
  --model M          without --agent: the model of the agent to use (default claude-sonnet-4-6)
  --system S         without --agent: its system prompt
  --no-tools         without --agent: no built-in tools (bash, read, write, edit, glob, grep, web)
  --environment ID   run in this environment (default: "tendon-cli", created when missing)
  --session ID       send the prompt to this existing session instead of a new one
  --title T          the new session's title (default: the prompt)
  --json             print the raw events as JSON lines (no spinner, no colours)
  --url, --api-key   the gateway and key (default TENDON_URL, TENDON_API_KEY)

Without --agent, an agent named "tendon-run" with the same model, system prompt and tools is
reused, or created. The spinner shows only on a terminal. Ctrl-C interrupts the agent and exits.

Exit status: 0 the turn ended normally · 1 a session error, refusal or failure · 2 bad usage ·
3 the agent waits for input run cannot give (a custom tool's result, an approval) · 130 Ctrl-C.`;

export const DEFAULT_MODEL = "claude-sonnet-4-6";
const RUN_AGENT = "tendon-run";
const CLI_ENVIRONMENT = "tendon-cli";
const TOOLSET = "agent_toolset_20260401";

/** The `tendon-cli` environment, created on first use (a concurrent creation wins the name). */
export async function ensureEnvironment(client: Anthropic): Promise<string> {
  const find = async () => {
    for await (const e of client.beta.environments.list({ limit: 100 }))
      if (e.name === CLI_ENVIRONMENT && !e.archived_at) return e.id;
    return undefined;
  };
  const found = await find();
  if (found) return found;
  try {
    const env = await client.beta.environments.create({
      name: CLI_ENVIRONMENT,
      description: "created by tendon run",
      config: { type: "cloud", networking: { type: "unrestricted" } },
    });
    return env.id;
  } catch (err) {
    const again = await find();
    if (again) return again;
    throw err;
  }
}

/** A `tendon-run` agent with exactly this model, system prompt and toolset. */
export async function ensureAgent(
  client: Anthropic,
  want: { model: string; system: string | undefined; tools: boolean },
): Promise<string> {
  for await (const a of client.beta.agents.list({ limit: 100 })) {
    if (a.name !== RUN_AGENT || a.archived_at) continue;
    const hasTools = a.tools.some((t) => t.type === TOOLSET);
    if (a.model.id === want.model && (a.system ?? undefined) === want.system && hasTools === want.tools)
      return a.id;
  }
  const agent = await client.beta.agents.create({
    name: RUN_AGENT,
    model: want.model,
    description: "created by tendon run",
    ...(want.system !== undefined ? { system: want.system } : {}),
    tools: want.tools ? [{ type: TOOLSET }] : [],
  });
  return agent.id;
}

export async function runCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse("run", args, {
    ...API_OPTIONS,
    agent: { type: "string" },
    model: { type: "string" },
    system: { type: "string" },
    "no-tools": { type: "boolean" },
    environment: { type: "string" },
    session: { type: "string" },
    title: { type: "string" },
  });
  if (values.help) {
    ctx.out.write(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  const prompt = positionals.join(" ").trim();
  if (!prompt) throw new UsageError('what should the agent do? e.g. tendon run "list the files here"', "run");
  if (values.agent && (values.model || values.system || values["no-tools"]))
    throw new UsageError(
      "--agent uses that agent's own model, system prompt and tools; drop --model/--system/--no-tools",
      "run",
    );
  if (values.session && (values.agent || values.environment))
    throw new UsageError("--session continues that session with its own agent and environment", "run");

  const { target, client } = api(ctx, values);
  const json = values.json === true;
  const renderer = json ? undefined : new Renderer({ term: ctx.out });
  // Notes share the terminal with the spinner when stdout is one; otherwise they go to stderr.
  const note = (text: string) =>
    renderer && ctx.out.isTTY ? renderer.note(text) : ctx.err.write(`${text}\n`);

  try {
    let sessionId = values.session;
    if (!sessionId) {
      const environmentId = values.environment ?? (await ensureEnvironment(client));
      const agentId =
        values.agent ??
        (await ensureAgent(client, {
          model: values.model ?? DEFAULT_MODEL,
          system: values.system,
          tools: values["no-tools"] !== true,
        }));
      const session = await client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        title: values.title ?? prompt.slice(0, 200),
      });
      sessionId = session.id;
    }
    const id = sessionId;
    note(`session ${id} · tendon tail ${id} to watch it again`);

    const abort = new AbortController();
    let interrupted = false;
    let ourMessage: string | undefined;
    let turnStarted = false;
    let outcome: number = EXIT.failed;
    const removeInterrupt = ctx.onInterrupt(() => {
      if (interrupted) process.exit(EXIT.interrupted); // a second Ctrl-C: leave now
      interrupted = true;
      renderer?.close();
      ctx.err.write(
        `${paint(ctx.err, "yellow", "interrupting the agent… (Ctrl-C again to quit at once)")}\n`,
      );
      void client.beta.sessions.events
        .send(id, { events: [{ type: "user.interrupt" }] })
        .catch((err: unknown) => ctx.err.write(`tendon: ${explain(err, target.url).message}\n`))
        .finally(() => abort.abort());
    });

    const end = await follow({
      client,
      sessionId: id,
      history: 0,
      deltas: !json,
      signal: abort.signal,
      onNotice: note,
      // The stream is open: now send the prompt (its events are buffered until this returns).
      onReady: async () => {
        const r = await client.beta.sessions.events.send(id, {
          events: [{ type: "user.message", content: [{ type: "text", text: prompt }] }],
        });
        ourMessage = r.data?.[0]?.id;
      },
      onEvent: (e) => {
        if (json) {
          if (e.type !== "event_start" && e.type !== "event_delta") ctx.out.write(`${JSON.stringify(e)}\n`);
        } else renderer?.handle(e);
        if ("id" in e && e.id === ourMessage) turnStarted = true;
        if (e.type === "session.status_terminated" || e.type === "session.deleted") {
          outcome = EXIT.failed;
          return "stop";
        }
        // Only the idle that ends *our* turn counts (a reused session may be finishing an older one).
        if (turnStarted && e.type === "session.status_idle") {
          const r = e.stop_reason.type;
          outcome = r === "end_turn" ? EXIT.ok : r === "requires_action" ? EXIT.needsInput : EXIT.failed;
          return "stop";
        }
        return "continue";
      },
    });
    removeInterrupt();
    if (end === "aborted" || interrupted) {
      renderer?.close();
      return EXIT.interrupted;
    }
    renderer?.finish();
    if (outcome === EXIT.needsInput)
      ctx.err.write(
        `tendon: the agent is waiting for input (a custom tool's result or an approval); answer it through the API for session ${id}\n`,
      );
    return outcome;
  } catch (err) {
    renderer?.close();
    throw explain(err, target.url);
  }
}
