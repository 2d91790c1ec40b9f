/**
 * The bounded chaos run CI does (50 sessions); `pnpm chaos` runs 500. Knobs:
 * TENDON_CHAOS_SEED (default: random, printed), TENDON_CHAOS_SESSIONS (50),
 * TENDON_CHAOS_CONCURRENCY (50), TENDON_CHAOS_MODEL_FAULT_RATE (0.15),
 * TENDON_CHAOS_DEADLINE_S (max(240, 3 x sessions)), TENDON_CHAOS_SCHEDULE (JSON, replaces the seeded faults),
 * TENDON_CHAOS_SERVICE_LOG (file for every service's log lines), TENDON_CHAOS_LOG_LEVEL.
 * The report goes to bench/results/chaos-<sessions>.json.
 */
import { describe, expect, it } from "vitest";
import { runChaos, writeReport } from "./run.js";

const num = (name: string, dflt: number) => {
  const v = process.env[name];
  return v === undefined || v === "" ? dflt : Number(v);
};

const SESSIONS = num("TENDON_CHAOS_SESSIONS", 50);
// 50 sessions at a time take about a minute here; the deadline leaves room for a slow machine.
const DEADLINE_S = num("TENDON_CHAOS_DEADLINE_S", Math.max(240, SESSIONS * 3));

describe("chaos", () => {
  it("kill anything, lose nothing: 0 violations over every session's history", {
    timeout: (DEADLINE_S + 300) * 1000,
  }, async () => {
    const seed = num("TENDON_CHAOS_SEED", Math.floor(Math.random() * 2 ** 31));
    const sessions = SESSIONS;
    console.log(`chaos: seed ${seed} (replay with TENDON_CHAOS_SEED=${seed})`);
    const report = await runChaos({
      seed,
      sessions,
      concurrency: num("TENDON_CHAOS_CONCURRENCY", Math.min(sessions, 50)),
      modelFaultRate: num("TENDON_CHAOS_MODEL_FAULT_RATE", 0.15),
      deadlineMs: DEADLINE_S * 1000,
      log: (m) => process.stderr.write(`[chaos] ${m}\n`),
      // A fixed schedule (JSON [{atMs, kind}]) instead of the seeded one, to study one fault.
      ...(process.env.TENDON_CHAOS_SCHEDULE
        ? { schedule: JSON.parse(process.env.TENDON_CHAOS_SCHEDULE) }
        : {}),
    });
    const path = writeReport(`chaos-${sessions}`, report);
    const { schedule: _, violations, ...summary } = report;
    console.log(`chaos report (${path}): ${JSON.stringify({ ...summary, violations: violations.length })}`);
    for (const v of violations.slice(0, 20)) console.log(`violation: ${JSON.stringify(v)}`);
    expect(violations).toEqual([]);
    expect(report.completed).toBe(sessions);
    expect(report.takeoverMs.samples).toBeGreaterThan(0);
  });
});
