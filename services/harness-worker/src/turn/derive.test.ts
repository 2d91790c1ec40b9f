import type { EventPayload, LoggedEvent } from "@tendon/contracts";
import { describe, expect, it } from "vitest";
import { buildMessages } from "./context.js";
import { derive } from "./derive.js";

/** Builds a log from payloads; ids are sevt_<seq>. */
function log(...items: Array<EventPayload | [EventPayload, Record<string, unknown>]>): LoggedEvent[] {
  return items.map((it, i) => {
    const [payload, internal] = Array.isArray(it) ? it : [it, null];
    return {
      seq: i + 1,
      event: {
        ...payload,
        id: `sevt_${String(i + 1).padStart(8, "0")}`,
        processed_at: "2026-01-01T00:00:00Z",
      } as LoggedEvent["event"],
      internal,
    };
  });
}
const id = (seq: number) => `sevt_${String(seq).padStart(8, "0")}`;
const user = (text: string): EventPayload => ({ type: "user.message", content: [{ type: "text", text }] });
const running: EventPayload = { type: "session.status_running" };
const start = (basis: number): [EventPayload, Record<string, unknown>] => [
  { type: "span.model_request_start" },
  { basis_seq: basis },
];
const usage = {
  input_tokens: 1,
  output_tokens: 1,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};
const end = (
  startSeq: number,
  isError = false,
  reason?: string,
): EventPayload | [EventPayload, Record<string, unknown>] => {
  const p: EventPayload = {
    type: "span.model_request_end",
    model_request_start_id: id(startSeq),
    is_error: isError,
    model_usage: usage,
  };
  return reason ? [p, { reason }] : p;
};
const text = (t: string): EventPayload => ({ type: "agent.message", content: [{ type: "text", text: t }] });
const endTurn: EventPayload = {
  type: "session.status_idle",
  stop_reason: { type: "end_turn" },
  stop_details: null,
};
const opts = { selfHosted: false };

describe("derive", () => {
  it("new input → call the model; after a successful call → end the turn; then nothing", () => {
    expect(derive(log(user("hi"), running), opts).step).toEqual({ kind: "call_model", attempt: 0 });
    expect(derive(log(user("hi"), running, start(2), text("yo"), end(3)), opts).step).toEqual({
      kind: "end_turn",
    });
    expect(derive(log(user("hi"), running, start(2), text("yo"), end(3), endTurn), opts).step).toEqual({
      kind: "stop",
    });
  });

  it("input that arrived during a model call needs another call", () => {
    const l = log(user("a"), running, start(2), user("b"), text("yo"), end(3));
    expect(derive(l, opts).step).toEqual({ kind: "call_model", attempt: 0 });
  });

  it("a start without an end (the worker died) is closed first, then the call is redone", () => {
    expect(derive(log(user("a"), running, start(2)), opts).step).toEqual({
      kind: "close_dangling",
      startId: id(3),
    });
    const closed = log(user("a"), running, start(2), end(3, true, "abandoned"));
    expect(derive(closed, opts).step).toEqual({ kind: "call_model", attempt: 0 });
  });

  it("failed calls count as retries; exhausted errors give up on the input", () => {
    const failed = log(user("a"), running, start(2), end(3, true, "failed"));
    expect(derive(failed, opts).step).toEqual({ kind: "call_model", attempt: 1 });
    const exhausted = log(user("a"), running, start(2), end(3, true, "failed"), {
      type: "session.error",
      error: { type: "model_overloaded_error", message: "x", retry_status: { type: "exhausted" } },
    });
    expect(derive(exhausted, opts).step).toEqual({ kind: "end_turn" });
  });

  it("custom tool calls wait for the client; answering them calls the model again", () => {
    const l = log(
      user("a"),
      running,
      start(2),
      { type: "agent.custom_tool_use", name: "f", input: {} },
      end(3),
    );
    expect(derive(l, opts).step).toEqual({ kind: "await_client", eventIds: [id(4)], alreadyIdle: false });
    const idle: EventPayload = {
      type: "session.status_idle",
      stop_reason: { type: "requires_action", event_ids: [id(4)] },
      stop_details: null,
    };
    expect(
      derive(
        log(
          ...[
            user("a"),
            running,
            start(2),
            { type: "agent.custom_tool_use", name: "f", input: {} } as EventPayload,
            end(3),
            idle,
          ],
        ),
        opts,
      ).step,
    ).toMatchObject({
      kind: "await_client",
      alreadyIdle: true,
    });
    const answered = log(
      user("a"),
      running,
      start(2),
      { type: "agent.custom_tool_use", name: "f", input: {} },
      end(3),
      {
        type: "user.custom_tool_result",
        custom_tool_use_id: id(4),
        content: [{ type: "text", text: "42" }],
      },
    );
    expect(derive(answered, opts).step).toEqual({ kind: "call_model", attempt: 0 });
  });

  it("custom calls served by a registered hand run on the server instead of waiting for the client", () => {
    const l = log(
      user("a"),
      running,
      start(2),
      { type: "agent.custom_tool_use", name: "f", input: {} },
      end(3),
    );
    expect(derive(l, { selfHosted: false, handTools: new Set(["f"]) }).step).toMatchObject({
      kind: "run_tools",
      calls: [{ id: id(4) }],
    });
    expect(derive(l, { selfHosted: false, handTools: new Set(["g"]) }).step).toMatchObject({
      kind: "await_client",
    });
  });

  it("an interrupt idles a running session and cancels waiting calls", () => {
    const l = log(user("a"), running, start(2), { type: "user.interrupt" }, end(3, true, "interrupted"));
    expect(derive(l, opts).step).toEqual({ kind: "interrupt" });
    const after = log(
      user("a"),
      running,
      start(2),
      { type: "user.interrupt" },
      end(3, true, "interrupted"),
      endTurn,
      user("b"),
      running,
    );
    // The interrupted call is not a failure: the next call is a first attempt.
    expect(derive(after, opts).step).toEqual({ kind: "call_model", attempt: 0 });
  });
});

describe("buildMessages", () => {
  it("pairs tool calls with results by event id and closes cancelled calls with an error result", () => {
    const l = log(
      user("a"),
      running,
      start(2),
      text("calling"),
      { type: "agent.custom_tool_use", name: "f", input: { q: 1 } },
      end(3),
      { type: "user.interrupt" },
      user("b"),
    );
    expect(buildMessages(l)).toEqual([
      { role: "user", content: [{ type: "text", text: "a" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "calling" },
          { type: "tool_use", id: id(5), name: "f", input: { q: 1 } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: id(5),
            content: "The call was cancelled: the user interrupted the session.",
            is_error: true,
          },
          { type: "text", text: "b" },
        ],
      },
    ]);
  });

  it("merges consecutive user turns", () => {
    expect(buildMessages(log(user("a"), user("b")))).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ],
      },
    ]);
  });
});
