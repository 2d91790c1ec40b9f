#!/usr/bin/env node
// Runs the whole test suite (after a build and a type check of the tests) and ends with one line CI can read:
// "N passed, N failed". Exit code is vitest's.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
const build = spawnSync("pnpm", ["typecheck"], { stdio: "inherit" });
if (build.status !== 0) {
  console.log("0 passed, 1 failed");
  process.exit(build.status ?? 1);
}
mkdirSync("test-results", { recursive: true });
const out = "test-results/vitest.json";
const run = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...args],
  { stdio: "inherit" },
);
let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(out, "utf8"));
  passed = r.numPassedTests ?? 0;
  // Failed tests, plus files that failed without a failing test (they did not load or a hook threw).
  const brokenFiles = (r.testResults ?? []).filter(
    (f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  failed = (r.numFailedTests ?? 0) + brokenFiles;
} catch {
  failed = 1;
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(run.status ?? 1);
