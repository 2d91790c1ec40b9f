#!/usr/bin/env node
/**
 * The `tendon` command: parses the command word, runs it, and turns every failure into one
 * sentence on stderr and an exit status (see errors.ts).
 */
import { loadCliEnv } from "./config.js";
import type { Ctx } from "./context.js";
import { CliError, EXIT } from "./errors.js";
import { HELP } from "./help.js";
import { processTerm } from "./term.js";

const RESOURCE_NAMES = ["agents", "environments", "sessions", "vaults"];
const OPS_COMMANDS = ["dev", "migrate", "keys", "hand", "db", "credentials", "nats-config"];

async function main(argv: string[], ctx: Ctx): Promise<number | "running"> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    // Each command is loaded on demand: the SDK, NATS and Postgres clients cost seconds to import.
    case "run":
      return (await import("./run.js")).runCommand(ctx, rest);
    case "tail":
      return (await import("./tail.js")).tailCommand(ctx, rest);
    case "bench":
      return (await import("./bench.js")).benchCommand(ctx, rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return help(ctx, rest[0]);
    default:
      if (RESOURCE_NAMES.includes(cmd))
        return (await import("./resources.js")).resourceCommand(ctx, cmd, rest);
      if (OPS_COMMANDS.includes(cmd)) {
        if (rest.includes("--help") || rest.includes("-h")) return help(ctx);
        return (await import("./ops.js")).opsCommand(ctx, cmd, rest);
      }
      ctx.err.write(`tendon: unknown command "${cmd}"\n\n${HELP}\n`);
      return EXIT.usage;
  }
}

async function help(ctx: Ctx, topic?: string): Promise<number> {
  if (topic === "run") ctx.out.write(`${(await import("./run.js")).RUN_HELP}\n`);
  else if (topic === "tail") ctx.out.write(`${(await import("./tail.js")).TAIL_HELP}\n`);
  else if (topic === "bench") ctx.out.write(`${(await import("./bench.js")).BENCH_HELP}\n`);
  else if (topic && RESOURCE_NAMES.includes(topic))
    return (await import("./resources.js")).resourceCommand(ctx, topic, ["--help"]);
  else ctx.out.write(`${HELP}\n`);
  return EXIT.ok;
}

// A closed pipe (`tendon run --json … | head`) ends the command quietly.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(EXIT.ok);
  throw err;
});

const env = loadCliEnv(process.env);
const handlers = new Set<() => void>();
process.on("SIGINT", () => {
  if (handlers.size === 0) process.exit(EXIT.interrupted);
  for (const h of [...handlers]) h();
});
const ctx: Ctx = {
  env,
  out: processTerm(process.stdout, env.color),
  err: processTerm(process.stderr, env.color),
  onInterrupt(fn) {
    handlers.add(fn);
    return () => handlers.delete(fn);
  },
};

main(process.argv.slice(2), ctx).then(
  (code) => {
    // Long-running commands (dev, hand serve) exit from their signal handlers.
    if (code !== "running") process.exitCode = code;
    if (code !== "running") exitWhenFlushed(code);
  },
  (err: unknown) => {
    const e = err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err));
    process.stderr.write(`tendon: ${e.message}\n`);
    exitWhenFlushed(e.exitCode);
  },
);

/** Exits once stdout has drained (a pipe to jq must get every line), without waiting on timers. */
function exitWhenFlushed(code: number): void {
  if (process.stdout.writableLength === 0) process.exit(code);
  process.stdout.once("drain", () => process.exit(code));
}
