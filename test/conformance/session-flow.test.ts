/**
 * SDK conformance: the quickstart flow, driven only through @anthropic-ai/sdk against a running
 * stack (every service its own process, the mock model behind ANTHROPIC_BASE_URL).
 */
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { ONE_REPLY_TURN } from "../support/log.js";
import { collect, isEndTurn } from "../support/sse.js";
import { useTestStack } from "../support/stack.js";

const fx = useTestStack();

function uniqueModel(tag: string): string {
  return `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
}

describe("a turn end to end", () => {
  it("streams running → model span → message → idle(end_turn) and lists the same events", async () => {
    const model = uniqueModel("hello");
    fx.t.mock.script(model, { steps: [{ content: [{ type: "text", text: "Hello from the mock model." }] }] });
    const agent = await fx.client.beta.agents.create({ name: "hello", model, system: "Be brief." });
    expect(agent).toMatchObject({
      type: "agent",
      version: 1,
      name: "hello",
      model: { id: model },
      system: "Be brief.",
    });

    const session = await fx.client.beta.sessions.create({
      agent: agent.id,
      environment_id: fx.environmentId,
      title: "first",
    });
    expect(session).toMatchObject({
      type: "session",
      status: "idle",
      resources: [],
      vault_ids: [],
      title: "first",
    });
    expect(session.agent).toMatchObject({ id: agent.id, version: 1, skills: [] });

    const stream = await collect(fx.client, session.id);
    const sent = await fx.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "Hi!" }] }],
    });
    expect(sent.data).toHaveLength(1);
    expect(sent.data?.[0]).toMatchObject({ type: "user.message", id: expect.stringMatching(/^sevt_/) });

    const got = await stream.until(isEndTurn);
    stream.close();
    expect(got.map((e) => e.type)).toEqual(ONE_REPLY_TURN);
    const message = got.find((e) => e.type === "agent.message");
    expect(message).toMatchObject({ content: [{ type: "text", text: "Hello from the mock model." }] });
    const end = got.find(
      (e) => e.type === "span.model_request_end",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsSpanModelRequestEndEvent;
    const start = got.find((e) => e.type === "span.model_request_start");
    expect(end.model_request_start_id).toBe(start?.id);
    expect(end.is_error).toBe(false);
    expect(end.model_usage.output_tokens).toBeGreaterThan(0);

    // The stored log is what was streamed, in order.
    const listed: string[] = [];
    for await (const e of fx.client.beta.sessions.events.list(session.id)) listed.push(e.id);
    expect(listed).toEqual(got.map((e) => (e as { id: string }).id));

    const after = await fx.client.beta.sessions.retrieve(session.id);
    expect(after.status).toBe("idle");
    expect(after.usage.output_tokens).toBe(end.model_usage.output_tokens);

    // The model saw the system prompt and the user's message.
    const req = fx.t.mock.requests(model)[0];
    expect(req?.body).toMatchObject({
      system: "Be brief.",
      messages: [{ role: "user", content: [{ type: "text", text: "Hi!" }] }],
    });
  });
});
