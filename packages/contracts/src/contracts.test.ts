import { describe, expect, it } from "vitest";
import {
  AgentCreateParams,
  applyMetadataPatch,
  ClientEventParams,
  EVENT_TYPES,
  formatZodError,
  HTTP_ERRORS,
  LiveMessage,
  resolveEnvironmentConfig,
  SendEventsParams,
  subjects,
  token,
  wakeMessageId,
} from "./index.js";

describe("subject catalog", () => {
  const s = subjects("tendon");
  it("builds every subject from the prefix and validated tokens", () => {
    expect(s.rpc("session-log", "events.send")).toBe("tendon.rpc.session-log.events.send");
    expect(s.live("sesn_abc")).toBe("tendon.live.sesn_abc");
    expect(s.wake("sesn_abc")).toBe("tendon.wake.sesn_abc");
    expect(s.wakeAll()).toBe("tendon.wake.*");
    expect(s.wakeStream()).toBe("TENDON_WAKE");
    expect(subjects("t_x1.a").wakeStream()).toBe("T_X1_A_WAKE");
  });
  it("rejects tokens that could change the subject's meaning", () => {
    for (const bad of ["a.b", "*", ">", "a b", ""]) expect(() => token(bad)).toThrow();
    expect(() => s.live("sesn_x.>")).toThrow();
    expect(() => subjects("bad prefix")).toThrow();
  });
  it("wake message ids dedupe per session and cause", () => {
    expect(wakeMessageId({ v: 1, session_id: "sesn_a", reason: "input", cause: "in:3" })).toBe("sesn_a:in:3");
  });
});

describe("schemas", () => {
  it("accept what the SDK sends for the quickstart agent", () => {
    const r = AgentCreateParams.safeParse({
      name: "a",
      model: "claude-sonnet-4-6",
      tools: [
        { type: "agent_toolset_20260401" },
        { type: "custom", name: "f", description: "d", input_schema: { type: "object" } },
      ],
    });
    expect(r.success).toBe(true);
  });
  it("reject unknown fields and bad tool names with a path-first message", () => {
    const r = AgentCreateParams.safeParse({
      name: "a",
      model: "m",
      colour: 1,
      tools: [{ type: "custom", name: "bad name", description: "", input_schema: { type: "object" } }],
    });
    expect(r.success).toBe(false);
    if (!r.success) expect(formatZodError(r.error, "body")).toMatch(/body/);
  });
  it("discriminate client events by type and reject unknown types", () => {
    expect(ClientEventParams.safeParse({ type: "user.interrupt" }).success).toBe(true);
    expect(ClientEventParams.safeParse({ type: "user.dance" }).success).toBe(false);
    expect(SendEventsParams.safeParse({ events: [] }).success).toBe(false);
  });
  it("list every event type once", () => {
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    expect(EVENT_TYPES).toContain("session.status_idle");
    expect(EVENT_TYPES).toContain("user.message");
  });
  it("parse live messages of every kind", () => {
    expect(
      LiveMessage.safeParse({ kind: "event", seq: 1, event: { id: "sevt_1", type: "x", processed_at: "t" } })
        .success,
    ).toBe(true);
    expect(
      LiveMessage.safeParse({ kind: "event", seq: 0, event: { id: "sevt_1", type: "x", processed_at: "t" } })
        .success,
    ).toBe(false);
  });
});

describe("resolution helpers", () => {
  it("fills every environment default", () => {
    expect(resolveEnvironmentConfig(undefined)).toEqual({
      type: "cloud",
      networking: { type: "unrestricted" },
      packages: { type: "packages", apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] },
      provisioning: "lazy",
    });
    expect(resolveEnvironmentConfig({ type: "self_hosted" })).toEqual({ type: "self_hosted" });
  });
  it("applies metadata patches: null or empty deletes, null object clears", () => {
    expect(applyMetadataPatch({ a: "1", b: "2" }, { a: null, b: "", c: "3" })).toEqual({ c: "3" });
    expect(applyMetadataPatch({ a: "1" }, null)).toEqual({});
    expect(applyMetadataPatch({ a: "1" }, undefined)).toEqual({ a: "1" });
    const full = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v"]));
    expect(() => applyMetadataPatch(full, { extra: "v" })).toThrow(/at most 16 metadata keys/);
    expect(Object.keys(applyMetadataPatch(full, { k0: null, extra: "v" }))).toHaveLength(16);
  });
  it("maps semantic conflicts to 409 and availability to 503", () => {
    expect(HTTP_ERRORS.conflict.status).toBe(409);
    expect(HTTP_ERRORS.unavailable.status).toBe(503);
    expect(HTTP_ERRORS.payload_too_large.status).toBe(413);
  });
});
