/**
 * Keeps the benchmarks working: runs their smoke sizes and checks each wrote its figures, each
 * with a baseline and a ratio. Never asserts on times.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@tendon/cli";
import { spawnProcess } from "@tendon/testing";
import { expect, it } from "vitest";

it("runs every benchmark at smoke size and writes results with baselines", async () => {
  const run = await spawnProcess({
    name: "bench",
    command: process.execPath,
    args: [join(REPO_ROOT, "bench/dist/run.js"), "--smoke"],
    env: { NATS_URL: process.env.NATS_URL!, DATABASE_URL: process.env.DATABASE_URL! },
  });
  const exit = await run.exited;
  expect(exit.code, run.lines().slice(-20).join("\n")).toBe(0);
  const results = JSON.parse(readFileSync(join(REPO_ROOT, "bench/results/sandbox.smoke.json"), "utf8")) as {
    figures: Array<{ name: string; baseline?: unknown; ratio?: { p50: number } }>;
  };
  expect(results.figures.length).toBeGreaterThanOrEqual(4);
  for (const f of results.figures) {
    expect(f.baseline, f.name).toBeDefined();
    expect(Number.isFinite(f.ratio?.p50), f.name).toBe(true);
  }
}, 300_000);
