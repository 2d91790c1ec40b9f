import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMockModel, type MockModel } from "./index.js";

let mock: MockModel;
let client: Anthropic;
const uniqueModel = (name: string) => `${name}-${randomUUID()}`;
const hi = [{ role: "user" as const, content: "hi" }];

beforeAll(async () => {
  mock = createMockModel();
  await mock.start();
  client = new Anthropic({ baseURL: mock.url, apiKey: "test", maxRetries: 0 });
});
afterAll(async () => {
  await mock.stop();
});

describe("POST /v1/messages", () => {
  it("answers a non-streaming request with a Message", async () => {
    const model = uniqueModel("plain");
    mock.script(model, { steps: [{ content: [{ type: "text", text: "Hello there" }] }] });
    const msg = await client.messages.create({ model, max_tokens: 256, messages: hi });
    expect(msg).toMatchObject({
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text: "Hello there" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: expect.any(Number), output_tokens: 2 },
    });
    expect(msg.usage.cache_creation_input_tokens).toBe(0);
    expect(msg.usage.cache_read_input_tokens).toBe(0);
    expect(msg.id).toMatch(/^msg_[0-9A-Za-z]{24}$/);
    expect(msg._request_id).toMatch(/^req_/);
  });

  it("streams text that concatenates exactly, and finalMessage() matches", async () => {
    const model = uniqueModel("stream");
    const text = "  Hello,   world!\n\nThis is\ta test of   chunking. ";
    mock.script(model, { steps: [{ content: [{ type: "text", text }], usage: { input_tokens: 7 } }] });
    const stream = client.messages.stream({ model, max_tokens: 256, messages: hi });
    const deltas: string[] = [];
    stream.on("text", (d) => deltas.push(d));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe(text);
    expect(final.content).toEqual([{ type: "text", text }]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage).toMatchObject({ input_tokens: 7, output_tokens: deltas.length });
    expect(final.id).toMatch(/^msg_/);
  });

  it("emits the API's event sequence, each SSE message named after its type", async () => {
    const model = uniqueModel("events");
    mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "a b" },
            { type: "tool_use", name: "t", input: { x: 1 } },
          ],
        },
      ],
    });
    const response = await client.messages
      .create({ model, max_tokens: 64, messages: hi, stream: true })
      .asResponse();
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const raw = await response.text();
    const messages = raw.split("\n\n").filter(Boolean);
    const types = messages.map((m) => {
      const [eventLine, dataLine] = m.split("\n");
      const event = eventLine?.replace(/^event: /, "");
      const data = JSON.parse(dataLine?.replace(/^data: /, "") ?? "") as { type: string };
      expect(data.type).toBe(event);
      return event;
    });
    const delta = "content_block_delta";
    // Text "a b" is two word chunks; the 7-character input JSON is three partial_json pieces.
    expect(types).toEqual([
      "message_start",
      "content_block_start",
      delta,
      delta,
      "content_block_stop",
      "content_block_start",
      delta,
      delta,
      delta,
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  it("streams thinking with its signature", async () => {
    const model = uniqueModel("thinking");
    const thinking = "Let me think about this, step by step.";
    mock.script(model, {
      steps: [
        {
          content: [
            { type: "thinking", thinking, signature: "sig-123" },
            { type: "thinking", thinking: "unsigned" },
            { type: "text", text: "Answer." },
          ],
        },
      ],
    });
    const stream = client.messages.stream({ model, max_tokens: 2048, messages: hi });
    const pieces: string[] = [];
    stream.on("thinking", (d) => pieces.push(d));
    const final = await stream.finalMessage();
    expect(pieces.join("")).toBe(`${thinking}unsigned`);
    expect(final.content[0]).toEqual({ type: "thinking", thinking, signature: "sig-123" });
    expect(final.content[1]).toMatchObject({ type: "thinking", thinking: "unsigned" });
    expect((final.content[1] as { signature: string }).signature.length).toBeGreaterThan(10);
    expect(final.content[2]).toEqual({ type: "text", text: "Answer." });

    const again = await client.messages.create({ model, max_tokens: 2048, messages: hi });
    expect(again.content).toEqual(final.content);
  });

  it("round-trips tool_use input through input_json_delta", async () => {
    const model = uniqueModel("tool");
    const input = { path: "/tmp/ünï cödé 🚀.txt", lines: [1, 2, 3], opts: { deep: { ok: true, n: null } } };
    mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "Reading it." },
            { type: "tool_use", name: "read_file", input },
            { type: "tool_use", name: "noop", input: {}, id: "toolu_fixed" },
          ],
        },
      ],
    });
    const final = await client.messages.stream({ model, max_tokens: 256, messages: hi }).finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content[1]).toEqual({
      type: "tool_use",
      id: expect.stringMatching(/^toolu_/),
      name: "read_file",
      input,
    });
    expect(final.content[2]).toEqual({ type: "tool_use", id: "toolu_fixed", name: "noop", input: {} });

    const raw = await client.messages.create({ model, max_tokens: 256, messages: hi, stream: true });
    const partials: string[] = [];
    for await (const ev of raw) {
      if (ev.type === "content_block_delta" && ev.delta.type === "input_json_delta" && ev.index === 1) {
        partials.push(ev.delta.partial_json);
      }
    }
    expect(partials.length).toBeGreaterThan(1);
    expect(JSON.parse(partials.join(""))).toEqual(input);
  });

  it("chooses the step by the number of assistant messages, so a re-run gets the same step", async () => {
    const model = uniqueModel("steps");
    const step = (text: string) => ({ content: [{ type: "text" as const, text }] });
    mock.script(model, { steps: [step("first"), step("second"), step("third")] });
    const history = (turns: number): Anthropic.MessageParam[] => {
      const out: Anthropic.MessageParam[] = [{ role: "user", content: "go" }];
      for (let i = 0; i < turns; i++)
        out.push({ role: "assistant", content: `a${i}` }, { role: "user", content: "more" });
      return out;
    };
    const ask = async (turns: number) => {
      const msg = await client.messages.create({ model, max_tokens: 64, messages: history(turns) });
      return msg.content[0]?.type === "text" ? msg.content[0].text : undefined;
    };
    expect(await ask(0)).toBe("first");
    expect(await ask(1)).toBe("second");
    expect(await ask(1)).toBe("second");
    expect(await ask(2)).toBe("third");
    const err = await client.messages.create({ model, max_tokens: 64, messages: history(3) }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.error.type).toBe("invalid_request_error");
    expect(err.message).toContain(model);
    expect(err.message).toContain("step 3");

    mock.script(model, { steps: [step("first"), step("last")], repeat_last: true });
    expect(await ask(5)).toBe("last");
  });

  it("fails a step with 429, 529 and 500 in order, then succeeds", async () => {
    const model = uniqueModel("failures");
    mock.script(model, {
      steps: [
        {
          content: [{ type: "text", text: "finally" }],
          failures: [{ status: 429, retry_after_s: 3 }, { status: 529 }, { status: 500 }],
        },
      ],
    });
    const attempt = () => client.messages.create({ model, max_tokens: 64, messages: hi }).catch((e) => e);
    const rate = await attempt();
    expect(rate).toBeInstanceOf(Anthropic.RateLimitError);
    expect(rate.status).toBe(429);
    expect(rate.headers.get("retry-after")).toBe("3");
    expect(rate.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(rate.requestID).toMatch(/^req_/);
    expect(rate.error.request_id).toBe(rate.requestID);

    const overloaded = await client.messages
      .stream({ model, max_tokens: 64, messages: hi })
      .finalMessage()
      .catch((e) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect(overloaded.status).toBe(529);
    expect(overloaded.error.error.type).toBe("overloaded_error");

    const internal = await attempt();
    expect(internal).toBeInstanceOf(Anthropic.InternalServerError);
    expect(internal.status).toBe(500);
    expect(internal.error.error.type).toBe("api_error");

    const ok = await attempt();
    expect(ok.content).toEqual([{ type: "text", text: "finally" }]);
  });

  it("drop_after_chunks cuts the stream mid-way; the next attempt succeeds", async () => {
    const model = uniqueModel("drop");
    const text = "one two three four five six seven";
    mock.script(model, {
      steps: [{ content: [{ type: "text", text }], failures: [{ drop_after_chunks: 2 }] }],
    });
    const stream = client.messages.stream({ model, max_tokens: 64, messages: hi });
    const deltas: string[] = [];
    stream.on("text", (d) => deltas.push(d));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(deltas).toEqual(["one ", "two "]);

    const retry = await client.messages.stream({ model, max_tokens: 64, messages: hi }).finalMessage();
    expect(retry.content).toEqual([{ type: "text", text }]);
  });

  it("rejects invalid requests with invalid_request_error", async () => {
    const bad = await client.post("/v1/messages", { body: "{not json" }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      error: { type: "invalid_request_error" },
    });

    const noMax = { model: "m", messages: hi } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    const missing = await client.messages.create(noMax).catch((e) => e);
    expect(missing).toBeInstanceOf(Anthropic.BadRequestError);
    expect(missing.message).toContain("max_tokens");

    const noModel = { max_tokens: 5, messages: hi } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    expect((await client.messages.create(noModel).catch((e) => e)).message).toContain("model");
    const noMessages = { model: "m", max_tokens: 5 } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    expect((await client.messages.create(noMessages).catch((e) => e)).message).toContain("messages");
  });
});

describe("authentication", () => {
  it("requires the configured apiKey as x-api-key or Bearer token", async () => {
    const secured = createMockModel({ apiKey: "sekret" });
    await secured.start();
    try {
      const model = uniqueModel("auth");
      secured.script(model, { steps: [{ content: [{ type: "text", text: "welcome" }] }] });
      const wrong = new Anthropic({ baseURL: secured.url, apiKey: "nope", maxRetries: 0 });
      const err = await wrong.messages.create({ model, max_tokens: 8, messages: hi }).catch((e) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(err.status).toBe(401);
      expect(err.error.error.type).toBe("authentication_error");
      expect(secured.requests(model)).toHaveLength(0);

      const right = new Anthropic({ baseURL: secured.url, apiKey: "sekret", maxRetries: 0 });
      expect((await right.messages.create({ model, max_tokens: 8, messages: hi })).content).toHaveLength(1);
      const bearer = new Anthropic({
        baseURL: secured.url,
        apiKey: null,
        authToken: "sekret",
        maxRetries: 0,
      });
      expect((await bearer.messages.create({ model, max_tokens: 8, messages: hi })).content).toHaveLength(1);
    } finally {
      await secured.stop();
    }
  });
});
