/**
 * `POST /v1/messages`: validates the request, records it, picks the scripted step (or the demo
 * reply), applies the step's next injected failure, then answers as JSON or as an SSE stream.
 *
 * Invariants:
 * - Auth, then body validation, happen before anything is recorded or any failure is consumed.
 * - Every valid request is recorded, including those that are then failed on purpose, and handed
 *   to the `onRequest` observer (if any) before anything is answered.
 * - A hung or delayed request ends as soon as `signal` aborts (client gone or server stopping).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { demoStep } from "./demo.js";
import {
  authorized,
  BodyTooLargeError,
  describeZodError,
  newId,
  parseJson,
  readBody,
  sendError,
  sendJson,
} from "./http.js";
import type { RecordedRequest, RequestLog } from "./requests.js";
import type { ScriptStore, Step } from "./script.js";
import { countDeltas, planContent, type Reply, streamReply, toMessage } from "./stream.js";
import { aborted, type TimerSet } from "./timers.js";

/** The parts of a Messages request the mock relies on; everything else passes through. */
export const MessagesRequest = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["user", "assistant"]),
        content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
      }),
    )
    .min(1),
  stream: z.boolean().optional(),
  tools: z.array(z.looseObject({ name: z.string().optional() })).optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequest>;

export interface MessagesContext {
  scripts: ScriptStore;
  log: RequestLog;
  timers: TimerSet;
  apiKey: string | undefined;
  firstTokenMs: number;
  perTokenMs: number;
  maxBodyBytes: number;
  onRequest?: ((request: RecordedRequest) => void) | undefined;
}

/** Reads and validates the body; answers 4xx itself and returns undefined when it is unusable. */
async function readRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: MessagesContext,
): Promise<{ raw: unknown; body: MessagesRequest } | undefined> {
  let text: string;
  try {
    text = await readBody(req, ctx.maxBodyBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) sendError(res, 413, err.message);
    return undefined;
  }
  const json = parseJson(text);
  if (!json.ok) {
    sendError(res, 400, "the request body is not valid JSON");
    return undefined;
  }
  const parsed = MessagesRequest.safeParse(json.value);
  if (!parsed.success) {
    sendError(res, 400, describeZodError(parsed.error));
    return undefined;
  }
  return { raw: json.value, body: parsed.data };
}

function buildReply(body: MessagesRequest, step: Step, ctx: MessagesContext): Reply {
  const plan = planContent(step.content);
  const hasToolUse = step.content.some((b) => b.type === "tool_use");
  return {
    model: body.model,
    plan,
    stopReason: step.stop_reason ?? (hasToolUse ? "tool_use" : "end_turn"),
    inputTokens: step.usage?.input_tokens ?? Math.ceil(JSON.stringify(body.messages).length / 4),
    outputTokens: step.usage?.output_tokens ?? countDeltas(plan),
    firstTokenMs: step.latency?.first_token_ms ?? ctx.firstTokenMs,
    perTokenMs: step.latency?.per_token_ms ?? ctx.perTokenMs,
  };
}

export async function handleMessages(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: MessagesContext,
  signal: AbortSignal,
  receivedAt: number,
): Promise<void> {
  if (!authorized(req, ctx.apiKey)) {
    req.resume();
    sendError(res, 401, "invalid x-api-key");
    return;
  }
  const request = await readRequest(req, res, ctx);
  if (!request) return;
  const { body } = request;
  const stream = body.stream === true;
  const recorded: RecordedRequest = {
    model: body.model,
    body: request.raw,
    stream,
    at: Date.now(),
    receivedAt,
    ...(typeof req.headers.traceparent === "string" ? { traceparent: req.headers.traceparent } : {}),
  };
  ctx.log.record(recorded);
  try {
    ctx.onRequest?.(recorded);
  } catch {
    // A failing observer must not change what the model answers.
  }

  const assistantTurns = body.messages.filter((m) => m.role === "assistant").length;
  const selection = ctx.scripts.select(body.model, assistantTurns);
  if (selection.kind === "out_of_range") {
    sendError(
      res,
      400,
      `mock model "${body.model}" has no step ${selection.index} (its script has ${selection.steps} step(s) and repeat_last is off)`,
    );
    return;
  }
  const step = selection.kind === "step" ? selection.step : demoStep(body);
  const failure = selection.kind === "step" ? selection.failure : undefined;

  if (failure && "status" in failure) {
    const headers: Record<string, string> = {};
    if (failure.retry_after_s !== undefined || failure.status === 429) {
      headers["retry-after"] = String(failure.retry_after_s ?? 0);
    }
    const what = { 429: "rate limited", 500: "internal error", 529: "overloaded" }[failure.status];
    sendError(res, failure.status, `scripted failure: ${what}`, headers);
    return;
  }
  if (failure && "hang" in failure) {
    await aborted(signal);
    return;
  }
  const dropAfter = failure && "drop_after_chunks" in failure ? failure.drop_after_chunks : undefined;
  if (dropAfter !== undefined && !stream) {
    // Non-streaming: the closest thing to a mid-stream drop is a connection closed without a reply.
    res.destroy();
    return;
  }

  const reply = buildReply(body, step, ctx);
  const id = newId("msg_");
  if (stream) {
    await streamReply(res, reply, { id, signal, timers: ctx.timers, dropAfter });
    return;
  }
  const deltas = countDeltas(reply.plan);
  const delay = reply.firstTokenMs + reply.perTokenMs * Math.max(0, deltas - 1);
  if (!(await ctx.timers.sleep(delay, signal))) return;
  sendJson(res, 200, toMessage(reply, id));
}
