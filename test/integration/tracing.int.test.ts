/**
 * Distributed tracing across the services: a stack whose processes export OTLP/HTTP (JSON) to an
 * in-process receiver runs one turn with a model call and a sandbox tool call. The turn must be
 * ONE trace, rooted at the gateway's `POST /v1/sessions/:id/events`, through the session-log's
 * append and the wake-up it publishes, the harness turn, the model call (whose `traceparent`
 * reached the model), the sandbox provisioning (and the credential-proxy's egress registration)
 * and the tool call on the sandbox hand, with every parent inside the trace.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
type OtlpAttribute = { key: string; value: OtlpValue };
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttribute[];
      }[];
    }[];
  }[];
}

const value = (v: OtlpValue): unknown => v.stringValue ?? v.intValue ?? v.boolValue;
const attrs = (list: OtlpAttribute[] | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));

/** A minimal OTLP/HTTP traces receiver: JSON bodies on POST /v1/traces. */
function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; server: Server }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpExport;
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)["service.name"]);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              attributes: attrs(s.attributes),
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, spans, server });
    });
  });
}

const SERVICES = [
  "tendon-gateway",
  "tendon-session-log",
  "tendon-harness-worker",
  "tendon-sandbox-manager",
  "tendon-credential-proxy",
];

let t: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  t = await startTestStack({
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      // Export within 100 ms of a span ending, so the test waits on spans, not on a 5 s batch.
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
  });
});
afterAll(async () => {
  await t?.stop();
  receiver?.server.close();
});

