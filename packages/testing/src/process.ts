/**
 * Managed child processes: services under test, nats-server, postgres, and `tendon dev`.
 *
 * Invariants:
 * - The child's environment is exactly `opts.env` plus PATH and HOME from this process
 *   (`opts.env` wins); nothing else leaks from the parent.
 * - stdout and stderr are split into lines and kept in memory, bounded to the last
 *   `maxLines` (default 5,000). They reach this process's stderr only when
 *   `TENDON_TEST_VERBOSE=1`, and any `onLine` callback sees every line.
 * - `spawnProcess` resolves only once the child has started and, with `ready`, printed a line
 *   matching it; otherwise the child is killed and the promise rejects with its last lines.
 * - `exited` always settles (never rejects). `stop()` is idempotent: signal, then SIGKILL after
 *   the timeout. A child still running when this process exits is SIGKILLed (safety net).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { inheritedChildEnv, isVerbose } from "./config.js";

export interface SpawnOptions {
  /** Label for errors and verbose output. */
  name: string;
  command: string;
  args: string[];
  /** The child's variables; PATH and HOME are added from this process unless given here. */
  env?: Record<string, string>;
  cwd?: string;
  /** Resolve only once a stdout/stderr line matches this. */
  ready?: RegExp;
  /** How long to wait for `ready`. Default 15,000 ms. */
  readyTimeoutMs?: number;
  /** Called with every output line (e.g. `tendon dev` forwards them to its terminal). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** How many lines to keep in memory. Default 5,000. */
  maxLines?: number;
  /** Run as this user/group (e.g. postgres when this process is root). */
  uid?: number;
  gid?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** A copy of the captured output lines (the last `maxLines`). */
  lines(): string[];
  /** Resolves with the first captured line (already seen or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal (default SIGTERM) if the child is still running. */
  kill(signal?: NodeJS.Signals): void;
  /** True until the child has exited. */
  running(): boolean;
  /** Settles once the child has exited and its output has been read. */
  readonly exited: Promise<ProcessExit>;
  /** Sends `signal` (default SIGTERM) plus SIGCONT, then SIGKILL after `timeoutMs` (default 5,000). */
  stop(timeoutMs?: number, signal?: NodeJS.Signals): Promise<void>;
}

/** Live children, SIGKILLed if this process exits while they still run. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  live.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const c of live) {
      try {
        c.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** Starts a child process with captured output; see the module invariants. */
export async function spawnProcess(opts: SpawnOptions): Promise<ManagedProcess> {
  const maxLines = opts.maxLines ?? 5_000;
  const verbose = isVerbose();
  const buffer: string[] = [];
  const listeners = new Set<(line: string) => void>();

  const child = spawn(opts.command, opts.args, {
    env: { ...inheritedChildEnv(), ...opts.env },
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    uid: opts.uid,
    gid: opts.gid,
  });

  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) =>
      reject(new Error(`${opts.name}: failed to start ${opts.command}: ${err.message}`)),
    );
  });
  trackChild(child);
  // Later errors (e.g. a failed kill) must not crash the process; exit is observed below.
  child.on("error", () => {});

  const onLine = (line: string, stream: "stdout" | "stderr") => {
    buffer.push(line);
    if (buffer.length > maxLines) buffer.splice(0, buffer.length - maxLines);
    if (verbose) process.stderr.write(`[${opts.name}] ${line}\n`);
    opts.onLine?.(line, stream);
    for (const l of listeners) l(line);
  };
  let openStreams = 0;
  let streamsClosed: () => void = () => {};
  const allClosed = new Promise<void>((resolve) => {
    streamsClosed = resolve;
  });
  for (const [stream, name] of [
    [child.stdout, "stdout"],
    [child.stderr, "stderr"],
  ] as const) {
    if (!stream) continue;
    openStreams++;
    const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    rl.on("line", (line) => onLine(line, name));
    rl.on("close", () => {
      if (--openStreams === 0) streamsClosed();
    });
  }
  if (openStreams === 0) streamsClosed();

  let isRunning = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      isRunning = false;
      live.delete(child);
      // Grandchildren may hold the pipes open; give the reader a moment, not forever.
      const grace = setTimeout(() => resolve({ code, signal }), 200);
      void allClosed.then(() => {
        clearTimeout(grace);
        resolve({ code, signal });
      });
    });
  });

  const pid = child.pid;
  if (pid === undefined) throw new Error(`${opts.name}: started without a pid`);

  const kill = (signal: NodeJS.Signals = "SIGTERM") => {
    if (!isRunning) return;
    try {
      child.kill(signal);
    } catch {
      // raced with exit
    }
  };

  const waitForLine = (re: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const seen = buffer.find((l) => re.test(l));
      if (seen !== undefined) {
        resolve(seen);
        return;
      }
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (line: string) => {
        if (!re.test(line)) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${opts.name}: no output line matched ${re} within ${timeoutMs} ms${tail(buffer)}`));
      }, timeoutMs);
      listeners.add(listener);
      void exited.then((exit) => {
        if (!listeners.has(listener)) return;
        cleanup();
        reject(
          new Error(
            `${opts.name}: exited (${describeExit(exit)}) before printing a line matching ${re}${tail(buffer)}`,
          ),
        );
      });
    });

  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 5_000, signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    stopping ??= (async () => {
      if (!isRunning) return;
      kill(signal);
      kill("SIGCONT"); // a SIGSTOPped child only acts on the signal once continued
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        kill("SIGKILL");
        await exited;
      }
    })();
    return stopping;
  };

  const managed: ManagedProcess = {
    name: opts.name,
    pid,
    lines: () => [...buffer],
    waitForLine,
    kill,
    running: () => isRunning,
    exited,
    stop,
  };

  if (opts.ready) {
    try {
      await waitForLine(opts.ready, opts.readyTimeoutMs ?? 15_000);
    } catch (err) {
      kill("SIGKILL");
      await exited;
      throw err;
    }
  }
  return managed;
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

function tail(lines: string[], n = 20): string {
  if (lines.length === 0) return " (no output)";
  return `; last output:\n${lines.slice(-n).join("\n")}`;
}
