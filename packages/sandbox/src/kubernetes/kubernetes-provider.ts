/**
 * The `kubernetes` provider: each sandbox is a pod (./pod-spec.ts) of the `sandbox` image; its hand
 * is started by exec and speaks the hand protocol over the exec stream's stdin/stdout. Egress goes
 * through ./egress-relay.ts in the sandbox-manager pod (set `relay`; without it, sandboxes get no
 * egress). The sandbox-manager needs a Role allowing pods get/list/create/delete and pods/exec
 * create in `namespace` (README, "Kubernetes").
 *
 * Invariants:
 * - @kubernetes/client-node is imported only when the first sandbox is made.
 * - `create()` resolves only once the hand said it is ready; on any failure the pod is deleted.
 * - `close()` kills every sandbox this provider made; the first `create()` also deletes pods a dead
 *   predecessor with the same `instanceId` left behind.
 */
import { readFile } from "node:fs/promises";
import { PassThrough } from "node:stream";
import type { CoreV1Api, Exec, KubeConfig } from "@kubernetes/client-node";
import {
  type LogFn,
  resolveLimits,
  type Sandbox,
  type SandboxLimits,
  type SandboxProvider,
  type SandboxSpec,
} from "../provider.js";
import {
  DEFAULT_SANDBOX_IMAGE,
  HAND_MAX_LINE_BYTES,
  LABEL_MANAGER,
  validateRemoteSpec,
  withTimeout,
} from "../remote/common.js";
import { StreamSandbox } from "../remote/stream-sandbox.js";
import { type EgressRelay, startEgressRelay } from "./egress-relay.js";
import { buildPodManifest, handCommand, labelValue } from "./pod-spec.js";

export interface KubernetesProviderOptions {
  instanceId: string;
  namespace: string;
  /** @default "tendon/sandbox:dev" */
  image?: string;
  defaults?: Partial<SandboxLimits>;
  cpus?: number;
  runtimeClassName?: string;
  /**
   * The egress relay: `advertise` is the address sandbox pods connect to (this pod's IP), `port`
   * the port the `sandboxes` NetworkPolicy allows (3129).
   */
  relay?: { advertise: string; port: number; listen?: string };
  log?: LogFn;
  /** The client's configuration; default: KUBECONFIG, ~/.kube/config or the in-cluster account. */
  kubeConfig?: KubeConfig;
  /** How long a pod may take to run and its hand to be ready (image pulls included). @default 120 s */
  startTimeoutMs?: number;
  /** @default 5 s */
  deadlineGraceMs?: number;
}

interface Client {
  core: CoreV1Api;
  exec: Exec;
  relay?: EgressRelay;
}

