/**
 * Sandboxes and hands, each against a baseline measured in the same run:
 *
 * 1. Sandbox cold start (bubblewrap `process` provider, until the hand is ready) vs spawning
 *    `/bin/true` (the floor of any process-based sandbox).
 * 2. Warm `execute` round trip (bash `echo` on a provisioned sandbox, through NATS, the hand's
 *    execution records and the sandbox's stdio) vs a bare NATS request/reply on the same connection.
 * 3. Time to first event (POST user.message → first `agent.message` on the SSE stream) with lazy
 *    vs eager provisioning, for bubblewrap and for a slow provider (300 ms and 4 s starts ± jitter).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { createBus } from "@tendon/bus";
import { createApiKey, startStack } from "@tendon/cli";
import { SandboxManager, sandboxHandName } from "@tendon/contracts";
import { createMockModel } from "@tendon/mock-model";
import { randomIds, silentLogger, systemClock } from "@tendon/runtime";
import { createProcessProvider } from "@tendon/sandbox";
import { createSandboxManager } from "@tendon/sandbox-manager";
import { cleanupNats, createDatabase, resolveInfra, uniquePrefix } from "@tendon/testing";
import { compare, type Figure, log, time } from "./stats.js";

export interface SandboxBenchOptions {
  smoke: boolean;
}

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn("/bin/true", { stdio: "ignore" });
    p.on("error", reject);
    p.on("exit", () => resolve());
  });
}

async function coldStart(n: number): Promise<Figure> {
  const dir = mkdtempSync(join(tmpdir(), "tendon-bench-sbx-"));
  const provider = createProcessProvider({ baseDir: dir });
  const starts: number[] = [];
  const spawns: number[] = [];
  try {
    await (await provider.create({ id: "warmup" })).kill();
    for (let i = 0; i < n; i++) {
      spawns.push((await time(spawnTrue)).ms);
      const { ms, value: sandbox } = await time(() => provider.create({ id: `cold-${i}` }));
      starts.push(ms);
      await sandbox.kill();
    }
  } finally {
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return compare(
    "sandbox cold start (bubblewrap, until the hand is ready)",
    "ms",
    starts,
    "spawn /bin/true",
    spawns,
  );
}

async function warmExecute(natsUrl: string, n: number): Promise<Figure[]> {
  const prefix = uniquePrefix("bench");
  const dir = mkdtempSync(join(tmpdir(), "tendon-bench-exec-"));
  const bus = await createBus({ servers: natsUrl, prefix, name: "bench-exec" });
  const provider = createProcessProvider({ baseDir: dir });
  const manager = createSandboxManager({
    bus,
    provider,
    clock: systemClock,
    log: silentLogger,
    config: { instanceId: "bench", idleMs: 600_000, reapEveryMs: 600_000 },
  });
  const echo = bus.nc.subscribe(`${prefix}.bench.echo`, {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  try {
    await manager.start();
    const sessionId = randomIds.next("session");
    await bus.request(SandboxManager.provision, { session_id: sessionId, environment: null });
    const payload = new TextEncoder().encode(
      JSON.stringify({ v: 1, tool: "bash", input: { command: "echo hi" } }),
    );
    const exec: number[] = [];
    const rr: number[] = [];
    const call = (i: number) =>
      bus.executeOnHand(sandboxHandName(sessionId), {
        v: 1,
        tool_use_id: `sevt_bench${String(i).padStart(6, "0")}${randomIds.next("event").slice(5, 15)}`,
        session_id: sessionId,
        tool: "bash",
        input: { command: "echo hi" },
        deadline_ms: 30_000,
      });
    for (let i = 0; i < 5; i++) await call(-i - 1);
    for (let i = 0; i < n; i++) {
      rr.push((await time(() => bus.nc.request(`${prefix}.bench.echo`, payload, { timeout: 5_000 }))).ms);
      const r = await time(() => call(i));
      if (r.value.status !== "completed" || r.value.result.is_error) throw new Error("bench execute failed");
      exec.push(r.ms);
    }
    // Decomposition: the same call straight on a sandbox, without NATS or execution records.
    const direct: number[] = [];
    const sandbox = await provider.create({ id: "direct" });
    for (let i = 0; i < n; i++) {
      direct.push(
        (await time(() => sandbox.execute({ id: `d${i}`, name: "bash", input: { command: "echo hi" } }))).ms,
      );
    }
    await sandbox.kill();
    return [
      compare("warm execute round trip (bash echo via NATS hand)", "ms", exec, "bare NATS request/reply", rr),
      compare(
        "warm execute round trip (bash echo via NATS hand)",
        "ms",
        exec,
        "same call on the sandbox directly (stdio)",
        direct,
        {
          part: "how much of the round trip is the hand layer (NATS + execution records)",
        },
      ),
    ];
  } finally {
    echo.unsubscribe();
    await manager.stop();
    await bus.close();
    await cleanupNats(natsUrl, prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Variant {
  label: string;
  delayMs: number;
  jitterMs: number;
}

async function firstEvent(
  natsUrl: string,
  adminDbUrl: string,
  variants: Variant[],
  sessions: number,
  parallel: number,
): Promise<Figure[]> {
  const db = await createDatabase(adminDbUrl);
  const prefix = uniquePrefix("ttfe");
  const mock = createMockModel();
  await mock.start();
  const stack = await startStack({
    natsUrl,
    databaseUrl: db.url,
    prefix,
    harnessWorkers: 1,
    sandboxManagers: 0,
    env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: "bench", LOG_LEVEL: "warn" },
  });
  const figures: Figure[] = [];
  try {
    const { key } = await createApiKey({ natsUrl, prefix, name: "bench" });
    const client = new Anthropic({ baseURL: stack.url, apiKey: key, maxRetries: 0 });
    const model = "bench-ttfe";
    mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "Looking." },
            { type: "tool_use", name: "bash", input: { command: "echo hi" } },
          ],
        },
        { content: [{ type: "text", text: "Done." }] },
      ],
    });
    const agent = await client.beta.agents.create({
      name: "bench",
      model,
      tools: [{ type: "agent_toolset_20260401" }],
    });
    for (const v of variants) {
      const manager = await stack.startService("sandbox-manager", {
        TENDON_SANDBOX_START_DELAY_MS: String(v.delayMs),
        TENDON_SANDBOX_START_JITTER_MS: String(v.jitterMs),
      });
      const results: Record<"lazy" | "eager", number[]> = { lazy: [], eager: [] };
      for (const mode of ["lazy", "eager"] as const) {
        const env = await client.beta.environments.create({
          name: `${v.label}-${mode}-${Date.now()}`,
          config: {
            type: "cloud",
            provisioning: mode,
          } as unknown as Anthropic.Beta.Environments.BetaCloudConfigParams,
        });
        const one = async () => {
          const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
          const stream = await client.beta.sessions.events.stream(session.id);
          const t0 = performance.now();
          await client.beta.sessions.events.send(session.id, {
            events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
          });
          let first: number | undefined;
          for await (const e of stream) {
            if (e.type === "agent.message" && first === undefined) first = performance.now() - t0;
            if (e.type === "session.status_idle" && e.stop_reason.type !== "requires_action") break;
          }
          if (first === undefined) throw new Error("no agent.message");
          results[mode].push(first);
        };
        for (let i = 0; i < sessions; i += parallel) {
          await Promise.all(Array.from({ length: Math.min(parallel, sessions - i) }, one));
        }
      }
      const f = compare(
        `time to first event, lazy provisioning (${v.label})`,
        "ms",
        results.lazy,
        `eager provisioning (${v.label})`,
        results.eager,
        {
          provider_start_delay_ms: v.delayMs,
          provider_start_jitter_ms: v.jitterMs,
        },
      );
      const reduction = (a: number, b: number) => Math.round((1 - a / b) * 1000) / 10;
      f.notes = {
        ...f.notes,
        reduction_percent: {
          p50: reduction(f.value.p50, f.baseline!.value.p50),
          p95: reduction(f.value.p95, f.baseline!.value.p95),
        },
        anthropic_reported_reduction_percent: { p50: 60, p95: 90 },
      };
      figures.push(f);
      log(`  ${f.name}: lazy p50 ${f.value.p50} ms, eager p50 ${f.baseline!.value.p50} ms`);
      await manager.stop(10_000);
    }
  } finally {
    await stack.stop();
    await mock.stop();
    await cleanupNats(natsUrl, prefix);
    await db.drop();
  }
  return figures;
}

export async function benchSandbox(opts: SandboxBenchOptions): Promise<Figure[]> {
  const infra = await resolveInfra({});
  try {
    const n = opts.smoke ? 3 : 20;
    log("sandbox cold start…");
    const figures = [await coldStart(n)];
    log("warm execute…");
    figures.push(...(await warmExecute(infra.natsUrl, opts.smoke ? 10 : 200)));
    log("time to first event, lazy vs eager…");
    const variants: Variant[] = opts.smoke
      ? [{ label: "bubblewrap", delayMs: 0, jitterMs: 0 }]
      : [
          { label: "bubblewrap", delayMs: 0, jitterMs: 0 },
          { label: "slow provider 300 ms", delayMs: 300, jitterMs: 100 },
          { label: "slow provider 4 s", delayMs: 4_000, jitterMs: 1_000 },
        ];
    figures.push(
      ...(await firstEvent(
        infra.natsUrl,
        infra.databaseUrl,
        variants,
        opts.smoke ? 2 : 20,
        opts.smoke ? 1 : 4,
      )),
    );
    return figures;
  } finally {
    await infra.stop();
  }
}
