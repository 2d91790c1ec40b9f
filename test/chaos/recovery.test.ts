/**
 * Recovery after a harness worker SIGKILL, measured where the machine is not saturated: the chaos
 * run (chaos.test.ts) drives 50 sessions with a sandbox each, which keeps this 2-core machine at a
 * load average near 15, and reports the same figures under that load.
 *
 * Each round starts SESSIONS sessions whose model answer streams for a few seconds, waits until
 * all are inside their model call, SIGKILLs the worker holding the most of them, and records the
 * time from the kill to each orphaned session's next event (the new holder's model request) and
 * to the lease takeover. Production lease settings (services' config.ts defaults): heartbeat
 * 300 ms, lease TTL 1200 ms, sweep every 200 ms after 300 ms of quiet, presence probes.
 * Figures go to bench/results/recovery.json; nothing asserts on time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogReader, workerIdOf } from "../support/log.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const ROUNDS = Number(process.env.TENDON_RECOVERY_ROUNDS || 5);
const SESSIONS = Number(process.env.TENDON_RECOVERY_SESSIONS || 8);

let t: TestStack;
let logs: LogReader;
beforeAll(async () => {
  t = await startTestStack({ harnessWorkers: 3 });
  logs = new LogReader(t.databaseUrl);
}, 120_000);
afterAll(async () => {
  await logs?.close();
  await t?.stop();
});

const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? null;

describe("recovery after a worker SIGKILL", () => {
  it("every orphaned session moves on, and the time to its next event is reported", async () => {
    const env = await t.client.beta.environments.create({ name: "recovery" });
    const words = Array.from({ length: 120 }, (_, i) => `w${i}`).join(" ");
    const nextEvent: number[] = [];
    const takeover: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ids: string[] = [];
      for (let i = 0; i < SESSIONS; i++) {
        const model = `recovery-${round}-${i}`;
        // A stream of ~3.6 s: long enough that the kill lands inside it.
        t.mock.script(model, {
          steps: [
            { content: [{ type: "text", text: words }], latency: { first_token_ms: 50, per_token_ms: 30 } },
          ],
          repeat_last: true,
        });
        const agent = await t.client.beta.agents.create({ name: model, model });
        const s = await t.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
        await t.client.beta.sessions.events.send(s.id, {
          events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
        });
        ids.push(s.id);
      }
      const inCall = async () => {
        for (const id of ids) {
          const types = (await logs.events(id)).map((e) => e.type);
          if (types.at(-1) !== "span.model_request_start") return false;
        }
        return true;
      };
      await waitFor(inCall, { timeoutMs: 30_000, message: "every session inside its model call" });
      const owners = await logs.owners(ids);
      const counts = new Map<string, number>();
      for (const { owner } of owners.values()) if (owner) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      const [victimId] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
      const victim = t.stack.harness.find((p) => workerIdOf(p) === victimId)!;
      const orphans = ids.filter((id) => owners.get(id)?.owner === victimId);
      const killedAt = Date.now();
      victim.kill("SIGKILL");
      await victim.exited;
      t.stack.harness.splice(t.stack.harness.indexOf(victim), 1);
      const replacement = t.stack.startService("harness-worker");
      const pending = new Set(orphans);
      const tookOver = new Set<string>();
      await waitFor(
        async () => {
          const now = await logs.owners(orphans);
          for (const id of orphans) {
            if (!tookOver.has(id) && now.get(id)!.epoch > owners.get(id)!.epoch) {
              tookOver.add(id);
              takeover.push(Date.now() - killedAt);
            }
          }
          for (const id of [...pending]) {
            const at = await logs.firstEventAfter(id, new Date(killedAt));
            if (at) {
              nextEvent.push(at.getTime() - killedAt);
              pending.delete(id);
            }
          }
          return pending.size === 0 && tookOver.size === orphans.length;
        },
        { timeoutMs: 60_000, intervalMs: 10, message: "every orphaned session moved on" },
      );
      await replacement;
      // The round's sessions finish before the next round starts.
      await waitFor(
        async () => {
          for (const id of ids) if ((await logs.lease(id)).status !== "idle") return false;
          return true;
        },
        { timeoutMs: 60_000, message: "the round's sessions finished" },
      );
    }
    nextEvent.sort((a, b) => a - b);
    takeover.sort((a, b) => a - b);
    const figures = {
      benchmark: "recovery-after-sigkill",
      rounds: ROUNDS,
      sessions_per_round: SESSIONS,
      settings: { heartbeat_ms: 300, lease_ttl_ms: 1200, sweep_interval_ms: 200, sweep_grace_ms: 300 },
      next_event_ms: {
        samples: nextEvent.length,
        p50: pct(nextEvent, 50),
        p95: pct(nextEvent, 95),
        max: nextEvent.at(-1),
      },
      takeover_ms: {
        samples: takeover.length,
        p50: pct(takeover, 50),
        p95: pct(takeover, 95),
        max: takeover.at(-1),
      },
    };
    mkdirSync("bench/results", { recursive: true });
    writeFileSync("bench/results/recovery.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`recovery after SIGKILL: ${JSON.stringify(figures)}`);
    expect(nextEvent.length).toBeGreaterThanOrEqual(ROUNDS);
  });
});
