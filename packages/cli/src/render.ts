/**
 * Renders a session's event stream for a person: a spinner while the model thinks or a tool runs
 * (TTY only), agent text as it arrives, each tool call and each result folded to one line,
 * errors highlighted, and token usage at the end. Pure output: it never talks to the gateway.
 *
 * Invariants:
 * - Text previews (`event_start`/`event_delta`) and the buffered `agent.message` with the same id
 *   print the text once: the buffered event adds only what the preview had not shown.
 * - The spinner is drawn on a line of its own and erased before anything else is written; it is
 *   never drawn in the middle of agent text, nor when the output is not a TTY.
 * - Usage is summed from `span.model_request_end` events, once per event id.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { oneLine, paint, type Term } from "./term.js";

export type StreamEvent = Anthropic.Beta.Sessions.BetaManagedAgentsStreamSessionEvents;

/** Starts a repeating timer; returns its stop function (a fake in tests). */
export type Ticker = (everyMs: number, fn: () => void) => () => void;

const realTicker: Ticker = (ms, fn) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

export const SPINNER_FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Usage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  requests: number;
}

export interface RendererOptions {
  term: Term;
  /** Show the user's own messages (tail); `run` typed them already. */
  echoUser?: boolean;
  ticker?: Ticker;
}

type Block = { type: string; text?: string };

function textOf(content: ReadonlyArray<Block> | undefined): string {
  return (content ?? [])
    .map((b) => (b.type === "text" ? (b.text ?? "") : `[${b.type}]`))
    .filter((s) => s !== "")
    .join("\n");
}

/** The one thing worth showing about a tool call's input. */
export function summarizeInput(name: string, input: Record<string, unknown> | undefined): string {
  const i = input ?? {};
  const pick = (k: string) => (typeof i[k] === "string" ? (i[k] as string) : undefined);
  const main =
    (name === "bash" ? pick("command") : undefined) ??
    pick("file_path") ??
    pick("pattern") ??
    pick("url") ??
    pick("query");
  if (main !== undefined) return main;
  const json = JSON.stringify(i);
  return json === "{}" ? "" : json;
}

