/**
 * The history checker on hand-made histories: a correct one passes, and each kind of breakage a
 * faulty platform could produce is reported under its rule.
 */
import { describe, expect, it } from "vitest";
import { checkSession, type LoggedEvent, type SessionHistory } from "./checker.js";

function history(): SessionHistory {
  const raw: Array<[string, string, Record<string, unknown>]> = [
    ["e1", "user.message", { content: [{ type: "text", text: "task-1" }] }],
    ["e2", "session.status_running", {}],
    ["e3", "agent.message", { content: [{ type: "text", text: "Starting" }] }],
    ["e4", "agent.tool_use", { name: "bash", input: {} }],
    ["e5", "agent.tool_result", { tool_use_id: "e4", content: [] }],
    ["e6", "agent.custom_tool_use", { name: "lookup", input: {} }],
    ["e7", "session.status_idle", { stop_reason: { type: "requires_action", event_ids: ["e6"] } }],
    ["e8", "user.custom_tool_result", { custom_tool_use_id: "e6", content: [] }],
    ["e9", "session.status_running", {}],
    ["e10", "agent.mcp_tool_use", { name: "echo", input: {} }],
    ["e11", "session.error", { error: { type: "model_overloaded_error" } }],
    ["e12", "session.status_rescheduled", {}],
    ["e13", "session.status_running", {}],
    ["e14", "agent.mcp_tool_result", { mcp_tool_use_id: "e10", content: [] }],
    ["e15", "agent.message", { content: [{ type: "text", text: "DONE" }] }],
    ["e16", "session.status_idle", { stop_reason: { type: "end_turn" } }],
  ];
  const log: LoggedEvent[] = raw.map(([id, type, body], i) => ({ seq: i + 1, id, type, body }));
  return {
    sessionId: "sesn_test",
    log,
    expected: {
      agentTexts: ["Starting", "DONE"],
      finalText: "DONE",
      toolUses: { builtin: 1, custom: 1, mcp: 1 },
    },
    clientSent: [
      { type: "user.message", marker: "task-1" },
      { type: "user.custom_tool_result", marker: "e6" },
    ],
    sseIds: log.map((e) => e.id),
  };
}

const rules = (h: SessionHistory) => checkSession(h).map((v) => v.rule);
const insertAt = (h: SessionHistory, at: number, e: Omit<LoggedEvent, "seq">) => {
  h.log.splice(at, 0, { ...e, seq: 0 });
  h.log.forEach((x, i) => {
    x.seq = i + 1;
  });
  h.sseIds = h.log.map((x) => x.id);
};

describe("the history checker", () => {
  it("accepts a correct history, including SSE with duplicates from a backfill", () => {
    const h = history();
    h.sseIds = ["e1", "e2", "e3", "e3", "e4", ...h.log.slice(4).map((e) => e.id), "e16"];
    expect(checkSession(h)).toEqual([]);
  });

  it("catches a seq gap and a duplicated event id", () => {
    const h = history();
    h.log[5]!.seq = 7;
    expect(rules(h)).toContain("seq");
    const d = history();
    d.log[4]!.id = "e3";
    expect(rules(d)).toContain("duplicate");
  });

  it("catches a model answer appended twice (an unfenced stale worker)", () => {
    const h = history();
    insertAt(h, 15, {
      id: "e15b",
      type: "agent.message",
      body: { content: [{ type: "text", text: "DONE" }] },
    });
    expect(rules(h)).toContain("model_output");
  });

  it("catches a tool run twice, a tool never resolved, and a result for nothing", () => {
    const twice = history();
    insertAt(twice, 5, { id: "e5b", type: "agent.tool_result", body: { tool_use_id: "e4", content: [] } });
    expect(rules(twice)).toContain("tool_resolution");
    const never = history();
    never.log = never.log.filter((e) => e.id !== "e14");
    never.log.forEach((e, i) => {
      e.seq = i + 1;
    });
    never.sseIds = never.log.map((e) => e.id);
    expect(rules(never)).toContain("tool_resolution");
    const orphan = history();
    insertAt(orphan, 5, { id: "x", type: "agent.tool_result", body: { tool_use_id: "nope", content: [] } });
    expect(rules(orphan)).toContain("tool_resolution");
    const extraUse = history();
    insertAt(extraUse, 5, { id: "u2", type: "agent.tool_use", body: { name: "bash", input: {} } });
    insertAt(extraUse, 6, { id: "r2", type: "agent.tool_result", body: { tool_use_id: "u2", content: [] } });
    expect(rules(extraUse)).toEqual(["duplicate"]);
  });

  it("catches status transitions the spec does not allow, and a session that did not finish", () => {
    const h = history();
    insertAt(h, 2, { id: "r", type: "session.status_running", body: {} });
    expect(rules(h)).toContain("status");
    const unfinished = history();
    unfinished.log.pop();
    unfinished.sseIds.pop();
    expect(rules(unfinished)).toContain("final");
  });

  it("catches a client event lost or applied twice", () => {
    const h = history();
    insertAt(h, 1, { id: "m2", type: "user.message", body: { content: [{ type: "text", text: "task-1" }] } });
    expect(rules(h)).toContain("client_event");
    const lost = history();
    lost.clientSent.push({ type: "user.message", marker: "task-2" });
    expect(rules(lost)).toEqual(["client_event"]);
  });

  it("catches an SSE client that missed an event or saw one that is not in the log", () => {
    const gap = history();
    gap.sseIds = gap.sseIds.filter((id) => id !== "e9");
    expect(rules(gap)).toEqual(["sse"]);
    const phantom = history();
    phantom.sseIds.push("ghost");
    expect(rules(phantom)).toEqual(["sse"]);
  });
});
