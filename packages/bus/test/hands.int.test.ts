/**
 * execute(name, input) on real NATS JetStream: idempotent by tool_use id, attach while running,
 * "unknown" after the runner is lost (never a silent second run), deadlines, and the registry.
 */
import { AppError, type HandExecuteRequest, type ToolResult } from "@tendon/contracts";
import { cleanupNats, uniquePrefix, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeOnHand, openHandStores } from "../src/hands.js";
import { type Bus, createBus } from "../src/index.js";

let bus: Bus;
let prefix: string;

beforeAll(async () => {
  prefix = uniquePrefix("hands");
  bus = await createBus({ servers: process.env.NATS_URL!, prefix, name: "hands-test" });
});
afterAll(async () => {
  await bus?.close();
  await cleanupNats(process.env.NATS_URL!, prefix);
});

let n = 0;
const call = (tool: string, extra: Partial<HandExecuteRequest> = {}): HandExecuteRequest => ({
  v: 1,
  tool_use_id: `sevt_handtest${String(++n).padStart(8, "0")}${Math.random().toString(36).slice(2, 8)}`,
  tool,
  input: {},
  deadline_ms: 10_000,
  ...extra,
});
const text = (t: string): ToolResult => ({ content: [{ type: "text", text: t }], is_error: false });

describe("execute", () => {
  it("runs once per tool_use id: repeats get the stored result, concurrent repeats attach", async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const hand = await bus.serveHand({
      name: "once",
      kind: "custom",
      instance: "i1",
      tools: ["side_effect"],
      handler: async () => {
        runs++;
        await gate;
        return text(`run ${runs}`);
      },
    });
    try {
      const req = call("side_effect");
      const first = bus.executeOnHand("once", req);
      await waitFor(() => hand.inFlight() === 1);
      const attached = bus.executeOnHand("once", req);
      release();
      expect(await first).toMatchObject({ status: "completed", result: text("run 1") });
      expect(await attached).toMatchObject({ status: "completed", result: text("run 1") });
      expect(await bus.executeOnHand("once", req)).toMatchObject({
        status: "completed",
        result: text("run 1"),
      });
      expect(runs).toBe(1);
    } finally {
      await hand.stop();
    }
  });

  it("reports unknown when the runner was lost, but re-runs tools declared idempotent", async () => {
    let runs = 0;
    const replacement = await bus.serveHand({
      name: "flaky",
      kind: "custom",
      instance: "replacement",
      tools: ["write", "read"],
      idempotentTools: new Set(["read"]),
      handler: async (r) => {
        runs++;
        return text(`ran ${r.tool}`);
      },
    });
    try {
      // A runner recorded "running" and its process died before it finished.
      const req = call("write");
      await dyingRecord(req.tool_use_id, "write");
      const again = await bus.executeOnHand("flaky", req);
      expect(again).toMatchObject({ status: "unknown", reason: expect.stringContaining("dead") });
      expect(runs).toBe(0);

      const readReq = call("read");
      await dyingRecord(readReq.tool_use_id, "read");
      expect(await bus.executeOnHand("flaky", readReq)).toMatchObject({
        status: "completed",
        result: text("ran read"),
      });
      expect(runs).toBe(1);
    } finally {
      await replacement.stop();
    }
  });

  it("turns a missed deadline into a tool error, and a missing hand into unavailable", async () => {
    const hand = await bus.serveHand({
      name: "slow",
      kind: "custom",
      instance: "i1",
      tools: ["wait"],
      handler: (_req, signal) =>
        new Promise<ToolResult>((resolve) =>
          signal.addEventListener("abort", () => resolve(text("aborted"))),
        ),
    });
    try {
      const r = await bus.executeOnHand("slow", call("wait", { deadline_ms: 200 }));
      expect(r).toMatchObject({ status: "completed", result: { is_error: true } });
    } finally {
      await hand.stop();
    }
    const missing = await bus.executeOnHand("tool.nobody-here", call("x")).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AppError);
    expect(missing).toMatchObject({ code: "unavailable", details: { error_code: "hand_not_found" } });
  });
});

