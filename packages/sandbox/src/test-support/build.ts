/**
 * Test support: makes sure `dist/hand/` is built from the current sources before a test starts real
 * sandboxes (the hand runs as plain JS inside them). Runs `tsc -b` for this package when any source file
 * is newer than the build; test files running in parallel take a lock so only one of them builds.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { waitFor } from "@tendon/testing";
import { PACKAGE_ROOT } from "../bwrap/hand-files.js";

const LOCK = path.join(os.tmpdir(), "tendon-sandbox-hand-build.lock");

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  let built: number;
  try {
    built = statSync(path.join(PACKAGE_ROOT, "dist", "hand", "main.js")).mtimeMs;
  } catch {
    return true;
  }
  return newestSource(path.join(PACKAGE_ROOT, "src", "hand")) > built;
}

export async function ensureHandBuilt(): Promise<void> {
  if (!isStale()) return;
  try {
    mkdirSync(LOCK);
  } catch {
    // Someone else is building (or crashed while building: a lock older than 5 minutes is stale).
    await waitFor(
      () => {
        try {
          if (Date.now() - statSync(LOCK).mtimeMs > 300_000) rmSync(LOCK, { recursive: true, force: true });
          return false;
        } catch {
          return !isStale() || ensureHandBuilt().then(() => true);
        }
      },
      { timeoutMs: 180_000, intervalMs: 100, message: "another test file to build the hand runtime" },
    );
    return;
  }
  try {
    const require = createRequire(path.join(PACKAGE_ROOT, "package.json"));
    const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), "bin", "tsc");
    await promisify(execFile)(process.execPath, [tsc, "-b", PACKAGE_ROOT], { cwd: PACKAGE_ROOT });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
