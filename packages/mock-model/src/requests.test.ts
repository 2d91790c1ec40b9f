import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { createMockModel, type RecordedRequest } from "./index.js";

const uniqueModel = (name: string) => `${name}-${randomUUID()}`;
const hi = [{ role: "user" as const, content: "hi" }];

describe("onRequest", () => {
  it("sees each valid request once, as recorded, before the reply, with a high-resolution arrival", async () => {
    const seen: RecordedRequest[] = [];
    const mock = createMockModel({ onRequest: (r) => seen.push(r) });
    await mock.start();
    try {
      const client = new Anthropic({ baseURL: mock.url, apiKey: "test", maxRetries: 0 });
      const model = uniqueModel("observed");
      mock.script(model, { steps: [{ content: [{ type: "text", text: "ok" }] }], repeat_last: true });

      const before = performance.now();
      const stream = client.messages.stream({ model, max_tokens: 8, messages: hi });
      let seenAtFirstEvent = -1;
      stream.on("streamEvent", () => {
        if (seenAtFirstEvent < 0) seenAtFirstEvent = seen.length;
      });
      await stream.finalMessage();
      await client.messages.create({ model, max_tokens: 8, messages: hi });
      const after = performance.now();
      // Invalid: never recorded, never observed.
      await expect(client.messages.create({ model, max_tokens: 0, messages: hi })).rejects.toBeInstanceOf(
        Anthropic.BadRequestError,
      );

      expect(seenAtFirstEvent).toBe(1);
      expect(seen.map((r) => [r.model, r.stream])).toEqual([
        [model, true],
        [model, false],
      ]);
      expect(seen).toEqual(mock.requests(model));
      for (const r of seen) {
        expect(r.receivedAt).toBeGreaterThanOrEqual(before);
        expect(r.receivedAt).toBeLessThanOrEqual(after);
      }
      expect(seen[1]!.receivedAt).toBeGreaterThan(seen[0]!.receivedAt);
    } finally {
      await mock.stop();
    }
  });

  it("a throwing observer does not change the answer", async () => {
    const mock = createMockModel({
      onRequest: () => {
        throw new Error("observer failed");
      },
    });
    await mock.start();
    try {
      const client = new Anthropic({ baseURL: mock.url, apiKey: "test", maxRetries: 0 });
      const model = uniqueModel("throwing");
      mock.script(model, { steps: [{ content: [{ type: "text", text: "still fine" }] }] });
      const msg = await client.messages.create({ model, max_tokens: 8, messages: hi });
      expect(msg.content).toEqual([{ type: "text", text: "still fine" }]);
      expect(mock.requests(model)).toHaveLength(1);
    } finally {
      await mock.stop();
    }
  });
});