describe("tracing", () => {
  it("one turn with a model call and a sandbox tool call is one trace across all five services", async () => {
    const model = `mock-trace-${Math.random().toString(36).slice(2, 8)}`;
    t.mock.script(model, {
      steps: [
        { content: [{ type: "tool_use", name: "bash", input: { command: "echo traced" } }] },
        { content: [{ type: "text", text: "done" }] },
      ],
    });
    const env = await t.client.beta.environments.create({ name: `trace-${Date.now()}` });
    const agent = await t.client.beta.agents.create({
      name: "tracer",
      model,
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await t.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const stream = await collect(t.client, session.id);
    await t.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "run it" }] }],
    });
    const events = await stream.until(isEndTurn, 90_000);
    stream.close();
    expect(events.some((e) => e.type === "agent.tool_result")).toBe(true);

    // The trace is the one rooted at this request; wait until the turn's spans have all arrived.
    const root = await waitFor(
      () =>
        receiver.spans.find(
          (s) =>
            s.service === "tendon-gateway" &&
            s.name === "POST /v1/sessions/:id/events" &&
            s.attributes["url.path"] === `/v1/sessions/${session.id}/events`,
        ),
      { timeoutMs: 30_000 },
    ).catch((err: unknown) => {
      const got = receiver.spans.map(
        (s) => `${s.service}: ${s.name} ${String(s.attributes["url.path"] ?? "")}`,
      );
      throw new Error(
        `no span for the request (${String(err)}); spans: ${JSON.stringify(got.slice(0, 60), null, 1)}`,
      );
    });
    const traceSpans = () => receiver.spans.filter((s) => s.traceId === root.traceId);
    await waitFor(
      () => {
        const spans = traceSpans();
        const ids = new Set(spans.map((s) => s.spanId));
        const services = new Set(spans.map((s) => s.service));
        const turnEnded = spans.some((s) => s.name === "harness turn");
        const linked = spans.every((s) => s.parentSpanId === undefined || ids.has(s.parentSpanId));
        // Each process exports on its own schedule: the session-log's last appends (the client's
        // and at least three of the turn's) can arrive after the turn's own span.
        const appends = spans.filter(
          (s) => s.service === "tendon-session-log" && s.name === "session append",
        );
        return SERVICES.every((n) => services.has(n)) && turnEnded && linked && appends.length >= 4;
      },
      { timeoutMs: 30_000 },
    ).catch((err: unknown) => {
      const got = traceSpans().map((s) => `${s.service}: ${s.name}`);
      throw new Error(`the trace never completed (${String(err)}); spans: ${JSON.stringify(got, null, 1)}`);
    });

    const spans = traceSpans();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // One root, and every other span's parent is in the trace.
    expect(spans.filter((s) => s.parentSpanId === undefined)).toEqual([root]);
    for (const s of spans) if (s !== root) expect(byId.has(s.parentSpanId!)).toBe(true);
    expect(root.kind).toBe(2);
    expect(root.attributes["http.response.status_code"]).toBe(200);

    const ancestry = (s: ReceivedSpan): string[] => {
      const out: string[] = [];
      for (let p = byId.get(s.parentSpanId ?? ""); p; p = byId.get(p.parentSpanId ?? "")) {
        out.push(`${p.service}:${p.name}`);
      }
      return out;
    };
    const one = (service: string, name: string, kind?: number) => {
      const found = spans.filter(
        (s) => s.service === service && s.name === name && (kind ?? s.kind) === s.kind,
      );
      expect(found.length, `${service}: ${name}`).toBeGreaterThan(0);
      return found[0]!;
    };

    // gateway → session-log append → the wake-up it published → the harness turn.
    const send = one("tendon-session-log", "session-log/events.send", 2);
    expect(byId.get(send.parentSpanId!)?.service).toBe("tendon-gateway");
    const wake = one("tendon-harness-worker", "process wake", 5);
    expect(ancestry(wake).slice(0, 4)).toEqual([
      "tendon-session-log:publish wake",
      "tendon-session-log:session append",
      "tendon-session-log:session-log/events.send",
      "tendon-gateway:session-log/events.send",
    ]);
    const turn = one("tendon-harness-worker", "harness turn");
    expect(byId.get(turn.parentSpanId!)).toBe(wake);

    // The model calls (the Anthropic SDK's own CLIENT spans) are children of the turn, and each
    // request reached the model with its span's traceparent.
    const calls = spans.filter((s) => s.name === "anthropic.messages.create");
    expect(calls.map((c) => [c.service, c.kind, c.attributes["gen_ai.request.model"]])).toEqual([
      ["tendon-harness-worker", 3, model],
      ["tendon-harness-worker", 3, model],
    ]);
    for (const c of calls) expect(ancestry(c)[0]).toBe("tendon-harness-worker:harness turn");
    const seen = t.mock.requests(model).map((r) => r.traceparent);
    expect(seen.sort()).toEqual(calls.map((c) => `00-${root.traceId}-${c.spanId}-01`).sort());

    // The tool call: provisioning on the sandbox-manager (which registers the sandbox with the
    // credential-proxy's egress), then execute on the sandbox hand.
    const provision = one("tendon-sandbox-manager", "sandbox-manager/provision", 2);
    expect(ancestry(provision)).toContain("tendon-harness-worker:harness turn");
    const register = one("tendon-credential-proxy", "credential-proxy/egress.register", 2);
    expect(ancestry(register).slice(0, 2)).toEqual([
      "tendon-sandbox-manager:credential-proxy/egress.register",
      "tendon-sandbox-manager:sandbox-manager/provision",
    ]);
    const executed = spans.filter(
      (s) => s.service === "tendon-sandbox-manager" && s.name === "execute_tool bash",
    );
    expect(executed.length).toBeGreaterThan(0);
    for (const e of executed) {
      expect(e.kind).toBe(2);
      const parent = byId.get(e.parentSpanId!)!;
      expect([parent.service, parent.name, parent.kind]).toEqual([
        "tendon-harness-worker",
        "execute_tool bash",
        3,
      ]);
      expect(ancestry(parent)[0]).toBe("tendon-harness-worker:harness turn");
    }

    // The turn's own appends (tool_use, the result, idle) are session-log spans under the turn.
    const appends = spans.filter(
      (s) =>
        s.service === "tendon-session-log" &&
        s.name === "session append" &&
        ancestry(s).includes("tendon-harness-worker:harness turn"),
    );
    expect(appends.length).toBeGreaterThanOrEqual(3);
    // Patient on a loaded 2-core machine: a sandbox start and two model calls, then the export.
  }, 180_000);
});
