/**
 * `tendon tail <session>`: shows a session's recent events, then follows it live, reconnecting
 * (and catching up without duplicates or gaps) whenever the connection drops.
 */
import { API_OPTIONS, api, type Ctx, parse } from "./context.js";
import { EXIT, UsageError } from "./errors.js";
import { explain } from "./explain.js";
import { follow } from "./follow.js";
import { Renderer, type StreamEvent } from "./render.js";

export const TAIL_HELP = `tendon tail <session_id> — follow a session's events live

Usage:
  tendon tail sesn_... [--history N|all] [--until-idle] [--json]

Options:
  --history N    past events to show first (default 10; "all" for the whole session; 0 for none)
  --until-idle   exit when the current or next turn ends (an idle that is not waiting for a tool
                 result or an approval), or the session ends; the exit status says how: 0 end of
                 turn, 1 retries exhausted, refusal, budget or terminated
  --json         print the events as JSON lines
  --url, --api-key   the gateway and key (default TENDON_URL, TENDON_API_KEY)

The stream reconnects by itself when the connection drops (gateway restart, network) and prints
the events it missed, each once. It ends when the session is terminated or deleted, or on Ctrl-C.`;

export async function tailCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse("tail", args, {
    ...API_OPTIONS,
    history: { type: "string", default: "10" },
    "until-idle": { type: "boolean" },
  });
  if (values.help) {
    ctx.out.write(`${TAIL_HELP}\n`);
    return EXIT.ok;
  }
  const sessionId = positionals[0];
  if (!sessionId || positionals.length > 1) throw new UsageError("tail takes one session id", "tail");
  const h = values.history;
  const history = h === "all" ? "all" : Number(h);
  if (history !== "all" && !(Number.isInteger(history) && history >= 0))
    throw new UsageError(`--history takes a count or "all", not "${h}"`, "tail");

  const { target, client } = api(ctx, values);
  const json = values.json === true;
  const renderer = json ? undefined : new Renderer({ term: ctx.out, echoUser: true });
  // Notes share the terminal with the spinner when stdout is one; otherwise they go to stderr.
  const note = (text: string) =>
    renderer && ctx.out.isTTY ? renderer.note(text) : ctx.err.write(`${text}\n`);
  const abort = new AbortController();
  const removeInterrupt = ctx.onInterrupt(() => abort.abort());
  let outcome: number = EXIT.ok;
  try {
    // Fail fast, with the API's own answer, on a wrong id or key.
    const session = await client.beta.sessions.retrieve(sessionId);
    // --until-idle counts the turn ends logged after this point (the newest event now), whether
    // they arrive live or in a catch-up after a reconnect.
    const newest = (await client.beta.sessions.events.list(sessionId, { order: "desc", limit: 1 })).data[0];
    let pastStart = newest === undefined;
    const mark = (e: StreamEvent) => {
      if ("id" in e && e.id === newest?.id) pastStart = true;
    };
    if (!json) note(`following ${session.id} (${session.status}); Ctrl-C to stop`);
    const end = await follow({
      client,
      sessionId,
      history,
      deltas: !json,
      signal: abort.signal,
      onNotice: note,
      onEvent: (e) => {
        if (json) {
          if (e.type !== "event_start" && e.type !== "event_delta") ctx.out.write(`${JSON.stringify(e)}\n`);
        } else renderer?.handle(e);
        if (e.type === "session.status_terminated" || e.type === "session.deleted") {
          outcome = e.type === "session.deleted" ? EXIT.ok : EXIT.failed;
          return "stop";
        }
        // --until-idle: the first turn end logged after the start (not one from before it).
        // Waiting for a tool result or an approval is not the end of a turn (the SDK's rule too).
        const before = !pastStart;
        mark(e);
        if (
          values["until-idle"] &&
          !before &&
          e.type === "session.status_idle" &&
          e.stop_reason.type !== "requires_action"
        ) {
          outcome = e.stop_reason.type === "end_turn" ? EXIT.ok : EXIT.failed;
          return "stop";
        }
        return "continue";
      },
      onSkipped: mark,
    });
    renderer?.close();
    if (end === "aborted") return EXIT.interrupted;
    if (end === "ended" && !json) note("the session ended");
    return outcome;
  } catch (err) {
    renderer?.close();
    throw explain(err, target.url);
  } finally {
    removeInterrupt();
  }
}
