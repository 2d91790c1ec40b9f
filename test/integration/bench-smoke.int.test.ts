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
  const started = Date.now();
  const run = await spawnProcess({
    name: "bench",
    command: process.execPath,
    args: [join(REPO_ROOT, "bench/dist/run.js"), "--smoke"],
    env: { NATS_URL: process.env.NATS_URL!, DATABASE_URL: process.env.DATABASE_URL! },
  });
  const exit = await run.exited;
  expect(exit.code, run.lines().slice(-20).join("\n")).toBe(0);
  const minFigures = { sandbox: 4, ttft: 4, append: 3, wake: 1, recovery: 3, scaling: 5 };
  for (const [name, min] of Object.entries(minFigures)) {
    const results = JSON.parse(readFileSync(join(REPO_ROOT, `bench/results/${name}.smoke.json`), "utf8")) as {
      finished_at: string;
      figures: Array<{ name: string; baseline?: unknown; ratio?: { p50: number } }>;
    };
    expect(Date.parse(results.finished_at), `${name} wrote this run`).toBeGreaterThanOrEqual(started);
    expect(results.figures.length, name).toBeGreaterThanOrEqual(min);
    for (const f of results.figures) {
      expect(f.baseline, f.name).toBeDefined();
      expect(Number.isFinite(f.ratio?.p50), f.name).toBe(true);
    }
  }
}, 420_000);
