/**
 * One running `process` sandbox: the host side of the hand protocol over the launcher's stdio.
 *
 * Invariants:
 * - Calls run one at a time, in the order `execute` was called; each call's deadline (its budget plus
 *   a grace period, 5 s by default) starts when it is sent, not while it waits its turn. Pings bypass the queue.
 * - `execute` resolves for everything the hand answers (the answer is re-validated and re-capped here:
 *   the hand is inside the sandbox and untrusted) and rejects only with SandboxDeadError: the sandbox
 *   was gone before, died during the call, or missed the deadline (then it is killed first).
 * - A malformed line, an oversized line, or a second `ready` from the hand is a protocol violation: the
 *   sandbox is killed.
 * - When a cgroup is in use, a call during which the sandbox hit its memory or process limit is reported
 *   as an error with a note saying which limit.
 * - `kill()` is idempotent; it and `exited` settle only after the process tree is gone, the cgroup is
 *   removed and the private directory deleted.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import type { Readable } from "node:stream";
import { LineSplitter } from "../hand/lines.js";
import {
  type ContentBlock,
  decodeLine,
  encodeMessage,
  FromHandMessageSchema,
  type ResultMessage,
  type ToHandMessage,
  ToolNameSchema,
} from "../hand/protocol.js";
import { truncateContent } from "../hand/truncate.js";
import {
  type LogFn,
  type Sandbox,
  SandboxDeadError,
  type SandboxLimits,
  type ToolCall,
  type ToolResult,
} from "../provider.js";
import type { CgroupCounters, SandboxCgroup } from "./cgroups.js";

export interface ProcessSandboxInit {
  id: string;
  /** The launcher; its stdio[3] is bwrap's --info-fd. */
  child: ChildProcessWithoutNullStreams;
  limits: SandboxLimits;
  /** The sandbox's private host directory, removed on exit. */
  dir: string;
  cgroup: SandboxCgroup | undefined;
  /** The host uid the sandbox runs as (undefined: the provider's own). */
  hostUid: number | undefined;
  log: LogFn;
  /** How long past a call's budget to wait for the answer before killing the sandbox. */
  deadlineGraceMs: number;
  /** Longest request line the hand accepts (it exits on a longer one). */
  maxRequestBytes: number;
  /** Runs once after the process tree is gone and the files are removed. */
  onGone: () => void;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

const STDERR_TAIL_BYTES = 4096;

export class ProcessSandbox implements Sandbox {
  readonly provider = "process";
  readonly id: string;
  readonly dir: string;
  readonly hostUid: number | undefined;
  /** Host pid of the launcher (bwrap's outer process). */
  readonly pid: number | undefined;
  readonly exited: Promise<Exit>;
  /** Resolves at the hand's ready line; rejects if the sandbox ends first. */
  readonly ready: Promise<void>;

  readonly #child: ChildProcessWithoutNullStreams;
  readonly #limits: SandboxLimits;
  readonly #cgroup: SandboxCgroup | undefined;
  readonly #log: LogFn;
  readonly #graceMs: number;
  readonly #maxRequestBytes: number;
  readonly #pending = new Map<string, { resolve: (m: ResultMessage) => void; reject: (e: Error) => void }>();
  readonly #pongs = new Map<string, (ok: boolean) => void>();
  #alive = true;
  #isReady = false;
  #deathReason: string | undefined;
  #stderrTail = "";
  #queue: Promise<void> = Promise.resolve();
  #seq = 0;
  #killing: Promise<void> | undefined;
  /** Host pid of the PID namespace's init (bwrap's inner process), from --info-fd. */
  #initPid: number | undefined;

  constructor(init: ProcessSandboxInit) {
    this.id = init.id;
    this.dir = init.dir;
    this.hostUid = init.hostUid;
    this.pid = init.child.pid;
    this.#child = init.child;
    this.#limits = init.limits;
    this.#cgroup = init.cgroup;
    this.#log = init.log;
    this.#graceMs = init.deadlineGraceMs;
    this.#maxRequestBytes = init.maxRequestBytes;

    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);

