/**
 * The web console: the static routes (only the console's own files, with its security headers)
 * and the timeline model the session page draws (spans, who served each call, confirmations).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SessionEvent } from "@tendon/contracts";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { buildTimeline, isErrorEvent, tickStep } from "../console/src/timeline.js";
import { loadConsoleAssets, registerConsoleRoutes } from "./console.js";
import { sendError, toHttpError } from "./http/errors.js";

/** A bare app with the gateway's error envelope. */
function appWith(root: string) {
  const app = Fastify();
  app.setErrorHandler((err, req, reply) => sendError(reply, toHttpError(err), req.id));
  registerConsoleRoutes(app, loadConsoleAssets(root));
  return app;
}

describe("console routes", () => {
  const root = mkdtempSync(path.join(tmpdir(), "tendon-console-"));
  mkdirSync(path.join(root, "dist"));
  writeFileSync(path.join(root, "index.html"), "<!doctype html><title>c</title>");
  writeFileSync(path.join(root, "console.css"), "body{}");
  writeFileSync(path.join(root, "dist", "main.js"), "export {};");
  writeFileSync(path.join(root, "dist", "main.d.ts"), "export {};");
  writeFileSync(path.join(root, "secret.txt"), "no");

  it("serves the page, its stylesheet and modules, and nothing else", async () => {
    const app = appWith(root);
    const page = await app.inject("/console");
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["content-security-policy"]).toContain("connect-src 'self'");
    expect((await app.inject("/console/sessions/sesn_x")).body).toContain("<title>c</title>");
    expect((await app.inject("/console/console.css")).headers["content-type"]).toMatch(/^text\/css/);
    expect((await app.inject("/console/dist/main.js")).headers["content-type"]).toMatch(/^text\/javascript/);
    for (const p of [
      "/console/secret.txt",
      "/console/dist/main.d.ts",
      "/console/../package.json",
      "/console/x.js",
    ]) {
      expect((await app.inject(p)).statusCode, p).toBe(404);
    }
    await app.close();
  });

  it("is a 404 with a hint when the console is not built", async () => {
    const app = appWith(path.join(root, "missing"));
    const r = await app.inject("/console");
    expect(r.statusCode).toBe(404);
    expect(r.body).toContain("pnpm build");
    await app.close();
  });
});

let n = 0;
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const ev = (s: number, type: string, rest: Record<string, unknown> = {}): SessionEvent =>
  ({ id: `sevt_${++n}`, type, processed_at: at(s), ...rest }) as unknown as SessionEvent;

describe("console timeline", () => {
  it("pairs model requests and tool calls into spans and says who served each call", () => {
    const start = ev(1, "span.model_request_start");
    const use = ev(2, "agent.tool_use", {
      name: "bash",
      input: { command: "ls" },
      evaluated_permission: "allow",
    });
    const custom = ev(2, "agent.custom_tool_use", { name: "deploy", input: {} });
    const events = [
      ev(0, "user.message", { content: [{ type: "text", text: "go" }] }),
      start,
      use,
      custom,
      ev(3, "span.model_request_end", {
        model_request_start_id: start.id,
        is_error: false,
        model_usage: { input_tokens: 5, output_tokens: 7 },
      }),
      ev(4, "agent.tool_result", { tool_use_id: use.id, content: [], is_error: true }),
      ev(6, "user.custom_tool_result", { custom_tool_use_id: custom.id, content: [], is_error: false }),
    ];
    const t = buildTimeline(events, { sessionId: "sesn_1", environmentType: "cloud" });
    expect(t.spans.map((s) => [s.kind, s.label, s.state, (s.end ?? 0) - s.start, s.servedBy])).toEqual([
      ["model", "model request 1", "ok", 2_000, undefined],
      ["tool", "bash", "error", 2_000, "sandbox hand sandbox.sesn_1"],
      ["tool", "deploy", "ok", 4_000, "hand tool.deploy"],
    ]);
    expect(t.spans[0]?.usage).toEqual({ input_tokens: 5, output_tokens: 7 });
    expect(t.start).toBe(Date.parse(at(0)));
    expect(isErrorEvent(events[5]!)).toBe(true);
    expect(isErrorEvent(events[6]!)).toBe(false);
  });

  it("lists calls waiting for confirmation until confirmed, and closes open spans at idle", () => {
    const start = ev(0, "span.model_request_start");
    const ask = ev(1, "agent.tool_use", {
      name: "bash",
      input: { command: "rm -rf x" },
      evaluated_permission: "ask",
    });
    const custom = ev(1, "agent.custom_tool_use", { name: "lookup", input: {} });
    const idle = ev(2, "session.status_idle", {
      stop_reason: { type: "requires_action", event_ids: [ask.id, custom.id] },
    });
    const base = [start, ask, custom, idle];
    const t = buildTimeline(base, { sessionId: "sesn_1" });
    expect(t.pending.map((p) => p.toolUseId)).toEqual([ask.id]);
    expect(t.spans.map((s) => s.state)).toEqual(["cancelled", "waiting", "waiting"]);
    expect(t.servedBy.get(custom.id)).toMatch(/client/);

    const after = buildTimeline(
      [...base, ev(3, "user.tool_confirmation", { tool_use_id: ask.id, result: "allow" })],
      { sessionId: "sesn_1" },
    );
    expect(after.pending).toEqual([]);
    expect(after.spans[1]?.state).toBe("open");
    const self = buildTimeline([ask], { sessionId: "sesn_1", environmentType: "self_hosted" });
    expect(self.spans[0]?.servedBy).toBe("self-hosted environment worker");
  });

  it("picks tick steps that keep the axis readable", () => {
    expect(tickStep(900)).toBe(200);
    expect(tickStep(12_000)).toBe(2_000);
    expect(tickStep(3_600_000)).toBe(600_000);
    expect(tickStep(100 * 3_600_000) * 8).toBeGreaterThanOrEqual(100 * 3_600_000);
  });
});