export function createKubernetesProvider(opts: KubernetesProviderOptions): SandboxProvider {
  const log: LogFn = opts.log ?? (() => undefined);
  const image = opts.image ?? DEFAULT_SANDBOX_IMAGE;
  const namespace = opts.namespace;
  const live = new Set<StreamSandbox>();
  let client: Promise<Client> | undefined;
  let closed = false;

  const connect = async (): Promise<Client> => {
    const k8s = await import("@kubernetes/client-node");
    const kc = opts.kubeConfig ?? new k8s.KubeConfig();
    if (!opts.kubeConfig) kc.loadFromDefault();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const stale = await core.listNamespacedPod({
      namespace,
      labelSelector: `${LABEL_MANAGER}=${labelValue(opts.instanceId)}`,
    });
    for (const p of stale.items) {
      await core
        .deleteNamespacedPod({ name: p.metadata!.name!, namespace, gracePeriodSeconds: 0 })
        .catch(() => undefined);
    }
    if (stale.items.length > 0)
      log("info", "removed sandbox pods a dead provider left", { count: stale.items.length });
    const relay = opts.relay
      ? await startEgressRelay({ host: opts.relay.listen ?? "0.0.0.0", port: opts.relay.port })
      : undefined;
    return { core, exec: new k8s.Exec(kc), ...(relay ? { relay } : {}) };
  };

  const waitRunning = async (core: CoreV1Api, name: string, deadline: number): Promise<string> => {
    for (;;) {
      const pod = await core.readNamespacedPod({ name, namespace });
      const phase = pod.status?.phase;
      if (phase === "Running" && pod.status?.podIP) return pod.status.podIP;
      if (phase === "Failed" || phase === "Succeeded") throw new Error(`pod ${name} ended (${phase})`);
      if (Date.now() > deadline) throw new Error(`pod ${name} not running (phase ${phase ?? "unknown"})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const create = async (spec: SandboxSpec): Promise<Sandbox> => {
    if (closed) throw new Error("the kubernetes provider is closed");
    validateRemoteSpec(spec);
    const limits = resolveLimits(opts.defaults, spec.limits);
    client ??= connect();
    const c = await client.catch((e: unknown) => {
      client = undefined;
      throw e;
    });
    const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
    const deadline = Date.now() + startTimeoutMs;
    const manifest = buildPodManifest(spec, limits, {
      image,
      namespace,
      instanceId: opts.instanceId,
      ...(opts.cpus !== undefined ? { cpus: opts.cpus } : {}),
      ...(opts.runtimeClassName ? { runtimeClassName: opts.runtimeClassName } : {}),
    });
    const name = manifest.metadata!.name!;
    await c.core.createNamespacedPod({ namespace, body: manifest });
    const deletePod = () =>
      c.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).then(() => undefined);
    let sandbox: StreamSandbox | undefined;
    let unroute: (() => void) | undefined;
    try {
      const podIp = await waitRunning(c.core, name, deadline);
      const egress =
        spec.egress && c.relay && opts.relay
          ? {
              relay: `${opts.relay.advertise}:${c.relay.port}`,
              caPem: await readFile(spec.egress.caCertPath, "utf8"),
            }
          : undefined;
      if (spec.egress && c.relay) unroute = c.relay.register(podIp, spec.egress.socketPath);
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let stderrTail = "";
      stderr.on("data", (b: Buffer) => {
        stderrTail = (stderrTail + b.toString("utf8")).slice(-4096);
      });
      const ws = await c.exec.exec(
        namespace,
        name,
        "hand",
        handCommand(spec, limits, egress),
        stdout,
        stderr,
        stdin,
        false,
        () => stdout.end(),
      );
      ws.on("close", () => stdout.end());
      sandbox = new StreamSandbox({
        id: spec.id,
        provider: "kubernetes",
        input: stdin,
        output: stdout,
        limits,
        log,
        destroy: async () => {
          live.delete(sandbox!);
          unroute?.();
          ws.close();
          await deletePod().catch((e: { code?: number }) => {
            if (e.code !== 404) throw e;
          });
        },
        graceMs: opts.deadlineGraceMs ?? 5_000,
        maxLineBytes: HAND_MAX_LINE_BYTES,
      });
      live.add(sandbox);
      await withTimeout(sandbox.ready, Math.max(1_000, deadline - Date.now())).catch(async (e: Error) => {
        await sandbox!.kill();
        throw new Error(
          `sandbox ${spec.id} failed to start: ${e.message}${stderrTail ? `; stderr: ${stderrTail.trim()}` : ""}`,
        );
      });
      if (closed) {
        await sandbox.kill();
        throw new Error("the kubernetes provider is closed");
      }
      return sandbox;
    } catch (e) {
      if (!sandbox) {
        unroute?.();
        await deletePod().catch(() => undefined);
      }
      throw e;
    }
  };

  return {
    name: "kubernetes",
    create,
    async close() {
      closed = true;
      await Promise.all([...live].map((s) => s.kill()));
      const c = await client?.catch(() => undefined);
      await c?.relay?.close();
    },
  };
}
