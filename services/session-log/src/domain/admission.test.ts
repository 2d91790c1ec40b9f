import type { ClientEventParams } from "@tendon/contracts";
import { AppError } from "@tendon/contracts";
import { describe, expect, it } from "vitest";
import { type AppendContext, admitClientEvents, planHarnessAppend } from "./admission.js";
import { fold, initialState, type SessionState } from "./projection.js";

let n = 0;
const ctx = (lastSeq: number, selfHosted = false): AppendContext => ({
  lastSeq,
  now: new Date("2026-01-01T00:00:00.000Z"),
  newEventId: () => `sevt_${String(++n).padStart(10, "0")}`,
  selfHosted,
});
const msg = (text: string): ClientEventParams => ({
  type: "user.message",
  content: [{ type: "text", text }],
});
const key = (i: number) => `k${i}`;

function withPendingCustomTool(): { state: SessionState; lastSeq: number; toolId: string } {
  const start = admitClientEvents(initialState(), [msg("hi")], ctx(0), key);
  const h = planHarnessAppend(
    start.state,
    [
      { key: "a", payload: { type: "agent.custom_tool_use", name: "lookup", input: {} } },
      {
        key: "b",
        payload: {
          type: "session.status_idle",
          stop_reason: { type: "requires_action", event_ids: [] },
          stop_details: null,
        },
      },
    ],
    start.lastSeq,
    ctx(start.lastSeq),
  );
  const toolId = h.events[0]!.event.id;
  return { state: h.state, lastSeq: h.lastSeq, toolId };
}

describe("admitClientEvents", () => {
  it("starts an idle session: the message, then status_running, and a wake-up", () => {
    const p = admitClientEvents(initialState(), [msg("hi")], ctx(0), key);
    expect(p.events.map((e) => [e.seq, e.event.type])).toEqual([
      [1, "user.message"],
      [2, "session.status_running"],
    ]);
    expect(p.wake).toBe(true);
    expect(p.state.status).toBe("running");
    expect(p.state.last_input_seq).toBe(1);
  });

  it("queues a message on a running session without a second status event", () => {
    const running = admitClientEvents(initialState(), [msg("a")], ctx(0), key);
    const p = admitClientEvents(running.state, [msg("b")], ctx(running.lastSeq), key);
    expect(p.events.map((e) => e.event.type)).toEqual(["user.message"]);
    expect(p.wake).toBe(true);
  });

  it("refuses a message while tool calls wait for the client, and answers resume the session", () => {
    const { state, lastSeq, toolId } = withPendingCustomTool();
    expect(state.status).toBe("idle");
    expect(() => admitClientEvents(state, [msg("x")], ctx(lastSeq), key)).toThrow(/waiting for 1 tool call/);
    const p = admitClientEvents(
      state,
      [
        {
          type: "user.custom_tool_result",
          custom_tool_use_id: toolId,
          content: [{ type: "text", text: "42" }],
        },
      ],
      ctx(lastSeq),
      key,
    );
    expect(p.events.map((e) => e.event.type)).toEqual(["user.custom_tool_result", "session.status_running"]);
    expect(p.wake).toBe(true);
    expect(p.state.pending).toEqual({});
  });

  it("rejects results for calls that are not pending with a 400-class error", () => {
    const { state, lastSeq } = withPendingCustomTool();
    const bad = () =>
      admitClientEvents(
        state,
        [{ type: "user.custom_tool_result", custom_tool_use_id: "sevt_nope", content: [] }],
        ctx(lastSeq),
        key,
      );
    expect(bad).toThrow(AppError);
    try {
      bad();
    } catch (e) {
      expect((e as AppError).code).toBe("invalid_request");
    }
  });

  it("an interrupt on a session waiting for the client cancels the calls and idles with end_turn", () => {
    const { state, lastSeq } = withPendingCustomTool();
    const p = admitClientEvents(state, [{ type: "user.interrupt" }], ctx(lastSeq), key);
    expect(p.events.map((e) => e.event.type)).toEqual(["user.interrupt", "session.status_idle"]);
    expect(p.state.pending).toEqual({});
    expect(p.state.stop_reason).toEqual({ type: "end_turn" });
    expect(p.wake).toBe(false);
  });

  it("refuses input to a terminated session with a conflict", () => {
    const s: SessionState = { ...initialState(), status: "terminated" };
    expect(() => admitClientEvents(s, [msg("x")], ctx(0), key)).toThrow(/terminated/);
  });

  it("accepts user.tool_result only for self-hosted sessions", () => {
    expect(() =>
      admitClientEvents(
        initialState(),
        [{ type: "user.tool_result", tool_use_id: "sevt_x", content: [] }],
        ctx(0),
        key,
      ),
    ).toThrow(/self_hosted/);
  });
});

describe("planHarnessAppend", () => {
  it("refuses to idle over client input the harness has not read", () => {
    const a = admitClientEvents(initialState(), [msg("a")], ctx(0), key);
    const b = admitClientEvents(a.state, [msg("b")], ctx(a.lastSeq), key);
    const idle = {
      key: "i",
      payload: {
        type: "session.status_idle" as const,
        stop_reason: { type: "end_turn" as const },
        stop_details: null,
      },
    };
    expect(() => planHarnessAppend(b.state, [idle], a.lastSeq, ctx(b.lastSeq))).toThrow(
      expect.objectContaining({ code: "input_pending" }),
    );
    expect(planHarnessAppend(b.state, [idle], b.lastSeq, ctx(b.lastSeq)).state.status).toBe("idle");
  });

  it("uses pre-assigned event ids", () => {
    const p = planHarnessAppend(
      initialState(),
      [{ key: "x", id: "sevt_preassigned1", payload: { type: "agent.thinking" } }],
      0,
      ctx(0),
    );
    expect(p.events[0]?.event.id).toBe("sevt_preassigned1");
  });
});

describe("projection", () => {
  it("folding the planned events reproduces the planned state", () => {
    const a = admitClientEvents(initialState(), [msg("a")], ctx(0), key);
    const b = planHarnessAppend(
      a.state,
      [
        { key: "s", payload: { type: "span.model_request_start" } },
        {
          key: "e",
          payload: {
            type: "span.model_request_end",
            model_request_start_id: "sevt_x",
            is_error: false,
            model_usage: {
              input_tokens: 10,
              output_tokens: 5,
              cache_creation_input_tokens: 1,
              cache_read_input_tokens: 2,
            },
          },
        },
        {
          key: "i",
          payload: { type: "session.status_idle", stop_reason: { type: "end_turn" }, stop_details: null },
        },
      ],
      a.lastSeq,
      ctx(a.lastSeq),
    );
    const all = [...a.events, ...b.events];
    expect(fold(all)).toEqual(b.state);
    expect(b.state.usage).toEqual({
      input_tokens: 10,
      output_tokens: 5,
      cache_read_input_tokens: 2,
      cache_creation_input_tokens: 1,
    });
    expect(b.state.status).toBe("idle");
  });
});