    const splitter = new LineSplitter({
      maxLineBytes: 8 * init.limits.maxOutputBytes + 1024 * 1024,
      onOverflow: () => this.#violation("a line from the hand exceeded the size limit"),
      onLine: (line) => {
        if (line.trim() === "") return;
        const decoded = decodeLine(FromHandMessageSchema, line);
        if (!decoded.ok) return this.#violation(`malformed line from the hand: ${decoded.error}`);
        const msg = decoded.value;
        if (msg.type === "ready") {
          if (this.#isReady) return this.#violation("a second ready line");
          this.#isReady = true;
          markReady();
        } else if (msg.type === "pong") {
          this.#pongs.get(msg.id)?.(true);
        } else {
          const waiter = this.#pending.get(msg.id);
          if (!waiter) return this.#log("debug", "sandbox answered an unknown call", { sandbox: this.id });
          this.#pending.delete(msg.id);
          waiter.resolve(msg);
        }
      },
    });
    init.child.stdout.on("data", (chunk: Buffer) => splitter.push(chunk));
    init.child.stderr.on("data", (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    const info = init.child.stdio[3] as Readable | null | undefined;
    if (info) {
      let text = "";
      info.on("data", (d: Buffer) => {
        text = (text + d.toString("utf8")).slice(0, 4096);
        const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
        if (m) this.#initPid = Number(m[1]);
      });
      info.on("error", () => undefined);
    }
    // EPIPE after the sandbox died: the close handler below reports it.
    init.child.stdin.on("error", () => undefined);

    this.exited = new Promise<Exit>((resolve) => {
      let finished = false;
      const finish = (exit: Exit) => {
        if (finished) return;
        finished = true;
        this.#alive = false;
        this.#deathReason ??=
          exit.signal !== null
            ? `the sandbox was killed by ${exit.signal}`
            : `the sandbox exited with code ${exit.code}`;
        const err = new SandboxDeadError(`sandbox ${this.id}: ${this.#deathReason}`);
        if (this.#killing === undefined) {
          this.#log("warn", "sandbox died", {
            sandbox: this.id,
            reason: this.#deathReason,
            stderr: this.#stderrTail.slice(-500),
          });
        }
        failReady(err);
        for (const waiter of this.#pending.values()) waiter.reject(err);
        this.#pending.clear();
        for (const pong of this.#pongs.values()) pong(false);
        void this.#cleanUp().then(() => {
          init.onGone();
          resolve(exit);
        });
      };
      init.child.on("close", (code, signal) => finish({ code, signal }));
      init.child.on("error", (e) => {
        this.#deathReason ??= `the sandbox could not start: ${e.message}`;
        finish({ code: null, signal: null });
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** The last few KB the launcher and the hand wrote to stderr (bwrap's own errors land here). */
  get stderrTail(): string {
    return this.#stderrTail;
  }

  execute(call: ToolCall, opts?: { signal?: AbortSignal }): Promise<ToolResult> {
    if (!this.#alive) return Promise.reject(this.#deadError());
    const prev = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((r) => {
      release = r;
    });
    return prev.then(() => this.#run(call, opts?.signal)).finally(release);
  }

  async ping(timeoutMs = 5_000): Promise<boolean> {
    if (!this.#alive || !this.#isReady) return false;
    const id = `ping-${++this.#seq}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        this.#pongs.set(id, resolve);
        timer = setTimeout(() => resolve(false), timeoutMs);
        this.#send({ type: "ping", id });
      });
    } finally {
      clearTimeout(timer);
      this.#pongs.delete(id);
    }
  }

  kill(): Promise<void> {
    this.#killing ??= (async () => {
      this.#deathReason ??= "the sandbox was killed";
      this.#alive = false;
      // Kill the PID namespace's init first (that takes every process of the namespace with it): the
      // launcher then reaps it and exits. Killing the launcher first would orphan the init to the host's
      // PID 1, leaving a zombie until that reaps it.
      if (!this.#killInit()) this.#killLauncher();
      const fallback = setTimeout(() => this.#killLauncher(), 2_000);
      try {
        await this.exited;
      } finally {
        clearTimeout(fallback);
      }
    })();
    return this.#killing;
  }

  #killLauncher(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** SIGKILLs the namespace init if it is still the launcher's child; false if it could not. */
  #killInit(): boolean {
    const pid = this.#initPid;
    if (pid === undefined || this.pid === undefined || this.#child.exitCode !== null) return false;
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== this.pid) return false;
      process.kill(pid, "SIGKILL");
      return true;
    } catch {
      return false;
    }
  }

  /** Kills the sandbox with a reason that its pending calls will carry. */
  killBecause(reason: string): Promise<void> {
    if (this.#alive) this.#log("warn", "killing sandbox", { sandbox: this.id, reason });
    this.#deathReason ??= reason;
    return this.kill();
  }

  async #run(call: ToolCall, signal: AbortSignal | undefined): Promise<ToolResult> {
    if (!this.#alive) throw this.#deadError();
    const name = ToolNameSchema.safeParse(call.name);
    if (!name.success) return errorResult(`unknown tool ${String(call.name)}`);
    if (typeof call.input !== "object" || call.input === null || Array.isArray(call.input)) {
      return errorResult(`${call.name}: input must be an object`);
    }
    if (signal?.aborted) return errorResult(`${call.name}: the call was cancelled`);
    const budget =
      call.timeoutMs !== undefined && Number.isFinite(call.timeoutMs) && call.timeoutMs > 0
        ? Math.ceil(call.timeoutMs)
        : this.#limits.callTimeoutMs;

    const wireId = `${++this.#seq}:${call.id}`.slice(0, 256);
    const line = encodeMessage({
      type: "call",
      id: wireId,
      name: name.data,
      input: call.input,
      timeout_ms: budget,
    });
    const size = Buffer.byteLength(line, "utf8");
    if (size > this.#maxRequestBytes) {
      return errorResult(
        `${call.name}: input too large (${size} bytes; the limit is ${this.#maxRequestBytes})`,
      );
    }
    const before = await this.#counters();
    const answer = new Promise<ResultMessage>((resolve, reject) => {
      this.#pending.set(wireId, { resolve, reject });
    });
    const deadline = setTimeout(() => {
      void this.killBecause(
        `the hand did not answer call ${call.id} within its ${budget} ms budget + ${this.#graceMs} ms; the sandbox was killed`,
      );
    }, budget + this.#graceMs);
    const onAbort = () => this.#send({ type: "cancel", id: wireId });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (this.#alive) this.#child.stdin.write(line);
      const msg = await answer;
      const content: ContentBlock[] = truncateContent(msg.content, this.#limits.maxOutputBytes);
      let isError = msg.is_error;
      const after = await this.#counters();
      if (before && after) {
        if (after.oomKills > before.oomKills) {
          isError = true;
          content.push({
            type: "text",
            text: `[sandbox: the memory limit (${this.#limits.memoryBytes} bytes) was hit and a process was killed]`,
          });
        }
        if (after.pidsMax > before.pidsMax) {
          isError = true;
          content.push({
            type: "text",
            text: `[sandbox: the process limit (${this.#limits.maxProcesses}) was hit and forks failed]`,
          });
        }
      }
      return { content, is_error: isError };
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(wireId);
    }
  }

  async #counters(): Promise<CgroupCounters | undefined> {
    if (!this.#cgroup) return undefined;
    try {
      return await this.#cgroup.counters();
    } catch {
      return undefined;
    }
  }

  #send(msg: ToHandMessage): void {
    if (!this.#alive) return;
    this.#child.stdin.write(encodeMessage(msg));
  }

  #violation(reason: string): void {
    this.#log("warn", "sandbox broke the hand protocol; killing it", { sandbox: this.id, reason });
    void this.killBecause(`protocol violation: ${reason}`);
  }

  #deadError(): SandboxDeadError {
    return new SandboxDeadError(`sandbox ${this.id}: ${this.#deathReason ?? "the sandbox is gone"}`);
  }

  async #cleanUp(): Promise<void> {
    if (this.#cgroup) {
      const problem = await this.#cgroup.destroy();
      if (problem) this.#log("warn", "sandbox cgroup left behind", { sandbox: this.id, problem });
    }
    try {
      await fs.rm(this.dir, { recursive: true, force: true });
    } catch (e) {
      this.#log("warn", "sandbox directory left behind", { sandbox: this.id, error: (e as Error).message });
    }
  }
}

function errorResult(text: string): ToolResult {
  return { content: [{ type: "text", text }], is_error: true };
}
