#!/usr/bin/env node
/**
 * `pnpm bench [names...] [--smoke]`: runs benchmarks, writes bench/results/<name>.json, and
 * regenerates BENCHMARKS.md from the full (non-smoke) results.
 */
import { parseArgs } from "node:util";
import { benchAppend } from "./append.js";
import { benchRecovery } from "./recovery.js";
import { writeBenchmarksMd } from "./report.js";
import { benchSandbox } from "./sandbox.js";
import { benchScaling } from "./scaling.js";
import { type Figure, log, machine, writeResults } from "./stats.js";
import { benchTtft } from "./ttft.js";
import { benchWake } from "./wake.js";

const BENCHMARKS: Record<string, (o: { smoke: boolean }) => Promise<Figure[]>> = {
  sandbox: benchSandbox,
  ttft: benchTtft,
  append: benchAppend,
  wake: benchWake,
  recovery: benchRecovery,
  scaling: benchScaling,
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { smoke: { type: "boolean" } },
});
const smoke = values.smoke === true;
const names = positionals.length > 0 ? positionals : Object.keys(BENCHMARKS);
for (const n of names)
  if (!BENCHMARKS[n])
    throw new Error(`unknown benchmark "${n}"; known: ${Object.keys(BENCHMARKS).join(", ")}`);

for (const name of names) {
  const started = new Date().toISOString();
  log(`== ${name}${smoke ? " (smoke)" : ""}`);
  const figures = await BENCHMARKS[name]!({ smoke });
  const path = writeResults({
    benchmark: name,
    started_at: started,
    finished_at: new Date().toISOString(),
    smoke,
    machine: machine(),
    figures,
  });
  log(`   wrote ${path}`);
}
if (!smoke) log(`wrote ${writeBenchmarksMd()}`);
