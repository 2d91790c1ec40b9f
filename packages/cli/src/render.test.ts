/**
 * The renderer against a fake TTY: spinner, streamed text, folded tool lines, errors, usage.
 */
import { describe, expect, it } from "vitest";
import { formatUsage, Renderer, type StreamEvent, summarizeInput, type Ticker } from "./render.js";
import { stripAnsi, type Term } from "./term.js";

function fakeTerm(isTTY: boolean, columns = 80): Term & { raw: string; screen(): string } {
  const t = {
    raw: "",
    isTTY,
    columns,
    color: isTTY,
    write(s: string) {
      t.raw += s;
    },
    /** What a person sees: escapes applied (a \r + erase-line wipes the line). */
    screen() {
      const lines: string[] = [""];
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the erase-line escape is what we split on
      for (const part of t.raw.split(/(\r\x1b\[2K|\n)/)) {
        if (part === "\n") lines.push("");
        else if (part === "\r\x1b[2K") lines[lines.length - 1] = "";
        else lines[lines.length - 1] += stripAnsi(part);
      }
      return lines.join("\n");
    },
  };
  return t;
}

/** A ticker the test drives by hand. */
function manualTicker(): Ticker & { tick(): void; running: () => number } {
  const fns = new Set<() => void>();
  const ticker = ((_ms: number, fn: () => void) => {
    fns.add(fn);
    return () => void fns.delete(fn);
  }) as unknown as Ticker & { tick(): void; running: () => number };
  ticker.tick = () => {
    for (const f of fns) f();
  };
  ticker.running = () => fns.size;
  return ticker;
}

let n = 0;
const ev = (e: Record<string, unknown>) =>
  ({ id: `sevt_${++n}`, processed_at: "2026-01-01T00:00:00Z", ...e }) as unknown as StreamEvent;
const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

describe("Renderer", () => {
  it("spins while the model thinks, streams text once, folds tool calls, and sums usage", () => {
    const term = fakeTerm(true);
    const ticker = manualTicker();
    const r = new Renderer({ term, ticker });
    r.handle(ev({ type: "session.status_running" }));
    r.handle(ev({ type: "span.model_request_start" }));
    expect(term.screen()).toMatch(/^⠋ thinking…$/);
    ticker.tick();
    expect(term.screen()).toMatch(/^⠙ thinking…$/);

    // Previewed text, then the buffered message: the text appears once.
    r.handle({ type: "event_start", event: { type: "agent.message", id: "sevt_m1" } } as StreamEvent);
    r.handle({
      type: "event_delta",
      event_id: "sevt_m1",
      delta: { type: "content_delta", index: 0, content: { type: "text", text: "Let me " } },
    } as StreamEvent);
    expect(ticker.running()).toBe(0);
    expect(term.screen()).toBe("Let me ");
    r.handle({
      type: "event_delta",
      event_id: "sevt_m1",
      delta: { type: "content_delta", index: 0, content: { type: "text", text: "look." } },
    } as StreamEvent);
    r.handle({
      ...ev({ type: "agent.message" }),
      id: "sevt_m1",
      content: [{ type: "text", text: "Let me look." }],
    } as StreamEvent);
    r.handle(
      ev({
        type: "agent.tool_use",
        id: "sevt_t1",
        name: "bash",
        input: { command: "ls -la /workspace" },
        evaluated_permission: "allow",
      }),
    );
    r.handle(ev({ type: "span.model_request_end", model_usage: usage(1200, 34) }));
    r.handle(
      ev({
        type: "agent.tool_result",
        tool_use_id: "sevt_t1",
        content: [{ type: "text", text: "total 8\na.txt\nb.txt" }],
        is_error: false,
      }),
    );
    r.handle(ev({ type: "span.model_request_start" }));
    r.handle(ev({ type: "agent.message", content: [{ type: "text", text: "Two files." }] }));
    r.handle(ev({ type: "span.model_request_end", model_usage: usage(1300, 5) }));
    r.handle(ev({ type: "session.status_idle", stop_reason: { type: "end_turn" }, stop_details: null }));
    r.finish();

    expect(term.screen()).toBe(
      [
        "Let me look.",
        "⚙ bash ls -la /workspace",
        "  ↳ ok (3 lines): total 8 a.txt b.txt",
        "Two files.",
        "usage: 2,500 input + 39 output tokens · 2 model requests",
        "",
      ].join("\n"),
    );
    expect(ticker.running()).toBe(0);
    expect(r.usage).toMatchObject({ input: 2500, output: 39, requests: 2 });
  });

  it("draws no spinner and no colour when the output is not a terminal", () => {
    const term = fakeTerm(false);
    const ticker = manualTicker();
    const r = new Renderer({ term, ticker });
    r.handle(ev({ type: "span.model_request_start" }));
    r.handle(ev({ type: "agent.message", content: [{ type: "text", text: "hi" }] }));
    r.finish();
    expect(ticker.running()).toBe(0);
    expect(term.raw).toBe("hi\nusage: 0 input + 0 output tokens · 0 model requests\n");
  });

  it("highlights errors, shows failed results, and says what a waiting session needs", () => {
    const term = fakeTerm(true, 60);
    const r = new Renderer({ term, ticker: manualTicker(), echoUser: true });
    r.handle(ev({ type: "user.message", content: [{ type: "text", text: "go" }] }));
    r.handle(
      ev({
        type: "session.error",
        error: { type: "model_overloaded_error", message: "overloaded", retry_status: { type: "retrying" } },
      }),
    );
    r.handle(
      ev({ type: "agent.custom_tool_use", id: "sevt_c1", name: "get_weather", input: { city: "Paris" } }),
    );
    r.handle(
      ev({
        type: "agent.tool_result",
        tool_use_id: "sevt_x",
        content: [{ type: "text", text: "exit 1: no such file" }],
        is_error: true,
      }),
    );
    r.handle(
      ev({
        type: "session.status_idle",
        stop_reason: { type: "requires_action", event_ids: ["sevt_c1"] },
        stop_details: null,
      }),
    );
    r.handle(
      ev({ type: "session.status_idle", stop_reason: { type: "retries_exhausted" }, stop_details: null }),
    );
    expect(term.screen().split("\n")).toEqual([
      "› go",
      "✗ model_overloaded_error: overloaded (retrying)",
      '⚙ get_weather {"city":"Paris"}',
      "  ↳ error: exit 1: no such file",
      "… waiting for input: get_weather",
      "✗ the turn ended: retries_exhausted",
      "",
    ]);
    expect(term.raw).toContain("\x1b[31m✗ model_overloaded_error"); // red
  });

  it("folds long tool input and output to the terminal's width", () => {
    const term = fakeTerm(false, 40);
    const r = new Renderer({ term, ticker: manualTicker() });
    r.handle(
      ev({
        type: "agent.tool_use",
        id: "sevt_l",
        name: "bash",
        input: { command: `echo ${"x".repeat(200)}` },
      }),
    );
    r.handle(
      ev({
        type: "agent.tool_result",
        tool_use_id: "sevt_l",
        content: [{ type: "text", text: "y".repeat(500) }],
      }),
    );
    const lines = term.raw.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40);
    expect(lines[0]).toMatch(/^⚙ bash echo x+…$/);
    expect(lines[1]).toMatch(/^ {2}↳ ok: y+…$/);
  });

  it("ends a preview that its model request never finished", () => {
    const term = fakeTerm(true);
    const r = new Renderer({ term, ticker: manualTicker() });
    r.handle({ type: "event_start", event: { type: "agent.message", id: "sevt_p" } } as StreamEvent);
    r.handle({
      type: "event_delta",
      event_id: "sevt_p",
      delta: { type: "content_delta", content: { type: "text", text: "half a sent" } },
    } as StreamEvent);
    r.handle(ev({ type: "span.model_request_end", is_error: true, model_usage: usage(10, 3) }));
    r.handle(ev({ type: "agent.message", content: [{ type: "text", text: "Whole answer." }] }));
    expect(term.screen()).toBe("half a sent\nWhole answer.\n");
  });
});

describe("summaries", () => {
  it("shows the one field that matters for each tool", () => {
    expect(summarizeInput("bash", { command: "ls" })).toBe("ls");
    expect(summarizeInput("read", { file_path: "a.txt", view_range: [1, 2] })).toBe("a.txt");
    expect(summarizeInput("grep", { pattern: "TODO" })).toBe("TODO");
    expect(summarizeInput("lookup", { q: 1 })).toBe('{"q":1}');
    expect(summarizeInput("noop", {})).toBe("");
  });
  it("formats usage with cache figures only when there are some", () => {
    expect(formatUsage({ input: 1, output: 2, cacheRead: 0, cacheWrite: 0, requests: 1 })).toBe(
      "usage: 1 input + 2 output tokens · 1 model request",
    );
    expect(formatUsage({ input: 1000, output: 2, cacheRead: 500, cacheWrite: 7, requests: 3 })).toBe(
      "usage: 1,000 input + 2 output tokens · cache 500 read, 7 written · 3 model requests",
    );
  });
});
