/**
 * Picks the sandbox provider named by TENDON_SANDBOX_PROVIDER: `process` (bubblewrap on this host,
 * the default), `docker` (a container per sandbox; DOCKER_HOST or the local socket) or `kubernetes`
 * (a pod per sandbox; KUBECONFIG or the in-cluster account). The docker and kubernetes clients are
 * loaded only by their own provider, when it makes its first sandbox.
 */
import { join } from "node:path";
import {
  createDockerProvider,
  createKubernetesProvider,
  createProcessProvider,
  type LogFn,
  type SandboxLimits,
  type SandboxProvider,
} from "@tendon/sandbox";
import type { SandboxManagerEnv } from "./config.js";

export function createProvider(
  cfg: SandboxManagerEnv,
  ctx: { instanceId: string; limits: Partial<SandboxLimits>; log: LogFn },
): SandboxProvider {
  const common = {
    instanceId: ctx.instanceId,
    image: cfg.TENDON_SANDBOX_IMAGE,
    defaults: ctx.limits,
    log: ctx.log,
    ...(cfg.TENDON_SANDBOX_CPUS !== undefined ? { cpus: cfg.TENDON_SANDBOX_CPUS } : {}),
  };
  switch (cfg.TENDON_SANDBOX_PROVIDER) {
    case "process":
      return createProcessProvider({
        baseDir: join(cfg.TENDON_SANDBOX_DIR, ctx.instanceId),
        defaults: ctx.limits,
        log: ctx.log,
      });
    case "docker":
      return createDockerProvider({
        ...common,
        ...(cfg.TENDON_SANDBOX_RUNTIME ? { runtime: cfg.TENDON_SANDBOX_RUNTIME } : {}),
      });
    case "kubernetes": {
      const relay = cfg.TENDON_SANDBOX_RELAY_ADDR?.split(":");
      return createKubernetesProvider({
        ...common,
        namespace: cfg.TENDON_SANDBOX_NAMESPACE,
        ...(cfg.TENDON_SANDBOX_RUNTIME ? { runtimeClassName: cfg.TENDON_SANDBOX_RUNTIME } : {}),
        ...(relay ? { relay: { advertise: relay[0]!, port: Number(relay[1]) } } : {}),
      });
    }
  }
}
