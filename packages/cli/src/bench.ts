/**
 * `tendon bench [names...] [--smoke]`: runs the repository's benchmarks (bench/dist/run.js, what
 * `pnpm bench` runs after building) in this terminal and exits with their status.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Ctx } from "./context.js";
import { CliError, EXIT } from "./errors.js";

/** The repository root (this file lives in packages/cli/{src,dist}); stack.ts is too heavy to import. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export const BENCH_HELP = `tendon bench [names...] [--smoke] — run the benchmarks

Runs bench/dist/run.js: each named benchmark (default: all of sandbox, ttft, append, wake) against
a stack of its own on NATS_URL / DATABASE_URL (or local ones it starts), writes
bench/results/<name>.json and regenerates BENCHMARKS.md (from full-size results only). --smoke
runs small sizes. Needs "pnpm build" first.`;

export function benchCommand(ctx: Ctx, args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    ctx.out.write(`${BENCH_HELP}\n`);
    return Promise.resolve(EXIT.ok);
  }
  const entry = join(REPO_ROOT, "bench", "dist", "run.js");
  if (!existsSync(entry)) throw new CliError(`${entry} is missing: run "pnpm build" in ${REPO_ROOT} first`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { stdio: "inherit", cwd: REPO_ROOT });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    const remove = ctx.onInterrupt(() => forward("SIGINT"));
    child.on("error", (err) => {
      remove();
      reject(new CliError(`cannot start the benchmarks: ${err.message}`));
    });
    child.on("exit", (code, signal) => {
      remove();
      resolve(code ?? (signal ? EXIT.interrupted : EXIT.failed));
    });
  });
}
