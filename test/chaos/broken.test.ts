/**
 * The checker must catch a broken build. The session-log runs with TENDON_UNSAFE_DISABLE_FENCING
 * (harness appends skip the lease-epoch check and their idempotency keys are scoped to the
 * writer's epoch), and workers are frozen (SIGSTOP) mid-stream or mid-tool past their lease, then
 * thawed: another worker has redone their step by then, and the thawed one's stale writes land.
 * The same run with fencing on is the chaos suite itself (chaos.test.ts), which must find nothing.
 */
import { describe, expect, it } from "vitest";
import { runChaos } from "./run.js";

describe("chaos checker against a broken build", () => {
  it("fencing disabled: the stale worker's writes are reported as violations", async () => {
    const seed = Number(process.env.TENDON_CHAOS_SEED || Math.floor(Math.random() * 2 ** 31));
    console.log(`broken build: seed ${seed}`);
    const report = await runChaos({
      seed,
      sessions: 10,
      concurrency: 10,
      modelFaultRate: 0,
      deadlineMs: 90_000,
      log: (m) => process.stderr.write(`[broken] ${m}\n`),
      sessionLogEnv: { TENDON_UNSAFE_DISABLE_FENCING: "1" },
      schedule: [1_000, 3_500, 6_000, 8_500, 11_000].map((atMs) => ({ atMs, kind: "stop_harness" as const })),
    });
    const rules = [...new Set(report.violations.map((v) => v.rule))];
    console.log(`broken build: ${report.violations.length} violations (${rules.join(", ")})`);
    for (const v of report.violations.slice(0, 5)) console.log(`violation: ${JSON.stringify(v)}`);
    // What a stale writer leaves behind: a step's output or a tool's result twice.
    expect(rules.some((r) => r === "duplicate" || r === "model_output" || r === "tool_resolution")).toBe(
      true,
    );
  });
});
