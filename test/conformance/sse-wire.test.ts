/**
 * The SSE stream on the wire (spec §4): headers flushed at connect, an `event:` line on every
 * message, pings, no replay, and 400 for unknown preview types.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ONE_REPLY_TURN } from "../support/log.js";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;
let sessionId: string;

beforeAll(async () => {
  t = await startTestStack();
  client = t.client;
  const model = `mock-wire-${Math.random().toString(36).slice(2, 8)}`;
  t.mock.script(model, { steps: [{ content: [{ type: "text", text: "ok" }] }], repeat_last: true });
  const agent = await client.beta.agents.create({ name: "wire", model });
  const env = await client.beta.environments.create({ name: `wire-${Date.now()}` });
  sessionId = (await client.beta.sessions.create({ agent: agent.id, environment_id: env.id })).id;
});
afterAll(async () => {
  await t?.stop();
});

interface RawMessage {
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads raw SSE messages from a fetch body until `until` is true. */
async function readUntil(
  body: ReadableStream<Uint8Array>,
  until: (msgs: RawMessage[]) => boolean,
): Promise<RawMessage[]> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const msgs: RawMessage[] = [];
  while (!until(msgs)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const m: RawMessage = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) m.comment = line.slice(1).trim();
        else if (line.startsWith("event: ")) m.event = line.slice(7);
        else if (line.startsWith("data: ")) m.data = line.slice(6);
      }
      msgs.push(m);
    }
  }
  reader.releaseLock();
  return msgs;
}

describe("SSE wire format", () => {
  it("flushes headers at connect, names every message, pings, and never replays", async () => {
    const ctl = new AbortController();
    const res = await fetch(`${t.stack.url}/v1/sessions/${sessionId}/events/stream`, {
      headers: { authorization: `Bearer ${t.apiKey}` },
      signal: ctl.signal,
    });
    // fetch resolved: the headers arrived before any event exists.
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
    const body = res.body!;
    const first = await readUntil(body, (m) => m.length >= 1);
    expect(first[0]?.comment).toBe("connected");

    await client.beta.sessions.events.send(sessionId, {
      events: [{ type: "user.message", content: [{ type: "text", text: "hi" }] }],
    });
    const msgs = await readUntil(
      body,
      (m) => m.some((x) => x.event === "session.status_idle") && m.some((x) => x.event === "ping"),
    );
    ctl.abort();
    const events = msgs.filter((m) => m.data !== undefined);
    for (const m of events) {
      expect(m.event).toBeDefined();
      expect((JSON.parse(m.data!) as { type: string }).type).toBe(m.event);
    }
    expect(events.filter((m) => m.event !== "ping").map((m) => m.event)).toEqual(ONE_REPLY_TURN);

    // A stream opened now sees nothing of the past, and the next turn's events only.
    const later = await collect(client, sessionId);
    await client.beta.sessions.events.send(sessionId, {
      events: [{ type: "user.message", content: [{ type: "text", text: "again" }] }],
    });
    const got = await later.until(isEndTurn);
    later.close();
    expect(got[0]).toMatchObject({ type: "user.message", content: [{ text: "again" }] });
    expect(got).toHaveLength(6);
  });

  it("rejects unknown preview types and unknown sessions before streaming", async () => {
    const bad = await fetch(
      `${t.stack.url}/v1/sessions/${sessionId}/events/stream?event_deltas[]=agent.tool_use`,
      {
        headers: { authorization: `Bearer ${t.apiKey}` },
      },
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const missing = await fetch(`${t.stack.url}/v1/sessions/sesn_nope000000000000000/events/stream`, {
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    expect(missing.status).toBe(404);
  });
});
