/**
 * Recovery after a harness worker SIGKILL, checked where the machine is not saturated: every
 * orphaned session moves on to a new holder. The chaos run (chaos.test.ts) drives 50 sessions with
 * a sandbox each, which keeps this 2-core machine at a load average near 15, and reports the same
 * figures under that load.
 *
 * The measurement (rounds of sessions inside a streamed model answer, the worker holding most of
 * them SIGKILLed, a replacement started) is `recoveryRound` from @tendon/bench, the same code
 * `pnpm bench recovery` runs for BENCHMARKS.md. Production lease settings (services' config.ts
 * defaults). The figures are printed; nothing asserts on time.
 */
import { LogProbe, recoveryRound, summarize } from "@tendon/bench";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/stack.js";

const ROUNDS = Number(process.env.TENDON_RECOVERY_ROUNDS || 5);
const SESSIONS = Number(process.env.TENDON_RECOVERY_SESSIONS || 8);

let t: TestStack;
let logs: LogProbe;
beforeAll(async () => {
  t = await startTestStack({ harnessWorkers: 3 });
  logs = new LogProbe(t.databaseUrl);
}, 120_000);
afterAll(async () => {
  await logs?.close();
  await t?.stop();
});

describe("recovery after a worker SIGKILL", () => {
  it("every orphaned session moves on, and the time to its next event is reported", async () => {
    const env = await t.client.beta.environments.create({ name: "recovery" });
    const nextEvent: number[] = [];
    const takeover: number[] = [];
    let orphans = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await recoveryRound(t, logs, {
        signal: "SIGKILL",
        sessions: SESSIONS,
        environmentId: env.id,
        tag: `${round}`,
      });
      orphans += r.orphans;
      nextEvent.push(...r.nextEventMs);
      takeover.push(...r.takeoverMs);
    }
    console.log(
      `recovery after SIGKILL (${ROUNDS} rounds × ${SESSIONS} sessions): ${JSON.stringify({
        next_event_ms: summarize(nextEvent),
        takeover_ms: summarize(takeover),
      })}`,
    );
    // Every orphan of every round moved on (recoveryRound waits for that), one sample each.
    expect(nextEvent.length).toBe(orphans);
    expect(takeover.length).toBe(orphans);
    expect(orphans).toBeGreaterThanOrEqual(ROUNDS);
  });
});