export class Renderer {
  readonly usage: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, requests: 0 };
  private readonly term: Term;
  private readonly echoUser: boolean;
  private readonly ticker: Ticker;
  private atLineStart = true;
  private spinnerLabel: string | undefined;
  private spinnerShown = false;
  private frame = 0;
  private stopTicker: (() => void) | undefined;
  /** Text already printed per previewed agent.message id. */
  private readonly previews = new Map<string, string>();
  private currentPreview: string | undefined;
  private readonly countedRequests = new Set<string>();
  private readonly toolNames = new Map<string, string>();

  constructor(opts: RendererOptions) {
    this.term = opts.term;
    this.echoUser = opts.echoUser ?? false;
    this.ticker = opts.ticker ?? realTicker;
  }

  handle(e: StreamEvent): void {
    switch (e.type) {
      case "event_start":
        if (e.event.type === "agent.message") {
          this.beginText();
          this.previews.set(e.event.id, "");
          this.currentPreview = e.event.id;
        } else this.spin("thinking");
        return;
      case "event_delta": {
        const shown = this.previews.get(e.event_id);
        if (shown === undefined) return;
        const text = e.delta.content.type === "text" ? e.delta.content.text : "";
        this.beginText();
        this.writeText(text);
        this.previews.set(e.event_id, shown + text);
        return;
      }
      case "agent.message": {
        const full = textOf(e.content as Block[]);
        const shown = this.previews.get(e.id);
        this.previews.delete(e.id);
        if (this.currentPreview === e.id) this.currentPreview = undefined;
        this.beginText();
        if (shown !== undefined && full.startsWith(shown)) this.writeText(full.slice(shown.length));
        else {
          if (shown) this.endLine();
          this.writeText(full);
        }
        this.endLine();
        return;
      }
      case "agent.thinking":
        this.spin("thinking");
        return;
      case "agent.tool_use":
      case "agent.custom_tool_use":
      case "agent.mcp_tool_use": {
        const name = e.type === "agent.mcp_tool_use" ? `${e.mcp_server_name}/${e.name}` : e.name;
        this.toolNames.set(e.id, name);
        const ask =
          "evaluated_permission" in e && e.evaluated_permission === "ask" ? " (needs approval)" : "";
        const deny = "evaluated_permission" in e && e.evaluated_permission === "deny" ? " (denied)" : "";
        const head = `⚙ ${name}`;
        const width = this.term.columns - head.length - ask.length - deny.length - 2;
        const detail = oneLine(summarizeInput(e.name, e.input), Math.max(width, 10));
        this.line(
          `${paint(this.term, "cyan", head)}${detail ? ` ${paint(this.term, "dim", detail)}` : ""}` +
            `${paint(this.term, "yellow", ask)}${paint(this.term, "red", deny)}`,
        );
        if (e.type !== "agent.custom_tool_use" && !ask && !deny) this.spin(`running ${name}`);
        return;
      }
      case "agent.tool_result":
      case "agent.mcp_tool_result":
      case "user.tool_result":
      case "user.custom_tool_result": {
        const text = textOf(e.content as Block[] | undefined);
        const lines = text === "" ? 0 : text.split("\n").length;
        const bad = e.is_error === true;
        const label = bad ? "error" : "ok";
        const extra = lines > 1 ? ` (${lines} lines)` : "";
        const prefix = `  ↳ ${label}${extra}: `;
        const body = oneLine(text || "(no output)", Math.max(this.term.columns - prefix.length, 10));
        this.line(paint(this.term, bad ? "red" : "dim", `${prefix}${body}`));
        return;
      }
      case "span.model_request_start":
        this.spin("thinking");
        return;
      case "span.model_request_end":
        if (!this.countedRequests.has(e.id)) {
          this.countedRequests.add(e.id);
          const u = e.model_usage;
          this.usage.input += u?.input_tokens ?? 0;
          this.usage.output += u?.output_tokens ?? 0;
          this.usage.cacheRead += u?.cache_read_input_tokens ?? 0;
          this.usage.cacheWrite += u?.cache_creation_input_tokens ?? 0;
          this.usage.requests += 1;
        }
        // A preview the request never finished (error, interrupt) ends here.
        if (this.currentPreview && this.previews.has(this.currentPreview)) {
          this.previews.delete(this.currentPreview);
          this.currentPreview = undefined;
          this.endLine();
        }
        this.stopSpinner();
        return;
      case "session.status_running":
        this.spin("thinking");
        return;
      case "session.status_rescheduled":
        this.spin("retrying");
        return;
      case "session.error": {
        const err = e.error as { type?: string; message?: string; retry_status?: { type?: string } };
        const retry = err.retry_status?.type;
        const note = retry === "retrying" ? " (retrying)" : retry === "exhausted" ? " (gave up)" : "";
        this.line(paint(this.term, "red", `✗ ${err.type ?? "error"}: ${err.message ?? ""}${note}`));
        return;
      }
      case "session.status_idle": {
        this.stopSpinner();
        const r = e.stop_reason;
        if (r.type === "requires_action") {
          const waiting = r.event_ids.map((id) => this.toolNames.get(id) ?? id).join(", ");
          this.line(paint(this.term, "yellow", `… waiting for input: ${waiting}`));
        } else if (r.type !== "end_turn") {
          const why =
            r.type === "refusal" && e.stop_details?.explanation ? `: ${e.stop_details.explanation}` : "";
          this.line(paint(this.term, "red", `✗ the turn ended: ${r.type}${why}`));
        }
        return;
      }
      case "session.status_terminated":
        this.line(paint(this.term, "red", "✗ the session was terminated"));
        return;
      case "session.deleted":
        this.line(paint(this.term, "red", "✗ the session was deleted"));
        return;
      case "user.message":
        if (this.echoUser) this.line(paint(this.term, "bold", `› ${textOf(e.content as Block[])}`));
        return;
      case "user.interrupt":
        this.line(paint(this.term, "yellow", "⏹ interrupted"));
        return;
      case "user.tool_confirmation":
        this.line(
          paint(
            this.term,
            "dim",
            `  ↳ ${e.result === "allow" ? "approved" : "denied"} ${this.toolNames.get(e.tool_use_id) ?? ""}`,
          ),
        );
        return;
      default:
        return; // other events (usage snapshots, threads, outcomes) are not shown
    }
  }

  /** A line of the CLI's own (reconnecting, session id), dimmed. */
  note(text: string): void {
    this.line(paint(this.term, "dim", text));
  }

  /** Stops the spinner and prints the usage line. */
  finish(): void {
    this.stopSpinner();
    this.endLine();
    this.line(paint(this.term, "dim", formatUsage(this.usage)));
  }

  /** Stops the spinner (and its timer) without printing anything else. */
  close(): void {
    this.stopSpinner();
    this.endLine();
  }

  private spin(label: string): void {
    if (!this.term.isTTY) return;
    const changed = this.spinnerLabel !== label;
    this.spinnerLabel = label;
    this.stopTicker ??= this.ticker(80, () => {
      this.frame++;
      this.drawSpinner();
    });
    if (changed || !this.spinnerShown) this.drawSpinner();
  }

  private drawSpinner(): void {
    if (!this.spinnerLabel || !this.atLineStart) return;
    const f = SPINNER_FRAMES[this.frame % SPINNER_FRAMES.length] ?? "";
    this.term.write(
      `\r\x1b[2K${paint(this.term, "cyan", f)} ${paint(this.term, "dim", `${this.spinnerLabel}…`)}`,
    );
    this.spinnerShown = true;
  }

  private stopSpinner(): void {
    this.spinnerLabel = undefined;
    this.stopTicker?.();
    this.stopTicker = undefined;
    this.eraseSpinner();
  }

  private eraseSpinner(): void {
    if (this.spinnerShown) this.term.write("\r\x1b[2K");
    this.spinnerShown = false;
  }

  private beginText(): void {
    this.spinnerLabel = undefined;
    this.stopTicker?.();
    this.stopTicker = undefined;
    this.eraseSpinner();
  }

  private writeText(text: string): void {
    if (text === "") return;
    this.term.write(text);
    this.atLineStart = text.endsWith("\n");
  }

  private endLine(): void {
    if (!this.atLineStart) this.term.write("\n");
    this.atLineStart = true;
  }

  /** A whole line of its own: erases the spinner, ends any open text line, redraws the spinner. */
  private line(text: string): void {
    this.eraseSpinner();
    this.endLine();
    this.term.write(`${text}\n`);
    this.atLineStart = true;
    if (this.spinnerLabel) this.drawSpinner();
  }
}

const n = (x: number) => x.toLocaleString("en-US");

export function formatUsage(u: Usage): string {
  const cache =
    u.cacheRead || u.cacheWrite ? ` · cache ${n(u.cacheRead)} read, ${n(u.cacheWrite)} written` : "";
  return `usage: ${n(u.input)} input + ${n(u.output)} output tokens${cache} · ${u.requests} model request${u.requests === 1 ? "" : "s"}`;
}
