/**
 * @tendon/sandbox: disposable sandboxes for hands. The provider interface, the bubblewrap `process`
 * provider, the `docker` and `kubernetes` providers, a delaying wrapper for benchmarks, and (in `hand/`, not exported) the hand runtime that
 * runs inside each sandbox.
 */
export type { Bind } from "./bwrap/args.js";
export { checkProcessProvider } from "./bwrap/check.js";
export { createProcessProvider, type ProcessProviderOptions } from "./bwrap/process-provider.js";
export type { ProcessSandbox } from "./bwrap/process-sandbox.js";
export { createDelayedProvider, type DelayedProviderOptions } from "./delayed.js";
export { buildContainerSpec, type ContainerSpecOptions } from "./docker/container-spec.js";
// The docker and kubernetes providers load dockerode / @kubernetes/client-node on first use only.
export { createDockerProvider, type DockerProviderOptions } from "./docker/docker-provider.js";
export {
  createKubernetesProvider,
  type KubernetesProviderOptions,
} from "./kubernetes/kubernetes-provider.js";
export { buildPodManifest, handCommand, podName } from "./kubernetes/pod-spec.js";
export {
  DEFAULT_LIMITS,
  EGRESS_CA_BUNDLE,
  EGRESS_CA_CERT,
  EGRESS_SOCKET,
  type EgressSpec,
  egressEnv,
  type LogFn,
  type LogLevel,
  resolveLimits,
  type Sandbox,
  SandboxDeadError,
  type SandboxLimits,
  type SandboxProvider,
  type SandboxSpec,
  TOOL_NAMES,
  type ToolCall,
  type ToolName,
  type ToolResult,
  type ToolResultBlock,
} from "./provider.js";
