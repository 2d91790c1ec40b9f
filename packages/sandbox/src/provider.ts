/**
 * The provider interface for disposable sandboxes ("hands are cattle") and the types every provider shares.
 *
 * Invariants:
 * - `Sandbox.execute()` resolves for every tool-level failure (non-zero exit, timeout, bad path, a limit
 *   hit) with `{ is_error: true }`; it rejects only with {@link SandboxDeadError}, when the sandbox itself
 *   is gone or dies during the call. The caller turns that into a tool error and provisions a new sandbox.
 * - `kill()` is idempotent and leaves no process and no private file of the sandbox behind.
 * - Limits are always complete after {@link resolveLimits}: providers never see a partial set.
 */

import type { z } from "zod";
import { type ContentBlock, ToolNameSchema } from "./hand/protocol.js";

/** The agent toolset's tools (the schema lives in the hand protocol, which both sides share). */
export type ToolName = z.infer<typeof ToolNameSchema>;

export const TOOL_NAMES: readonly ToolName[] = ToolNameSchema.options;

export interface ToolCall {
  id: string;
  name: ToolName;
  input: Record<string, unknown>;
  /** wall-clock budget for this call */
  timeoutMs?: number;
}

/** `{ type: "text", text }` or `{ type: "image", source: { type: "base64", media_type, data } }`. */
export type ToolResultBlock = ContentBlock;

export interface ToolResult {
  content: ToolResultBlock[];
  is_error: boolean;
}

export interface SandboxLimits {
  /** CPU seconds per tool process (RLIMIT_CPU; the persistent shell counts as one process). */
  cpuSeconds: number;
  /** Memory of the whole sandbox (cgroup) or, where no cgroup can be made, address space per tool process. */
  memoryBytes: number;
  /** Processes and threads the tools may run at once (on top of a fixed allowance for the hand runtime). */
  maxProcesses: number;
  /** Bytes of text in one tool result; longer output is cut with a note. */
  maxOutputBytes: number;
  /** Default wall-clock budget of one call when the call does not bring its own. */
  callTimeoutMs: number;
  /** Size of the writable workdir (/workspace); /tmp and /dev/shm get a quarter each. */
  diskBytes: number;
}

/**
 * Defaults, chosen for one agent session doing ordinary coding work:
 * - cpuSeconds 600: ten minutes of CPU per tool process is far beyond a build or a test run, yet ends
 *   a runaway loop;
 * - memoryBytes 1 GiB: enough for a TypeScript build or a test run; the hand runtime itself takes ~50 MB;
 * - maxProcesses 256: a parallel build fits, a fork bomb does not;
 * - maxOutputBytes 100 KiB: the agent toolset's own bash/grep output cap (the model reads it all);
 * - callTimeoutMs 120 s: the agent toolset's bash default;
 * - diskBytes 1 GiB: a checkout plus dependencies of a mid-sized project.
 */
export const DEFAULT_LIMITS: SandboxLimits = Object.freeze({
  cpuSeconds: 600,
  memoryBytes: 1024 * 1024 * 1024,
  maxProcesses: 256,
  maxOutputBytes: 100 * 1024,
  callTimeoutMs: 120_000,
  diskBytes: 1024 * 1024 * 1024,
});

export interface SandboxSpec {
  id: string;
  limits?: Partial<SandboxLimits>;
  /** extra NON-secret env vars for tool processes */
  env?: Record<string, string>;
  /**
   * The sandbox's only way out: a unix socket (on the host) leading to the egress proxy. Inside,
   * the hand serves it as an HTTP proxy on 127.0.0.1:`port`, and the tools' environment points
   * HTTP(S)_PROXY at it and trusts the proxy's CA.
   */
  egress?: EgressSpec;
}

export interface EgressSpec {
  /** Host path of the unix socket (connectable by any uid: sandboxes run unprivileged). */
  socketPath: string;
  /** Host paths of the proxy's CA certificate and of the system bundle plus that CA. */
  caCertPath: string;
  caBundlePath: string;
  /** Port of the in-sandbox proxy listener. @default 3128 */
  port?: number;
}

/** Where egress appears inside a sandbox. */
export const EGRESS_SOCKET = "/run/tendon/egress.sock";
export const EGRESS_CA_CERT = "/etc/tendon/egress-ca.pem";
export const EGRESS_CA_BUNDLE = "/etc/tendon/ca-bundle.pem";

/** The tools' environment for egress through the in-sandbox proxy listener. */
export function egressEnv(port: number): Record<string, string> {
  const proxy = `http://127.0.0.1:${port}`;
  return {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    ALL_PROXY: proxy,
    NO_PROXY: "",
    SSL_CERT_FILE: EGRESS_CA_BUNDLE,
    CURL_CA_BUNDLE: EGRESS_CA_BUNDLE,
    REQUESTS_CA_BUNDLE: EGRESS_CA_BUNDLE,
    GIT_SSL_CAINFO: EGRESS_CA_BUNDLE,
    NODE_EXTRA_CA_CERTS: EGRESS_CA_CERT,
    // No credential is ever in the sandbox: git must fail instead of waiting for one to be typed.
    GIT_TERMINAL_PROMPT: "0",
  };
}

/** `execute()` on a sandbox that died or was killed, or one that died during the call. */
export class SandboxDeadError extends Error {
  override readonly name = "SandboxDeadError";
}

export interface Sandbox {
  readonly id: string;
  readonly provider: string;
  readonly alive: boolean;
  /**
   * Runs one tool call. Tool failures (non-zero exit, timeout, bad path, limits hit) resolve as
   * `{ is_error: true }` with a clear message; it rejects only with SandboxDeadError when the sandbox
   * itself is gone (or dies during the call).
   */
  execute(call: ToolCall, opts?: { signal?: AbortSignal }): Promise<ToolResult>;
  ping(timeoutMs?: number): Promise<boolean>;
  /** Kills the whole process tree and removes the sandbox's private files. Idempotent. */
  kill(): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SandboxProvider {
  readonly name: string;
  create(spec: SandboxSpec): Promise<Sandbox>;
  close(): Promise<void>;
}

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const POSITIVE_INT_LIMITS: readonly (keyof SandboxLimits)[] = [
  "cpuSeconds",
  "memoryBytes",
  "maxProcesses",
  "maxOutputBytes",
  "callTimeoutMs",
  "diskBytes",
];

/** Merges limits over the defaults, later layers winning; throws on a value that is not a positive integer. */
export function resolveLimits(...layers: (Partial<SandboxLimits> | undefined)[]): SandboxLimits {
  const out: SandboxLimits = { ...DEFAULT_LIMITS };
  for (const layer of layers) {
    if (!layer) continue;
    for (const key of POSITIVE_INT_LIMITS) {
      const v = layer[key];
      if (v === undefined) continue;
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw new RangeError(`sandbox limit ${key} must be a positive integer, got ${String(v)}`);
      }
      out[key] = v;
    }
  }
  return out;
}
