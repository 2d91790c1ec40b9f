/**
 * A whole Tendon stack for one test file: its own database and NATS prefix on the shared (or
 * locally started) servers, the mock model in-process, and every service as its own process.
 * `stop()` removes everything it created.
 */
import Anthropic from "@anthropic-ai/sdk";
import { type Bus, createBus } from "@tendon/bus";
import { createApiKey, type Stack, type StackOptions, startStack } from "@tendon/cli";
import { createMockModel, type MockModel } from "@tendon/mock-model";
import { cleanupNats, createDatabase, type Infra, resolveInfra, uniquePrefix } from "@tendon/testing";
import { afterAll, beforeAll } from "vitest";

export interface TestStack {
  client: Anthropic;
  apiKey: string;
  mock: MockModel;
  stack: Stack;
  prefix: string;
  natsUrl: string;
  databaseUrl: string;
  /** A client for another gateway of the stack (or a new API key). */
  clientFor(baseURL: string): Anthropic;
  /** The stack's bus, for inspecting internals (sandboxes, hands) in assertions. */
  bus(): Promise<Bus>;
  stop(): Promise<void>;
}

export interface TestStackOptions
  extends Partial<
    Pick<StackOptions, "harnessWorkers" | "gateways" | "sessionLogs" | "sandboxManagers" | "serviceEnv">
  > {
  env?: Record<string, string>;
}

/** Fast timings for tests; production defaults are in each service's config.ts. */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: process.env.TENDON_TEST_LOG_LEVEL ?? "warn",
  HARNESS_MODEL_BACKOFF_BASE_MS: "20",
  HARNESS_MODEL_BACKOFF_MAX_MS: "100",
  HARNESS_MODEL_MAX_RETRIES: "3",
  TENDON_SSE_PING_MS: "2000",
};

let infraPromise: Promise<Infra> | undefined;
function infra(): Promise<Infra> {
  infraPromise ??= resolveInfra({});
  return infraPromise;
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const inf = await infra();
  const db = await createDatabase(inf.databaseUrl);
  const prefix = uniquePrefix();
  const mock = createMockModel();
  await mock.start();
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      natsUrl: inf.natsUrl,
      databaseUrl: db.url,
      prefix,
      ...(opts.harnessWorkers !== undefined ? { harnessWorkers: opts.harnessWorkers } : {}),
      ...(opts.gateways !== undefined ? { gateways: opts.gateways } : {}),
      ...(opts.sessionLogs !== undefined ? { sessionLogs: opts.sessionLogs } : {}),
      ...(opts.sandboxManagers !== undefined ? { sandboxManagers: opts.sandboxManagers } : {}),
      ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
      env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: "mock-key", ...TEST_ENV, ...opts.env },
      ...(process.env.TENDON_TEST_VERBOSE === "1"
        ? { onLine: (s: string, l: string) => process.stderr.write(`[${s}] ${l}\n`) }
        : {}),
    });
    const { key } = await createApiKey({ natsUrl: inf.natsUrl, prefix, name: "test" });
    const clientFor = (baseURL: string) =>
      new Anthropic({ baseURL, apiKey: key, maxRetries: 0, timeout: 30_000 });
    const started = stack;
    let bus: Promise<Bus> | undefined;
    return {
      client: clientFor(stack.url),
      apiKey: key,
      mock,
      stack,
      prefix,
      natsUrl: inf.natsUrl,
      databaseUrl: db.url,
      clientFor,
      bus: () => {
        bus ??= createBus({ servers: inf.natsUrl, prefix, name: "test-inspector" });
        return bus;
      },
      async stop() {
        if (bus) await (await bus).close();
        await started.stop();
        await mock.stop();
        await cleanupNats(inf.natsUrl, prefix);
        await db.drop();
      },
    };
  } catch (err) {
    await stack?.stop();
    await mock.stop();
    await cleanupNats(inf.natsUrl, prefix).catch(() => {});
    await db.drop().catch(() => {});
    throw err;
  }
}

export interface StackFixture {
  readonly t: TestStack;
  readonly client: Anthropic;
  /** An environment created for the file (cloud unless `environment` says otherwise). */
  readonly environmentId: string;
}

/**
 * One stack for the test file: started before its tests, stopped after them. Read the fields
 * inside tests (they are set in `beforeAll`).
 */
export function useTestStack(
  opts: TestStackOptions & { environment?: Anthropic.Beta.Environments.EnvironmentCreateParams } = {},
): StackFixture {
  let stack: TestStack | undefined;
  let environmentId: string | undefined;
  beforeAll(async () => {
    stack = await startTestStack(opts);
    const env = await stack.client.beta.environments.create(
      opts.environment ?? { name: `env-${Math.random().toString(36).slice(2, 10)}` },
    );
    environmentId = env.id;
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is only available inside tests (after beforeAll)`);
    return v;
  };
  return {
    get t() {
      return need(stack, "the stack");
    },
    get client() {
      return need(stack, "the stack").client;
    },
    get environmentId() {
      return need(environmentId, "the environment");
    },
  };
}