describe("execute when the reply never comes", () => {
  // The deadline is ten minutes: without the watch these calls would wait for it (and time out).
  const long = { deadline_ms: 600_000 };

  it("takes the stored result when the reply is lost on the way", async () => {
    // A hand that runs the call and records it, but whose reply is lost (as in a NATS restart).
    const mute = bus.nc.subscribe(bus.subjects.hand("tool.mute"), {
      callback: (_err, m) => {
        const req = JSON.parse(new TextDecoder().decode(m.data)) as HandExecuteRequest;
        if (!req.tool_use_id) return m.respond(); // a liveness probe
        void record("tool.mute", req.tool_use_id, { state: "done", instance: "m1", result: text("did it") });
      },
    });
    try {
      expect(await bus.executeOnHand("tool.mute", call("act", long))).toMatchObject({
        status: "completed",
        result: text("did it"),
        instance: "m1",
      });
    } finally {
      mute.unsubscribe();
    }
  });

  it("watches a long call without piling up listeners", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    let release!: () => void;
    const hand = await bus.serveHand({
      name: "tool.slowpoke",
      kind: "custom",
      instance: "s1",
      tools: ["act"],
      handler: () =>
        new Promise<ToolResult>((r) => {
          release = () => r(text("finally"));
        }),
    });
    try {
      const stores = await openHandStores(bus.nc, bus.subjects);
      let looks = 0;
      const get = stores.executions.get.bind(stores.executions);
      stores.executions.get = (k) => {
        looks++;
        return get(k);
      };
      const pending = executeOnHand(bus.nc, bus.subjects, "tool.slowpoke", call("act", long), {
        stores,
        watchEveryMs: 1,
      });
      await waitFor(() => looks >= 30);
      release();
      expect(await pending).toMatchObject({ status: "completed", result: text("finally") });
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
      await hand.stop();
    }
  });

  it("gives up on a hand that dies with the call: hand_not_found, then unknown from its successor", async () => {
    // The hand runs on its own connection, which closes mid-call as a killed process's would.
    const nc = await createBus({ servers: process.env.NATS_URL!, prefix, name: "dying-hand" });
    const hand = await nc.serveHand({
      name: "tool.dying",
      kind: "custom",
      instance: "doomed",
      tools: ["act"],
      handler: () => new Promise<ToolResult>(() => {}),
    });
    const req = call("act", long);
    const pending = bus.executeOnHand("tool.dying", req).catch((e: unknown) => e);
    await waitFor(() => hand.inFlight() === 1);
    await nc.nc.close();
    expect(await pending).toMatchObject({ code: "unavailable", details: { error_code: "hand_not_found" } });

    let runs = 0;
    const successor = await bus.serveHand({
      name: "tool.dying",
      kind: "custom",
      instance: "successor",
      tools: ["act"],
      handler: async () => {
        runs++;
        return text("second run");
      },
    });
    try {
      expect(await bus.executeOnHand("tool.dying", req)).toMatchObject({ status: "unknown" });
      expect(runs).toBe(0);
    } finally {
      await successor.stop();
    }
  });
});

describe("registry", () => {
  it("announces hands and their tools, and forgets them when they stop", async () => {
    const hand = await bus.serveHand({
      name: "tool.weather",
      kind: "custom",
      instance: "laptop",
      tools: ["weather"],
      indexTools: true,
      handler: async () => text("sunny"),
    });
    const reg = await bus.hands();
    expect(await reg.handForTool("weather")).toBe("tool.weather");
    expect((await reg.list()).map((h) => h.name)).toContain("tool.weather");
    await hand.stop();
    expect(await reg.handForTool("weather")).toBeUndefined();
    expect(await reg.get("tool.weather")).toBeUndefined();
  });
});

/** Simulates a runner that recorded "running" and died before finishing. */
async function dyingRecord(toolUseId: string, tool: string): Promise<void> {
  await record("flaky", toolUseId, { state: "running", instance: "dead", tool });
}

async function record(hand: string, toolUseId: string, fields: Record<string, unknown>): Promise<void> {
  const { Kvm } = await import("@nats-io/kv");
  const kv = await new Kvm(bus.nc).open(bus.subjects.executionsBucket());
  await kv.put(
    `${hand}.${toolUseId}`,
    new TextEncoder().encode(
      JSON.stringify({ tool: "act", started_at: new Date().toISOString(), ...fields }),
    ),
  );
}
