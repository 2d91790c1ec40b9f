/**
 * The container the docker provider makes for one sandbox, as a pure function of the spec (unit
 * tested without an engine).
 *
 * Containment:
 * - No network at all (`NetworkMode: none`): the one way out is the egress socket bound in from
 *   the sandbox-manager (the hand serves it as an HTTP proxy on 127.0.0.1), with the proxy's CA.
 * - Non-root (the image's uid 1000), every capability dropped, no-new-privileges, a read-only root
 *   and size-capped tmpfs for /workspace, /tmp and /dev/shm; an init reaps strays.
 * - Limits: memory (no swap beyond it), CPUs, pids, RLIMIT_CPU per process.
 * - Environment: nothing but PATH/HOME/LANG; the tools' environment travels in the hand's config.
 * - Labels name the sandbox and the manager instance, so stale containers can be found and reaped.
 */
import type { ContainerCreateOptions } from "dockerode";
import {
  EGRESS_CA_BUNDLE,
  EGRESS_CA_CERT,
  EGRESS_SOCKET,
  type SandboxLimits,
  type SandboxSpec,
} from "../provider.js";
import {
  HAND_PROCESS_ALLOWANCE,
  IMAGE_HAND_ENTRY,
  LABEL_MANAGER,
  LABEL_SANDBOX,
  LABEL_SANDBOX_ID,
  REMOTE_WORKDIR,
  remoteHandConfig,
  SANDBOX_USER,
} from "../remote/common.js";

export interface ContainerSpecOptions {
  image: string;
  instanceId: string;
  /** CPUs the sandbox may use (fractional). @default 1 */
  cpus?: number;
  /** An OCI runtime such as `runsc` (gVisor) for a stronger boundary. */
  runtime?: string;
}

export const containerName = (id: string) => `tendon-sandbox-${id}`.slice(0, 128);

export function buildContainerSpec(
  spec: SandboxSpec,
  limits: SandboxLimits,
  opts: ContainerSpecOptions,
): ContainerCreateOptions {
  const hand = remoteHandConfig(spec, limits, spec.egress ? { socket: true } : undefined);
  const quarter = Math.max(16 * 1024 * 1024, Math.floor(limits.diskBytes / 4));
  const tmpfs = (bytes: number) =>
    `rw,nosuid,nodev,size=${bytes},uid=${SANDBOX_USER},gid=${SANDBOX_USER},mode=0755`;
  const binds = spec.egress
    ? [
        `${spec.egress.socketPath}:${EGRESS_SOCKET}`,
        `${spec.egress.caCertPath}:${EGRESS_CA_CERT}:ro`,
        `${spec.egress.caBundlePath}:${EGRESS_CA_BUNDLE}:ro`,
      ]
    : [];
  return {
    name: containerName(spec.id),
    Image: opts.image,
    Cmd: ["node", IMAGE_HAND_ENTRY, JSON.stringify(hand)],
    User: `${SANDBOX_USER}:${SANDBOX_USER}`,
    WorkingDir: REMOTE_WORKDIR,
    Env: ["PATH=/usr/local/bin:/usr/bin:/bin", `HOME=${REMOTE_WORKDIR}`, "LANG=C.UTF-8"],
    Hostname: "sandbox",
    Labels: { [LABEL_SANDBOX]: "true", [LABEL_SANDBOX_ID]: spec.id, [LABEL_MANAGER]: opts.instanceId },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: "none",
      Binds: binds,
      ReadonlyRootfs: true,
      Tmpfs: {
        [REMOTE_WORKDIR]: tmpfs(limits.diskBytes),
        "/tmp": tmpfs(quarter),
        "/dev/shm": tmpfs(quarter),
      },
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: Math.round((opts.cpus ?? 1) * 1e9),
      PidsLimit: limits.maxProcesses + HAND_PROCESS_ALLOWANCE,
      Ulimits: [{ Name: "cpu", Soft: limits.cpuSeconds, Hard: limits.cpuSeconds }],
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Init: true,
      AutoRemove: false,
      Privileged: false,
      ...(opts.runtime ? { Runtime: opts.runtime } : {}),
    },
  };
}
