/**
 * The pod the kubernetes provider makes for one sandbox, and the command that starts its hand, as
 * pure functions of the spec (unit tested without a cluster).
 *
 * Containment:
 * - Non-root (uid 1000), every capability dropped, no privilege escalation, a read-only root and
 *   size-capped emptyDirs for /workspace, /tmp and /etc/tendon (the egress CA the hand writes).
 * - No service account token, no service links (no other service's address in its environment),
 *   no DNS (a resolver that answers nothing), and an environment of PATH/HOME/LANG only.
 * - Network: the pod is labelled `app.kubernetes.io/name: sandbox`, which the `sandboxes`
 *   NetworkPolicy (infra/k8s/base) confines to its sandbox-manager's egress relay; the hand serves
 *   that relay as an HTTP proxy on 127.0.0.1 for the tools.
 * - Limits: memory, CPU and ephemeral storage; RLIMIT-style per-process limits are the node's.
 * - Labels name the sandbox and the manager instance, so stale pods can be found and reaped.
 */
import { createHash } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import type { SandboxLimits, SandboxSpec } from "../provider.js";
import {
  IMAGE_HAND_ENTRY,
  LABEL_MANAGER,
  LABEL_SANDBOX,
  LABEL_SANDBOX_ID,
  REMOTE_WORKDIR,
  remoteHandConfig,
  SANDBOX_USER,
} from "../remote/common.js";

export interface PodSpecOptions {
  image: string;
  namespace: string;
  instanceId: string;
  /** CPUs the sandbox may use. @default 1 */
  cpus?: number;
  /** e.g. `gvisor`, for a stronger boundary than the node's kernel. */
  runtimeClassName?: string;
}

/** A DNS-1123 label for the pod: readable prefix, plus a digest so distinct ids never collide. */
export function podName(id: string): string {
  const digest = createHash("sha256").update(id).digest("hex").slice(0, 10);
  const readable = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 36);
  return `tendon-sbx-${readable ? `${readable}-` : ""}${digest}`.replace(/-+/g, "-");
}

/** A label value (≤ 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends). */
export function labelValue(v: string): string {
  return v.slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "") || "x";
}

export function buildPodManifest(spec: SandboxSpec, limits: SandboxLimits, opts: PodSpecOptions): V1Pod {
  const quarter = Math.max(16 * 1024 * 1024, Math.floor(limits.diskBytes / 4));
  const cpus = opts.cpus ?? 1;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName(spec.id),
      namespace: opts.namespace,
      labels: {
        "app.kubernetes.io/name": "sandbox",
        "app.kubernetes.io/part-of": "tendon",
        [LABEL_SANDBOX]: "true",
        [LABEL_SANDBOX_ID]: labelValue(spec.id),
        [LABEL_MANAGER]: labelValue(opts.instanceId),
      },
    },
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      dnsPolicy: "None",
      dnsConfig: { nameservers: ["127.0.0.1"] },
      hostname: "sandbox",
      ...(opts.runtimeClassName ? { runtimeClassName: opts.runtimeClassName } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: SANDBOX_USER,
        runAsGroup: SANDBOX_USER,
        fsGroup: SANDBOX_USER,
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [
        {
          name: "hand",
          image: opts.image,
          // The hand itself is started by exec (./kubernetes-provider.ts), with its stdio as the channel.
          command: ["sleep", "infinity"],
          workingDir: REMOTE_WORKDIR,
          env: [
            { name: "PATH", value: "/usr/local/bin:/usr/bin:/bin" },
            { name: "HOME", value: REMOTE_WORKDIR },
            { name: "LANG", value: "C.UTF-8" },
          ],
          resources: {
            requests: {
              cpu: `${Math.min(100, Math.round(cpus * 1000))}m`,
              memory: `${Math.min(limits.memoryBytes, 128 * 1024 * 1024)}`,
            },
            limits: {
              cpu: `${Math.round(cpus * 1000)}m`,
              memory: `${limits.memoryBytes}`,
              "ephemeral-storage": `${limits.diskBytes + 2 * quarter}`,
            },
          },
          securityContext: {
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
          volumeMounts: [
            { name: "workspace", mountPath: REMOTE_WORKDIR },
            { name: "tmp", mountPath: "/tmp" },
            { name: "tendon-etc", mountPath: "/etc/tendon" },
          ],
        },
      ],
      volumes: [
        { name: "workspace", emptyDir: { sizeLimit: `${limits.diskBytes}` } },
        { name: "tmp", emptyDir: { sizeLimit: `${quarter}` } },
        { name: "tendon-etc", emptyDir: { sizeLimit: "1Mi" } },
      ],
    },
  };
}

/** The exec command that starts the hand in the pod; `relay` is "host:port" of the egress relay. */
export function handCommand(
  spec: SandboxSpec,
  limits: SandboxLimits,
  egress?: { relay: string; caPem: string },
): string[] {
  return ["node", IMAGE_HAND_ENTRY, JSON.stringify(remoteHandConfig(spec, limits, egress))];
}
