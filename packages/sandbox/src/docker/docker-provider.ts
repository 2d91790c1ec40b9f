/**
 * The `docker` provider: each sandbox is a container (./container-spec.ts) of the `sandbox` image
 * (the root Dockerfile's `sandbox` target), whose hand speaks the hand protocol over the attached
 * stdin/stdout. For a Docker host next to the sandbox-manager, or a remote engine via DOCKER_HOST.
 *
 * The egress socket and CA files are bound in by host path: the sandbox-manager's sandbox
 * directory must be visible to the Docker daemon at the same path (the manager on the Docker host,
 * or its directory bind-mounted at an identical path).
 *
 * Invariants:
 * - dockerode is imported only when the first sandbox is made: other providers never load it.
 * - `create()` resolves only once the hand said it is ready; on any failure the container is removed.
 * - `close()` kills every sandbox this provider made; the first `create()` also removes containers
 *   a dead predecessor with the same `instanceId` left behind.
 */
import { PassThrough, type Writable } from "node:stream";
import type Docker from "dockerode";
import type { DockerOptions } from "dockerode";
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
import { buildContainerSpec } from "./container-spec.js";

export interface DockerProviderOptions {
  /** Labels the containers; stale ones with the same value are reaped. */
  instanceId: string;
  /** @default "tendon/sandbox:dev" */
  image?: string;
  defaults?: Partial<SandboxLimits>;
  cpus?: number;
  /** An OCI runtime such as `runsc` (gVisor). */
  runtime?: string;
  log?: LogFn;
  /** dockerode's connection options; default: DOCKER_HOST or the local socket, as dockerode reads them. */
  docker?: DockerOptions;
  /** How long a new sandbox may take to say it is ready (image pull excluded). @default 30 s */
  startTimeoutMs?: number;
  /** @default 5 s */
  deadlineGraceMs?: number;
}

export function createDockerProvider(opts: DockerProviderOptions): SandboxProvider {
  const log: LogFn = opts.log ?? (() => undefined);
  const image = opts.image ?? DEFAULT_SANDBOX_IMAGE;
  const live = new Set<StreamSandbox>();
  let client: Promise<Docker> | undefined;
  let closed = false;

  const connect = async (): Promise<Docker> => {
    const { default: DockerCtor } = await import("dockerode");
    const docker = new DockerCtor(opts.docker);
    const stale = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_MANAGER}=${opts.instanceId}`] },
    });
    await Promise.all(
      stale.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    if (stale.length > 0)
      log("info", "removed sandbox containers a dead provider left", { count: stale.length });
    return docker;
  };

  const create = async (spec: SandboxSpec): Promise<Sandbox> => {
    if (closed) throw new Error("the docker provider is closed");
    validateRemoteSpec(spec);
    const limits = resolveLimits(opts.defaults, spec.limits);
    client ??= connect();
    const docker = await client.catch((e: unknown) => {
      client = undefined;
      throw e;
    });
    const container = await docker.createContainer(
      buildContainerSpec(spec, limits, {
        image,
        instanceId: opts.instanceId,
        cpus: opts.cpus,
        runtime: opts.runtime,
      }),
    );
    const remove = () => container.remove({ force: true }).then(() => undefined);
    let sandbox: StreamSandbox | undefined;
    try {
      const stream = await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let stderrTail = "";
      stderr.on("data", (b: Buffer) => {
        stderrTail = (stderrTail + b.toString("utf8")).slice(-4096);
      });
      docker.modem.demuxStream(stream, stdout, stderr);
      stream.on("end", () => stdout.end());
      stream.on("close", () => stdout.end());
      sandbox = new StreamSandbox({
        id: spec.id,
        provider: "docker",
        // The hijacked attach socket: a Duplex, typed by dockerode as a plain ReadWriteStream.
        input: stream as unknown as Writable,
        output: stdout,
        limits,
        log,
        destroy: async () => {
          live.delete(sandbox!);
          await remove().catch((e: { statusCode?: number }) => {
            if (e.statusCode !== 404) throw e;
          });
        },
        graceMs: opts.deadlineGraceMs ?? 5_000,
        maxLineBytes: HAND_MAX_LINE_BYTES,
      });
      live.add(sandbox);
      await container.start();
      await withTimeout(sandbox.ready, opts.startTimeoutMs ?? 30_000).catch(async (e: Error) => {
        await sandbox!.kill();
        throw new Error(
          `sandbox ${spec.id} failed to start: ${e.message}${stderrTail ? `; stderr: ${stderrTail.trim()}` : ""}`,
        );
      });
      if (closed) {
        await sandbox.kill();
        throw new Error("the docker provider is closed");
      }
      return sandbox;
    } catch (e) {
      if (!sandbox) await remove().catch(() => undefined);
      throw e;
    }
  };

  return {
    name: "docker",
    create,
    async close() {
      closed = true;
      await Promise.all([...live].map((s) => s.kill()));
    },
  };
}
