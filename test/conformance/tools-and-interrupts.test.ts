/**
 * SDK conformance: custom tool round trips, interrupts, model failures and retries, previews,
 * and event-list pagination.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { waitFor } from "@tendon/testing";
import { describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { useTestStack } from "../support/stack.js";

const fx = useTestStack();

const uniqueModel = (tag: string) => `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

async function newSession(model: string, tools: Anthropic.Beta.Agents.AgentCreateParams["tools"] = []) {
  const agent = await fx.client.beta.agents.create({ name: model, model, tools });
  return fx.client.beta.sessions.create({ agent: agent.id, environment_id: fx.environmentId });
}

describe("custom tools", () => {
  it("idles with requires_action, takes the client's result and continues", async () => {
    const model = uniqueModel("tool");
    fx.t.mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "Let me check." },
            { type: "tool_use", name: "get_weather", input: { city: "Paris" } },
          ],
        },
        { content: [{ type: "text", text: "It is sunny in Paris." }] },
      ],
    });
    const session = await newSession(model, [
      {
        type: "custom",
        name: "get_weather",
        description: "Weather for a city",
        input_schema: { type: "object", properties: { city: { type: "string" } } },
      },
    ]);
    const stream = await collect(fx.client, session.id);
    await fx.client.beta.sessions.events.send(session.id, { events: [say("Weather in Paris?")] });
    const first = await stream.until((e) => e.type === "session.status_idle");
    const use = first.find(
      (e) => e.type === "agent.custom_tool_use",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentCustomToolUseEvent;
    expect(use).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
    const idle = first.at(-1) as Anthropic.Beta.Sessions.BetaManagedAgentsSessionStatusIdleEvent;
    expect(idle.stop_reason).toEqual({ type: "requires_action", event_ids: [use.id] });
    expect((await fx.client.beta.sessions.retrieve(session.id)).status).toBe("idle");

    await fx.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.custom_tool_result",
          custom_tool_use_id: use.id,
          content: [{ type: "text", text: "sunny, 24°C" }],
        },
      ],
    });
    const all = await stream.until(isEndTurn);
    stream.close();
    const tail = all.slice(first.length).map((e) => e.type);
    expect(tail).toEqual([
      "user.custom_tool_result",
      "session.status_running",
      "span.model_request_start",
      "agent.message",
      "span.model_request_end",
      "session.status_idle",
    ]);
    // The model got the result paired with its call (the call's id is the event id).
    const second = fx.t.mock.requests(model)[1]?.body as {
      messages: Array<{ role: string; content: unknown }>;
    };
    expect(second.messages.at(-2)).toMatchObject({
      role: "assistant",
      content: [{ type: "text" }, { type: "tool_use", id: use.id, name: "get_weather" }],
    });
    expect(second.messages.at(-1)).toMatchObject({
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: use.id, content: [{ type: "text", text: "sunny, 24°C" }] },
      ],
    });

    // A second answer to the same call is refused with 400 (not 409: the SDK would retry that).
    const again = await fx.client.beta.sessions.events
      .send(session.id, {
        events: [{ type: "user.custom_tool_result", custom_tool_use_id: use.id, content: [] }],
      })
      .catch((e: unknown) => e);
    expect(again).toMatchObject({
      status: 400,
      error: { type: "error", error: { type: "invalid_request_error" } },
    });
  });
});

describe("interrupts", () => {
  it("cancels the model call in flight and idles with end_turn; the next message runs normally", async () => {
    const model = uniqueModel("slow");
    // The first attempt hangs until the fx.client aborts it; the interrupted call leaves no assistant
    // turn, so the next request is step 0 again and gets the answer.
    fx.t.mock.script(model, {
      steps: [{ content: [{ type: "text", text: "after the interrupt" }], failures: [{ hang: true }] }],
    });
    const session = await newSession(model);
    const stream = await collect(fx.client, session.id);
    await fx.client.beta.sessions.events.send(session.id, { events: [say("take your time")] });
    await stream.until((e) => e.type === "span.model_request_start");
    await waitFor(() => fx.t.mock.requests(model).length === 1);
    await fx.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    const got = await stream.until(isEndTurn);
    expect(got.map((e) => e.type)).toEqual([
      "user.message",
      "session.status_running",
      "span.model_request_start",
      "user.interrupt",
      "span.model_request_end",
      "session.status_idle",
    ]);
    expect(got.find((e) => e.type === "span.model_request_end")).toMatchObject({ is_error: true });
    expect(got.some((e) => e.type === "agent.message")).toBe(false);

    await fx.client.beta.sessions.events.send(session.id, { events: [say("now answer")] });
    const after = await stream.until((_e, all) => all.filter(isEndTurn).length === 2);
    stream.close();
    expect(after.filter((e) => e.type === "agent.message").at(-1)).toMatchObject({
      content: [{ text: "after the interrupt" }],
    });
  });
});

describe("model failures", () => {
  it("retries 529s visibly (error + rescheduled) and completes", async () => {
    const model = uniqueModel("flaky");
    fx.t.mock.script(model, {
      steps: [{ content: [{ type: "text", text: "made it" }], failures: [{ status: 529 }, { status: 429 }] }],
    });
    const session = await newSession(model);
    const stream = await collect(fx.client, session.id);
    await fx.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    const got = await stream.until(isEndTurn);
    stream.close();
    const errors = got.filter(
      (e) => e.type === "session.error",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsSessionErrorEvent[];
    expect(errors.map((e) => [e.error.type, e.error.retry_status.type])).toEqual([
      ["model_overloaded_error", "retrying"],
      ["model_rate_limited_error", "retrying"],
    ]);
    expect(got.filter((e) => e.type === "session.status_rescheduled")).toHaveLength(2);
    expect(got.filter((e) => e.type === "session.status_running")).toHaveLength(3);
    expect(got.filter((e) => e.type === "agent.message")).toHaveLength(1);
  });

  it("gives up after the retry budget: error exhausted and idle(retries_exhausted)", async () => {
    const model = uniqueModel("down");
    fx.t.mock.script(model, {
      steps: [
        {
          content: [{ type: "text", text: "never" }],
          failures: [{ status: 529 }, { status: 529 }, { status: 529 }, { status: 529 }, { status: 529 }],
        },
      ],
    });
    const session = await newSession(model);
    const stream = await collect(fx.client, session.id);
    await fx.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    const got = await stream.until((e) => e.type === "session.status_idle");
    stream.close();
    const last = got.at(-1) as Anthropic.Beta.Sessions.BetaManagedAgentsSessionStatusIdleEvent;
    expect(last.stop_reason).toEqual({ type: "retries_exhausted" });
    const errors = got.filter(
      (e) => e.type === "session.error",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsSessionErrorEvent[];
    expect(errors.map((e) => e.error.retry_status.type)).toEqual([
      "retrying",
      "retrying",
      "retrying",
      "exhausted",
    ]);
    expect(fx.t.mock.requests(model)).toHaveLength(4);
  });

  it("a stream dropped mid-reply is retried and the reply is stored once", async () => {
    const model = uniqueModel("drop");
    fx.t.mock.script(model, {
      steps: [
        {
          content: [{ type: "text", text: "one two three four five six" }],
          failures: [{ drop_after_chunks: 2 }],
        },
      ],
    });
    const session = await newSession(model);
    const stream = await collect(fx.client, session.id);
    await fx.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    const got = await stream.until(isEndTurn);
    stream.close();
    const messages = got.filter((e) => e.type === "agent.message");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ content: [{ text: "one two three four five six" }] });
  });
});

describe("previews", () => {
  it("event_deltas streams event_start and deltas whose concatenation is the stored message", async () => {
    const model = uniqueModel("delta");
    const text = "streamed word by word for the preview";
    fx.t.mock.script(model, { steps: [{ content: [{ type: "text", text }] }] });
    const session = await newSession(model);
    const stream = await collect(fx.client, session.id, { event_deltas: ["agent.message"] });
    await fx.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    const got = await stream.until(isEndTurn);
    stream.close();
    const start = got.find(
      (e) => e.type === "event_start",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsStartEvent;
    const deltas = got.filter(
      (e) => e.type === "event_delta",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsDeltaEvent[];
    const message = got.find(
      (e) => e.type === "agent.message",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentMessageEvent;
    expect(start.event).toEqual({ type: "agent.message", id: message.id });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((d) => d.delta.content.text).join("")).toBe(text);
    const order = got.map((e) => e.type);
    expect(order.indexOf("event_start")).toBeGreaterThan(order.indexOf("span.model_request_start"));
    expect(order.lastIndexOf("event_delta")).toBeLessThan(order.indexOf("agent.message"));
    // Previews are never stored.
    const listed: string[] = [];
    for await (const e of fx.client.beta.sessions.events.list(session.id)) listed.push(e.type);
    expect(listed).not.toContain("event_delta");
  });
});

describe("event list", () => {
  it("auto-paginates over several pages, with types[] and order", async () => {
    const model = uniqueModel("pages");
    fx.t.mock.script(model, { steps: [{ content: [{ type: "text", text: "a" }] }], repeat_last: true });
    const session = await newSession(model);
    const stream = await collect(fx.client, session.id);
    for (let i = 0; i < 3; i++) {
      await fx.client.beta.sessions.events.send(session.id, { events: [say(`m${i}`)] });
      await stream.until((_e, all) => all.filter(isEndTurn).length === i + 1);
    }
    stream.close();
    const all: string[] = [];
    for await (const e of fx.client.beta.sessions.events.list(session.id, { limit: 4 })) all.push(e.id);
    expect(all).toHaveLength(18);
    expect(new Set(all).size).toBe(18);
    const firstPage = await fx.client.beta.sessions.events.list(session.id, { limit: 4 });
    expect(firstPage.data).toHaveLength(4);
    expect(firstPage.next_page).toEqual(expect.any(String));

    const messages: string[] = [];
    for await (const e of fx.client.beta.sessions.events.list(session.id, {
      types: ["user.message"],
      limit: 2,
    }))
      messages.push(e.type);
    expect(messages).toEqual(["user.message", "user.message", "user.message"]);

    const desc: string[] = [];
    for await (const e of fx.client.beta.sessions.events.list(session.id, { order: "desc", limit: 5 }))
      desc.push(e.id);
    expect(desc).toEqual([...all].reverse());

    const last = await fx.client.beta.sessions.events.list(session.id, { limit: 1000 });
    expect(last.next_page).toBeNull();
  });
});
