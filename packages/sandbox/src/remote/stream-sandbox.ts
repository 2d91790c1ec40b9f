/**
 * A sandbox whose hand runs somewhere else (a container, a pod) and speaks the hand protocol over a
 * pair of streams: the docker provider's attach stream, the kubernetes provider's exec websocket.
 * The host side of ./../hand/protocol.ts, without the process provider's cgroups and pids.
 *
 * Invariants:
 * - Calls run one at a time, in order; each call's deadline (its budget plus `graceMs`) starts when
 *   it is sent. Pings bypass the queue.
 * - `execute` resolves for everything the hand answers (re-validated and re-capped here: the hand is
 *   untrusted) and rejects only with SandboxDeadError: the sandbox was gone, died during the call,
 *   or missed the deadline (then it is killed first).
 * - A malformed or oversized line, or a second `ready`, is a protocol violation: the sandbox is killed.
 * - `kill()` is idempotent: it ends the streams, runs `destroy` (remove the container or pod) once,
 *   and settles `exited` after that.
 */
import type { Readable, Writable } from "node:stream";
import { LineSplitter } from "../hand/lines.js";
import {
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

export interface StreamSandboxOptions {
  id: string;
  provider: string;
  /** provider → hand (the hand's stdin). */
  input: Writable;
  /** hand → provider (the hand's stdout, demultiplexed). */
  output: Readable;
  limits: SandboxLimits;
  log: LogFn;
  /** Removes what runs the hand (container, pod). Called once, by kill(). */
  destroy: () => Promise<void>;
  /** How long past a call's budget to wait before killing the sandbox. */
  graceMs: number;
  maxLineBytes: number;
}

export class StreamSandbox implements Sandbox {
  readonly id: string;
  readonly provider: string;
  /** Resolves once the hand said `ready`; rejects if the streams end first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #opts: StreamSandboxOptions;
  #alive = true;
  #isReady = false;
  #deathReason: string | undefined;
  #queue: Promise<void> = Promise.resolve();
  #seq = 0;
  #pending = new Map<string, { resolve: (m: ResultMessage) => void; reject: (e: Error) => void }>();
  #pongs = new Map<string, (ok: boolean) => void>();
  #killing: Promise<void> | undefined;
  #markExited!: () => void;

  constructor(opts: StreamSandboxOptions) {
    this.#opts = opts;
    this.id = opts.id;
    this.provider = opts.provider;
    this.exited = new Promise((resolve) => {
      this.#markExited = () => resolve({ code: null, signal: null });
    });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    this.ready.catch(() => undefined);
    const splitter = new LineSplitter({
      maxLineBytes: opts.maxLineBytes,
      onOverflow: () => this.#violation("a line from the hand was too long"),
      onLine: (line) => {
        if (line.trim() === "") return;
        const decoded = decodeLine(FromHandMessageSchema, line);
        if (!decoded.ok) return this.#violation(`malformed line: ${decoded.error}`);
        const msg = decoded.value;
        if (msg.type === "ready") {
          if (this.#isReady) return this.#violation("a second ready");
          this.#isReady = true;
          onReady();
        } else if (msg.type === "pong") {
          this.#pongs.get(msg.id)?.(true);
        } else {
          this.#pending.get(msg.id)?.resolve(msg);
        }
      },
    });
    opts.output.on("data", (chunk: Buffer) => splitter.push(chunk));
    const gone = () => {
      onFail(new Error(this.#deathReason ?? "the hand's stream ended before it was ready"));
      void this.#die(this.#deathReason ?? "the sandbox's hand exited");
    };
    opts.output.on("end", gone);
    opts.output.on("close", gone);
    opts.output.on("error", (e) => {
      this.#deathReason ??= `the hand's stream failed: ${e.message}`;
      gone();
    });
    opts.input.on("error", () => undefined);
  }

  get alive(): boolean {
    return this.#alive;
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
    return this.#die("the sandbox was killed");
  }

  #die(reason: string): Promise<void> {
    this.#killing ??= (async () => {
      this.#deathReason ??= reason;
      this.#alive = false;
      const err = this.#deadError();
      for (const p of this.#pending.values()) p.reject(err);
      for (const pong of this.#pongs.values()) pong(false);
      this.#opts.input.end();
      try {
        await this.#opts.destroy();
      } catch (e) {
        this.#opts.log("warn", "sandbox left behind", { sandbox: this.id, error: (e as Error).message });
      } finally {
        this.#markExited();
      }
    })();
    return this.#killing;
  }

  async #run(call: ToolCall, signal: AbortSignal | undefined): Promise<ToolResult> {
    if (!this.#alive) throw this.#deadError();
    const name = ToolNameSchema.safeParse(call.name);
    if (!name.success) return errorResult(`unknown tool ${String(call.name)}`);
    if (typeof call.input !== "object" || call.input === null || Array.isArray(call.input)) {
      return errorResult(`${call.name}: input must be an object`);
    }
    if (signal?.aborted) return errorResult(`${call.name}: the call was cancelled`);
    const limits = this.#opts.limits;
    const budget =
      call.timeoutMs !== undefined && Number.isFinite(call.timeoutMs) && call.timeoutMs > 0
        ? Math.ceil(call.timeoutMs)
        : limits.callTimeoutMs;
    const wireId = `${++this.#seq}:${call.id}`.slice(0, 256);
    const line = encodeMessage({
      type: "call",
      id: wireId,
      name: name.data,
      input: call.input,
      timeout_ms: budget,
    });
    const size = Buffer.byteLength(line, "utf8");
    if (size > this.#opts.maxLineBytes) {
      return errorResult(
        `${call.name}: input too large (${size} bytes; the limit is ${this.#opts.maxLineBytes})`,
      );
    }
    const answer = new Promise<ResultMessage>((resolve, reject) => {
      this.#pending.set(wireId, { resolve, reject });
    });
    const deadline = setTimeout(() => {
      void this.#die(
        `the hand did not answer call ${call.id} within its ${budget} ms budget + ${this.#opts.graceMs} ms; the sandbox was killed`,
      );
    }, budget + this.#opts.graceMs);
    const onAbort = () => this.#send({ type: "cancel", id: wireId });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      this.#opts.input.write(line);
      const msg = await answer;
      return { content: truncateContent(msg.content, limits.maxOutputBytes), is_error: msg.is_error };
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(wireId);
    }
  }

  #send(msg: ToHandMessage): void {
    if (this.#alive) this.#opts.input.write(encodeMessage(msg));
  }

  #violation(reason: string): void {
    this.#opts.log("warn", "sandbox broke the hand protocol; killing it", { sandbox: this.id, reason });
    void this.#die(`protocol violation: ${reason}`);
  }

  #deadError(): SandboxDeadError {
    return new SandboxDeadError(`sandbox ${this.id}: ${this.#deathReason ?? "the sandbox is gone"}`);
  }
}

function errorResult(text: string): ToolResult {
  return { content: [{ type: "text", text }], is_error: true };
}
