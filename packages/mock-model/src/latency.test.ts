import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it, vi } from "vitest";
import { createMockModel, type MockModel, type MockModelOptions } from "./index.js";

// Delays here are far longer than any test may run: a delayed request is proven delayed by what
// arrived (and what did not) when another request has already completed, never by a clock.
const FOREVER_MS = 600_000;
const hi = [{ role: "user" as const, content: "hi" }];
const uniqueModel = (name: string) => `${name}-${randomUUID()}`;

interface Stats {
  inflight: number;
  timers: number;
}
const stats = async (url: string): Promise<Stats> =>
  (await fetch(`${url}/_mock/stats`)).json() as Promise<Stats>;
const until = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 5_000, interval: 10 });

async function withMock(opts: MockModelOptions, fn: (mock: MockModel, client: Anthropic) => Promise<void>) {
  const mock = createMockModel(opts);
  await mock.start();
  const client = new Anthropic({ baseURL: mock.url, apiKey: "test", maxRetries: 0 });
  try {
    await fn(mock, client);
  } finally {
    await mock.stop();
  }
}

describe("latency", () => {
  it("first_token_ms holds content back after message_start; abort clears the timer", async () => {
    await withMock({}, async (mock, client) => {
      const slow = uniqueModel("slow");
      const fast = uniqueModel("fast");
      mock.script(slow, {
        steps: [{ content: [{ type: "text", text: "late words" }], latency: { first_token_ms: FOREVER_MS } }],
      });
      mock.script(fast, { steps: [{ content: [{ type: "text", text: "quick" }] }] });

      const stream = client.messages.stream({ model: slow, max_tokens: 64, messages: hi });
      const seen: string[] = [];
      stream.on("streamEvent", (ev) => seen.push(ev.type));
      const settled = stream.finalMessage().catch((e: unknown) => e);
      await until(() => expect(seen).toContain("message_start"));
      await until(async () => expect(await stats(mock.url)).toMatchObject({ inflight: 1, timers: 1 }));

      const quick = await client.messages
        .stream({ model: fast, max_tokens: 64, messages: hi })
        .finalMessage();
      expect(quick.content).toEqual([{ type: "text", text: "quick" }]);
      expect(seen).not.toContain("content_block_delta");

      stream.abort();
      expect(await settled).toBeInstanceOf(Anthropic.APIUserAbortError);
      await until(async () =>
        expect(await stats(mock.url)).toEqual(expect.objectContaining({ inflight: 0, timers: 0 })),
      );
    });
  });

  it("per_token_ms spaces out the chunks after the first", async () => {
    await withMock({}, async (mock, client) => {
      const model = uniqueModel("per-token");
      mock.script(model, {
        steps: [
          { content: [{ type: "text", text: "one two three" }], latency: { per_token_ms: FOREVER_MS } },
        ],
      });
      const stream = client.messages.stream({ model, max_tokens: 64, messages: hi });
      const deltas: string[] = [];
      stream.on("text", (d) => deltas.push(d));
      const settled = stream.finalMessage().catch((e: unknown) => e);
      await until(() => expect(deltas).toEqual(["one "]));
      await until(async () => expect((await stats(mock.url)).timers).toBe(1));
      expect(deltas).toEqual(["one "]);

      stream.abort();
      expect(await settled).toBeInstanceOf(Anthropic.APIUserAbortError);
      await until(async () => expect(await stats(mock.url)).toMatchObject({ inflight: 0, timers: 0 }));
    });
  });

  it("uses the server-wide firstTokenMs unless the step overrides it; stop() ends delayed streams", async () => {
    const mock = createMockModel({ firstTokenMs: FOREVER_MS });
    await mock.start();
    const url = mock.url;
    const client = new Anthropic({ baseURL: url, apiKey: "test", maxRetries: 0 });
    const eager = uniqueModel("eager");
    mock.script(eager, {
      steps: [{ content: [{ type: "text", text: "now" }], latency: { first_token_ms: 0 } }],
    });

    const demo = client.messages.stream({ model: uniqueModel("demo"), max_tokens: 64, messages: hi });
    const seen: string[] = [];
    demo.on("streamEvent", (ev) => seen.push(ev.type));
    const settled = demo.finalMessage().catch((e: unknown) => e);
    await until(() => expect(seen).toContain("message_start"));

    const now = await client.messages.stream({ model: eager, max_tokens: 64, messages: hi }).finalMessage();
    expect(now.content).toEqual([{ type: "text", text: "now" }]);
    expect(seen).not.toContain("content_block_delta");
    expect((await stats(url)).timers).toBe(1);

    await mock.stop();
    expect(await settled).toBeInstanceOf(Error);
  });
});

describe("hang", () => {
  it("holds the request until the client aborts, and stop() ends hung requests", async () => {
    const mock = createMockModel();
    await mock.start();
    const url = mock.url;
    const client = new Anthropic({ baseURL: url, apiKey: "test", maxRetries: 0 });
    const model = uniqueModel("hang");
    mock.script(model, {
      steps: [{ content: [{ type: "text", text: "never" }], failures: [{ hang: true }, { hang: true }] }],
    });

    const controller = new AbortController();
    const first = client.messages
      .create({ model, max_tokens: 8, messages: hi }, { signal: controller.signal })
      .catch((e: unknown) => e);
    await until(async () => expect((await stats(url)).inflight).toBe(1));
    controller.abort();
    expect(await first).toBeInstanceOf(Anthropic.APIUserAbortError);
    await until(async () => expect(await stats(url)).toMatchObject({ inflight: 0, timers: 0 }));

    const second = client.messages.create({ model, max_tokens: 8, messages: hi }).catch((e: unknown) => e);
    await until(async () => expect((await stats(url)).inflight).toBe(1));
    await mock.stop();
    expect(await second).toBeInstanceOf(Anthropic.APIConnectionError);
    expect(mock.requests(model)).toHaveLength(2);
  });
});
