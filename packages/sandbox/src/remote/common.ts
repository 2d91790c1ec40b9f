/**
 * What the docker and kubernetes providers share: the sandbox image's layout, spec validation, and
 * the hand's configuration (its only argument: nothing secret, it is visible in the sandbox).
 *
 * Invariants:
 * - The tools' environment is built from fixed values, `spec.env` (non-secret by contract) and the
 *   egress proxy variables; nothing of the provider's own environment reaches a sandbox.
 * - A sandbox without `spec.egress` gets no egress configuration at all (and no network).
 */
import type { HandConfig } from "../hand/protocol.js";
import {
  EGRESS_CA_BUNDLE,
  EGRESS_CA_CERT,
  EGRESS_SOCKET,
  egressEnv,
  type SandboxLimits,
  type SandboxSpec,
} from "../provider.js";

/** Where the `sandbox` target of the root Dockerfile puts the hand runtime. */
export const IMAGE_HAND_ENTRY = "/opt/tendon/sandbox/dist/hand/main.js";
export const DEFAULT_SANDBOX_IMAGE = "tendon/sandbox:dev";
export const REMOTE_WORKDIR = "/workspace";
/** The uid/gid of the image's `node` user. */
export const SANDBOX_USER = 1000;
export const DEFAULT_EGRESS_PORT = 3128;
export const HAND_MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Processes the hand runtime itself needs on top of the tools' allowance. */
export const HAND_PROCESS_ALLOWANCE = 32;
const TOOL_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** Labels every remote sandbox carries, so a provider can find and reap what it (or a dead predecessor) made. */
export const LABEL_SANDBOX = "tendon.dev/sandbox";
export const LABEL_SANDBOX_ID = "tendon.dev/sandbox-id";
export const LABEL_MANAGER = "tendon.dev/manager";

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(["BASH_ENV"]);

export function validateRemoteSpec(spec: SandboxSpec): void {
  if (!ID_PATTERN.test(spec.id)) throw new Error(`sandbox id must match ${ID_PATTERN}`);
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(k) || RESERVED_ENV.has(k)) throw new Error(`sandbox env name not allowed: ${k}`);
    if (typeof v !== "string" || v.includes("\0"))
      throw new Error(`sandbox env ${k} must be a string without NUL`);
  }
}

/** How the hand reaches the egress proxy: a socket bound in (docker) or a TCP relay (kubernetes). */
export type RemoteEgress = { socket: true } | { relay: string; caPem: string };

export function remoteHandConfig(
  spec: SandboxSpec,
  limits: SandboxLimits,
  egress?: RemoteEgress,
): HandConfig {
  const port = spec.egress?.port ?? DEFAULT_EGRESS_PORT;
  const toolEnv: Record<string, string> = {
    PATH: TOOL_PATH,
    HOME: REMOTE_WORKDIR,
    LANG: "C.UTF-8",
    TMPDIR: "/tmp",
    USER: "node",
    LOGNAME: "node",
    SHELL: "/bin/bash",
    ...spec.env,
    ...(spec.egress && egress ? egressEnv(port) : {}),
  };
  const config: HandConfig = {
    workdir: REMOTE_WORKDIR,
    maxOutputBytes: limits.maxOutputBytes,
    toolEnv,
    reapStrays: true,
    maxLineBytes: HAND_MAX_LINE_BYTES,
  };
  if (spec.egress && egress) {
    config.egress =
      "socket" in egress
        ? { socket: EGRESS_SOCKET, port }
        : {
            relay: egress.relay,
            port,
            ca: {
              pem: egress.caPem,
              certPath: EGRESS_CA_CERT,
              bundlePath: EGRESS_CA_BUNDLE,
              systemBundle: SYSTEM_BUNDLE,
            },
          };
  }
  return config;
}

/** `p`, or a rejection after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not ready within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
