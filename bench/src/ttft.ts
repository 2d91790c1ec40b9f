/**
 * Platform overhead on time to first token, against the same SDK talking to the same model:
 *
 * - Tendon: `events.send(user.message)` → the first `event_delta` of an `agent.message` on the
 *   session's SSE stream (opted in with `event_deltas`; it is published as the harness reads the
 *   model's first text delta, so it is the first sign of the first token), and → the stored
 *   `agent.message` event.
 * - Baseline: the SDK's `messages.stream` straight to the mock model with the very request the
 *   harness sent for that turn (replayed from the mock's request log) → its first text delta, and
 *   → the end of the message.
 *
 * Samples are paired (one Tendon turn, then its replay) on one long-lived session per series, so
 * the overhead is reported as the distribution of per-pair differences, with the targets from the
 * issue (overhead p50 ≤ 5 ms, p99 ≤ 20 ms) and whether this run met them. The first turns of a
 * series warm up connections, JIT and the worker, and are not counted.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { resolveInfra } from "@tendon/testing";
import { type BenchStack, isTurnEnd, readSession, type SessionReader, startBenchStack } from "./stack.js";
import { compare, type Figure, log, summarize } from "./stats.js";

const REPLY = "The first token is the one the user waits for; everything after it streams.";
const TARGET = { overhead_p50_ms: 5, overhead_p99_ms: 20 };

export interface Timings {
  firstToken: number;
  message: number;
}

interface Series {
  tendon: Timings[];
  direct: Timings[];
}

/** One turn through Tendon, timed from the send call to the first delta and to the stored message (the reader must have opted in to `event_deltas` for agent.message). */
export async function tendonTurn(b: BenchStack, sessionId: string, reader: SessionReader): Promise<Timings> {
  const t0 = performance.now();
  await b.client.beta.sessions.events.send(sessionId, {
    events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
  });
  let firstToken: number | undefined;
  let message: number | undefined;
  for (;;) {
    const e = await reader.next();
    const t = performance.now() - t0;
    if (e.type === "event_delta" && firstToken === undefined) firstToken = t;
    else if (e.type === "agent.message" && message === undefined) message = t;
    else if (e.type === "session.error") throw new Error(`session error: ${JSON.stringify(e.error)}`);
    else if (isTurnEnd(e)) break;
  }
  if (firstToken === undefined || message === undefined) throw new Error("the turn had no agent.message");
  return { firstToken, message };
}

/** The same request straight to the model, timed like the harness reads it. */
async function directTurn(b: BenchStack, body: unknown): Promise<Timings> {
  const t0 = performance.now();
  const stream = b.direct.messages.stream(body as Anthropic.MessageStreamParams);
  let firstToken: number | undefined;
  for await (const ev of stream) {
    if (firstToken === undefined && ev.type === "content_block_delta" && ev.delta.type === "text_delta")
      firstToken = performance.now() - t0;
  }
  await stream.finalMessage();
  const message = performance.now() - t0;
  if (firstToken === undefined) throw new Error("the model sent no text");
  return { firstToken, message };
}

async function series(b: BenchStack, firstTokenMs: number, warmup: number, n: number): Promise<Series> {
  const model = `bench-ttft-${firstTokenMs}`;
  b.mock.script(model, {
    steps: [{ content: [{ type: "text", text: REPLY }], latency: { first_token_ms: firstTokenMs } }],
    repeat_last: true,
  });
  const agent = await b.client.beta.agents.create({ name: `ttft-${firstTokenMs}`, model });
  const env = await b.client.beta.environments.create({ name: `ttft-${firstTokenMs}-${Date.now()}` });
  const session = await b.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
  const reader = await readSession(b.client, session.id, { event_deltas: ["agent.message"] });
  const out: Series = { tendon: [], direct: [] };
  try {
    for (let i = 0; i < warmup + n; i++) {
      const tendon = await tendonTurn(b, session.id, reader);
      const sent = b.mock.requests(model).at(-1);
      if (!sent) throw new Error("the mock model recorded no request");
      const direct = await directTurn(b, sent.body);
      if (i < warmup) continue;
      out.tendon.push(tendon);
      out.direct.push(direct);
    }
  } finally {
    reader.close();
  }
  return out;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function overheadFigure(
  name: string,
  baselineName: string,
  s: Series,
  pick: (t: Timings) => number,
  notes: Record<string, unknown>,
  withTarget: boolean,
): Figure {
  const tendon = s.tendon.map(pick);
  const direct = s.direct.map(pick);
  const overhead = summarize(tendon.map((t, i) => t - direct[i]!));
  const f = compare(name, "ms", tendon, baselineName, direct, {
    ...notes,
    overhead_ms: {
      p50: overhead.p50,
      p95: overhead.p95,
      p99: overhead.p99,
      mean: overhead.mean,
      min: overhead.min,
      max: overhead.max,
    },
  });
  if (withTarget) {
    f.notes = {
      ...f.notes,
      target: TARGET,
      target_met: {
        p50: overhead.p50 <= TARGET.overhead_p50_ms,
        p99: overhead.p99 <= TARGET.overhead_p99_ms,
      },
    };
  }
  log(
    `  ${name}: tendon p50 ${round(f.value.p50)} ms, direct p50 ${round(f.baseline!.value.p50)} ms, ` +
      `overhead p50 ${overhead.p50} / p95 ${overhead.p95} / p99 ${overhead.p99} ms (n ${overhead.n})`,
  );
  return f;
}

export async function benchTtft(opts: { smoke: boolean }): Promise<Figure[]> {
  const infra = await resolveInfra({});
  try {
    const b = await startBenchStack({
      natsUrl: infra.natsUrl,
      adminDbUrl: infra.databaseUrl,
      tag: "ttft",
    });
    try {
      const warmup = opts.smoke ? 1 : 5;
      const n = opts.smoke ? 3 : 100;
      const figures: Figure[] = [];
      for (const firstTokenMs of [0, 200]) {
        log(`time to first token, model first token ${firstTokenMs} ms…`);
        const s = await series(b, firstTokenMs, warmup, n);
        const notes = {
          mock_first_token_ms: firstTokenMs,
          warmup_turns_excluded: warmup,
          session: "one session, one user.message per sample, idle between samples",
        };
        figures.push(
          overheadFigure(
            `time to first token via Tendon (SSE event_delta), model first token ${firstTokenMs} ms`,
            "SDK straight to the model, same request (first text delta)",
            s,
            (t) => t.firstToken,
            notes,
            true,
          ),
          overheadFigure(
            `time to the stored agent.message via Tendon, model first token ${firstTokenMs} ms`,
            "SDK straight to the model, same request (whole message)",
            s,
            (t) => t.message,
            notes,
            false,
          ),
        );
      }
      return figures;
    } finally {
      await b.stop();
    }
  } finally {
    await infra.stop();
  }
}
