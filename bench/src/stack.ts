/**
 * A Tendon stack for one benchmark: its own database and NATS prefix on the shared servers, the
 * mock model in this process (so the times it records share this process's clock), every service
 * as its own process with production settings, an API key and an SDK client. `stop()` removes
 * everything it created, and a failed start removes what it got to.
 *
 * Also: a session's SSE stream read one event at a time, so a benchmark can time each turn on one
 * long-lived stream.
 */
import Anthropic from "@anthropic-ai/sdk";
import { createApiKey, type Stack, type StackOptions, startStack } from "@tendon/cli";
import { createMockModel, type MockModel, type MockModelOptions } from "@tendon/mock-model";
import { cleanupNats, createDatabase, uniquePrefix } from "@tendon/testing";

export interface BenchStack {
  stack: Stack;
  mock: MockModel;
  /** The SDK against the gateway. */
  client: Anthropic;
  /** The SDK straight against the mock model (the baseline of anything that reaches a model). */
  direct: Anthropic;
  prefix: string;
  natsUrl: string;
  /** This benchmark's own database. */
  databaseUrl: string;
  stop(): Promise<void>;
}

export interface BenchStackOptions
  extends Pick<StackOptions, "harnessWorkers" | "sandboxManagers" | "serviceEnv"> {
  natsUrl: string;
  /** Admin URL of the Postgres server; the stack gets a database of its own on it. */
  adminDbUrl: string;
  /** Tags the NATS prefix, e.g. "ttft". */
  tag: string;
  mock?: MockModelOptions;
}

export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const db = await createDatabase(opts.adminDbUrl);
  const prefix = uniquePrefix(opts.tag);
  const mock = createMockModel(opts.mock);
  let stack: Stack | undefined;
  try {
    await mock.start();
    stack = await startStack({
      natsUrl: opts.natsUrl,
      databaseUrl: db.url,
      prefix,
      harnessWorkers: opts.harnessWorkers ?? 1,
      sandboxManagers: opts.sandboxManagers ?? 0,
      ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
      env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: "bench", LOG_LEVEL: "warn" },
    });
    const { key } = await createApiKey({ natsUrl: opts.natsUrl, prefix, name: "bench" });
    const started = stack;
    return {
      stack,
      mock,
      client: new Anthropic({ baseURL: stack.url, apiKey: key, maxRetries: 0, timeout: 60_000 }),
      direct: new Anthropic({ baseURL: mock.url, apiKey: "bench", maxRetries: 0, timeout: 60_000 }),
      prefix,
      natsUrl: opts.natsUrl,
      databaseUrl: db.url,
      async stop() {
        await started.stop();
        await mock.stop();
        await cleanupNats(opts.natsUrl, prefix);
        await db.drop();
      },
    };
  } catch (err) {
    await stack?.stop();
    await mock.stop();
    await cleanupNats(opts.natsUrl, prefix).catch(() => {});
    await db.drop().catch(() => {});
    throw err;
  }
}

type StreamEvent = Anthropic.Beta.Sessions.BetaManagedAgentsStreamSessionEvents;

/** One session's SSE stream, read event by event across many turns. */
export interface SessionReader {
  /** The next event; throws if the stream ends or an event does not arrive within `timeoutMs`. */
  next(timeoutMs?: number): Promise<StreamEvent>;
  close(): void;
}

export async function readSession(
  client: Anthropic,
  sessionId: string,
  params: Anthropic.Beta.Sessions.EventStreamParams = {},
): Promise<SessionReader> {
  const stream = await client.beta.sessions.events.stream(sessionId, params);
  const it = stream[Symbol.asyncIterator]();
  return {
    async next(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const r = await Promise.race([it.next(), timeout]);
        if (r.done) throw new Error("the session's stream ended");
        return r.value;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => stream.controller.abort(),
  };
}

/** True for the idle that ends a turn (not one that waits for the client). */
export function isTurnEnd(e: StreamEvent): boolean {
  return e.type === "session.status_idle" && e.stop_reason.type !== "requires_action";
}
