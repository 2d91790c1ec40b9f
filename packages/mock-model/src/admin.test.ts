import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMockModel, type MockModel, type Script } from "./index.js";

let mock: MockModel;
let client: Anthropic;
const uniqueModel = (name: string) => `${name}-${randomUUID()}`;

beforeAll(async () => {
  mock = createMockModel();
  await mock.start();
  client = new Anthropic({ baseURL: mock.url, apiKey: "test", maxRetries: 0 });
});
afterAll(async () => {
  await mock.stop();
});

const put = (model: string, body: string) =>
  fetch(`${mock.url}/_mock/scripts/${encodeURIComponent(model)}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body,
  });

describe("admin API", () => {
  it("reports health", async () => {
    const res = await fetch(`${mock.url}/_mock/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("rejects invalid scripts with 400 in the error envelope", async () => {
    const bad = [
      "{not json",
      JSON.stringify({ steps: [] }),
      JSON.stringify({ steps: [{ content: [{ type: "image", url: "x" }] }] }),
      JSON.stringify({ steps: [{ content: [], failures: [{ status: 404 }] }] }),
      JSON.stringify({ steps: [{ content: [], stop_reason: "pause" }] }),
      JSON.stringify({ steps: [{ content: [{ type: "tool_use", name: "t", input: [] }] }] }),
      JSON.stringify({ steps: [{ content: [], latency: { first_token_ms: -1 } }] }),
      JSON.stringify({ steps: [{ content: [], typo: true }] }),
    ];
    for (const body of bad) {
      const res = await put("bad", body);
      expect(res.status, body).toBe(400);
      expect(res.headers.get("request-id")).toMatch(/^req_/);
      const json = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(json.type).toBe("error");
      expect(json.error.type).toBe("invalid_request_error");
      expect(json.error.message.length).toBeGreaterThan(0);
    }
    expect(() => mock.script("bad", { steps: [] } as unknown as Script)).toThrow();
  });

  it("scripts a model over HTTP, records its requests, and forgets both on DELETE", async () => {
    const model = uniqueModel("claude/odd name");
    const script: Script = { steps: [{ content: [{ type: "text", text: "scripted over http" }] }] };
    const res = await put(model, JSON.stringify(script));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });

    const msg = await client.messages.create({
      model,
      max_tokens: 16,
      messages: [{ role: "user", content: "q" }],
    });
    expect(msg.content).toEqual([{ type: "text", text: "scripted over http" }]);
    await client.messages
      .stream({ model, max_tokens: 16, messages: [{ role: "user", content: "q2" }] })
      .finalMessage();

    const listed = await fetch(`${mock.url}/_mock/requests?model=${encodeURIComponent(model)}`);
    const recorded = (await listed.json()) as Array<{
      model: string;
      stream: boolean;
      body: { messages: unknown };
    }>;
    expect(recorded.map((r) => [r.model, r.stream])).toEqual([
      [model, false],
      [model, true],
    ]);
    expect(recorded[1]?.body.messages).toEqual([{ role: "user", content: "q2" }]);
    expect(mock.requests(model)).toHaveLength(2);

    expect((await fetch(`${mock.url}/_mock/requests`, { method: "DELETE" })).status).toBe(200);
    expect(mock.requests(model)).toEqual([]);

    const del = await fetch(`${mock.url}/_mock/scripts/${encodeURIComponent(model)}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    const demo = await client.messages.create({
      model,
      max_tokens: 16,
      messages: [{ role: "user", content: "q" }],
    });
    expect(demo.content).toEqual([{ type: "text", text: "Hello from Tendon's mock model. You said: q" }]);
  });

  it("answers unknown routes with 404 not_found_error", async () => {
    const res = await fetch(`${mock.url}/v1/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe("not_found_error");
  });
});

describe("demo behaviour (unscripted models)", () => {
  const tools: Anthropic.Tool[] = [
    { name: "bash", description: "run a command", input_schema: { type: "object", properties: {} } },
    { name: "other", description: "unused", input_schema: { type: "object", properties: {} } },
  ];

  it("echoes the last user text, streamed word by word", async () => {
    const said = `please echo ${"x".repeat(600)}`;
    const stream = client.messages.stream({
      model: uniqueModel("demo"),
      max_tokens: 64,
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: [{ type: "text", text: said }] },
      ],
    });
    const deltas: string[] = [];
    stream.on("text", (d) => deltas.push(d));
    const final = await stream.finalMessage();
    const expected = `Hello from Tendon's mock model. You said: ${said.slice(0, 500)}`;
    expect(final.content).toEqual([{ type: "text", text: expected }]);
    expect(deltas.join("")).toBe(expected);
    expect(deltas.length).toBeGreaterThan(5);
    expect(final.stop_reason).toBe("end_turn");
  });

  it("calls the first tool when tools are offered and the user mentions a tool", async () => {
    const final = await client.messages
      .stream({
        model: uniqueModel("demo"),
        max_tokens: 64,
        tools,
        messages: [{ role: "user", content: "Use a tool to list files" }],
      })
      .finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content).toEqual([
      { type: "tool_use", id: expect.stringMatching(/^toolu_/), name: "bash", input: {} },
    ]);

    const noTools = await client.messages.create({
      model: uniqueModel("demo"),
      max_tokens: 64,
      messages: [{ role: "user", content: "Use a tool" }],
    });
    expect(noTools.content[0]).toMatchObject({ type: "text" });
  });

  it("acknowledges a tool result with its first 200 characters", async () => {
    const output = `total 42\n${"y".repeat(300)}`;
    const msg = await client.messages.create({
      model: uniqueModel("demo"),
      max_tokens: 64,
      tools,
      messages: [
        { role: "user", content: "use a tool" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "bash", input: {} }] },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: output }] },
          ],
        },
      ],
    });
    expect(msg.content).toEqual([{ type: "text", text: `Got the tool result: ${output.slice(0, 200)}` }]);
    expect(msg.stop_reason).toBe("end_turn");
  });
});
