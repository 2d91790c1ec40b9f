/**
 * The docker and kubernetes providers without an engine or a cluster: the container and pod they
 * would make (no secrets, no network but the egress path, limits, labels for reaping), the
 * kubernetes egress relay, and the stream sandbox both use, driven against the real hand runtime
 * over a child process's stdio. The engine/cluster tests run only where one answers, and are
 * reported as skipped with the reason otherwise.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { PACKAGE_ROOT } from "../bwrap/hand-files.js";
import { buildContainerSpec } from "../docker/container-spec.js";
import { createDockerProvider } from "../docker/docker-provider.js";
import { HandConfigSchema } from "../hand/protocol.js";
import { startEgressRelay } from "../kubernetes/egress-relay.js";
import { createKubernetesProvider } from "../kubernetes/kubernetes-provider.js";
import { buildPodManifest, handCommand, podName } from "../kubernetes/pod-spec.js";
import {
  EGRESS_CA_CERT,
  EGRESS_SOCKET,
  resolveLimits,
  SandboxDeadError,
  type SandboxSpec,
} from "../provider.js";
import { StreamSandbox } from "./stream-sandbox.js";

const HOST_SECRET = "host-secret-value-that-must-not-leak-9f3a";
process.env.TENDON_REMOTE_TEST_SECRET = HOST_SECRET;
const limits = resolveLimits({ memoryBytes: 512 * 1024 * 1024, maxProcesses: 100, cpuSeconds: 60 });
const egressSpec: SandboxSpec = {
  id: "sbx_01ABCdef",
  env: { PROJECT: "demo" },
  egress: {
    socketPath: "/srv/egress/a/egress.sock",
    caCertPath: "/srv/egress/a/ca.pem",
    caBundlePath: "/srv/egress/a/bundle.pem",
  },
};
const handConfigOf = (argv: string[]) => HandConfigSchema.parse(JSON.parse(argv.at(-1)!));

describe("docker container spec", () => {
  const c = buildContainerSpec(egressSpec, limits, { image: "tendon/sandbox:1", instanceId: "sbm_1" });
  const hand = handConfigOf(c.Cmd as string[]);

  it("has no network but the egress socket, and no secret of the host", () => {
    expect(c.HostConfig?.NetworkMode).toBe("none");
    expect(c.NetworkDisabled).toBe(true);
    expect(c.HostConfig?.Binds).toEqual([
      `/srv/egress/a/egress.sock:${EGRESS_SOCKET}`,
      `/srv/egress/a/ca.pem:${EGRESS_CA_CERT}:ro`,
      "/srv/egress/a/bundle.pem:/etc/tendon/ca-bundle.pem:ro",
    ]);
    expect(hand.egress).toEqual({ socket: EGRESS_SOCKET, port: 3128 });
    expect(hand.toolEnv.HTTPS_PROXY).toBe("http://127.0.0.1:3128");
    expect(hand.toolEnv.PROJECT).toBe("demo");
    expect(JSON.stringify(c)).not.toContain(HOST_SECRET);
    expect(c.Env).toEqual(["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/workspace", "LANG=C.UTF-8"]);
    const none = buildContainerSpec({ id: "plain" }, limits, { image: "i", instanceId: "m" });
    expect(none.HostConfig?.Binds).toEqual([]);
    expect(handConfigOf(none.Cmd as string[]).egress).toBeUndefined();
    expect(handConfigOf(none.Cmd as string[]).toolEnv.HTTPS_PROXY).toBeUndefined();
  });

  it("runs unprivileged with the limits, and is labelled for reaping", () => {
    expect(c.User).toBe("1000:1000");
    expect(c.HostConfig).toMatchObject({
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Privileged: false,
      Memory: 512 * 1024 * 1024,
      MemorySwap: 512 * 1024 * 1024,
      PidsLimit: 132,
      Ulimits: [{ Name: "cpu", Soft: 60, Hard: 60 }],
    });
    expect(c.HostConfig?.Tmpfs?.["/workspace"]).toContain(`size=${limits.diskBytes}`);
    expect(c.Labels).toEqual({
      "tendon.dev/sandbox": "true",
      "tendon.dev/sandbox-id": "sbx_01ABCdef",
      "tendon.dev/manager": "sbm_1",
    });
    expect(c.OpenStdin && c.StdinOnce && !c.Tty).toBe(true);
  });
});

describe("kubernetes pod spec", () => {
  const pod = buildPodManifest(egressSpec, limits, {
    image: "tendon/sandbox:1",
    namespace: "tendon",
    instanceId: "sbm_1",
  });
  const container = pod.spec!.containers[0]!;

  it("is confined by the `sandboxes` NetworkPolicy and holds no credential", () => {
    const policies = readFileSync(
      join(PACKAGE_ROOT, "..", "..", "infra", "k8s", "base", "network-policies.yaml"),
      "utf8",
    );
    const sandboxes = parseAllDocuments(policies)
      .map((d) => d.toJS())
      .find((p) => p.metadata.name === "sandboxes");
    for (const [k, v] of Object.entries(sandboxes.spec.podSelector.matchLabels as Record<string, string>)) {
      expect(pod.metadata!.labels![k]).toBe(v);
    }
    expect(pod.spec).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      dnsPolicy: "None",
    });
    expect(container.env!.map((e) => e.name)).toEqual(["PATH", "HOME", "LANG"]);
    expect(container.envFrom).toBeUndefined();
    expect(JSON.stringify(pod)).not.toContain(HOST_SECRET);
  });

  it("runs non-root with limits and reaping labels", () => {
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.resources!.limits).toMatchObject({ memory: String(512 * 1024 * 1024), cpu: "1000m" });
    expect(pod.metadata!.labels).toMatchObject({
      "tendon.dev/sandbox-id": "sbx_01ABCdef",
      "tendon.dev/manager": "sbm_1",
    });
    for (const id of ["sbx_01ABCdef", "sbx_01abcdef", "_x_", "A".repeat(100)]) {
      expect(podName(id)).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    }
    expect(podName("sbx_01ABCdef")).not.toBe(podName("sbx_01abcdef"));
  });

  it("starts the hand with the egress relay and the proxy's CA, nothing else of the host", () => {
    const cmd = handCommand(egressSpec, limits, {
      relay: "10.0.0.7:3129",
      caPem: "-----BEGIN CERTIFICATE-----",
    });
    const hand = handConfigOf(cmd);
    expect(hand.egress).toMatchObject({
      relay: "10.0.0.7:3129",
      port: 3128,
      ca: { certPath: EGRESS_CA_CERT },
    });
    expect(hand.egress?.socket).toBeUndefined();
    expect(cmd.join(" ")).not.toContain(HOST_SECRET);
    expect(handConfigOf(handCommand({ id: "plain" }, limits)).egress).toBeUndefined();
  });
});

describe("the providers load their clients lazily", () => {
  it("has no value import of dockerode or @kubernetes/client-node", () => {
    const src = join(PACKAGE_ROOT, "src");
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
    );
    let typeOnly = 0;
    for (const f of files) {
      for (const line of readFileSync(join(src, f), "utf8").split("\n")) {
        if (!/from "(dockerode|@kubernetes\/client-node)"/.test(line)) continue;
        expect(line, f).toMatch(/^import type /);
        typeOnly++;
      }
    }
    expect(typeOnly).toBeGreaterThan(0);
    const lazy = readFileSync(join(src, "docker", "docker-provider.ts"), "utf8");
    expect(lazy).toContain('await import("dockerode")');
  });
});

describe("kubernetes egress relay", () => {
  const dir = mkdtempSync(join(tmpdir(), "tendon-relay-"));
  const upstreams: Server[] = [];
  afterAll(() => {
    for (const s of upstreams) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const talk = (port: number) =>
    new Promise<string>((resolve) => {
      const s = connect(port, "127.0.0.1", () => s.write("ping"));
      let got = "";
      s.on("data", (b) => {
        got += b.toString();
      });
      s.on("close", () => resolve(got));
      s.on("error", () => resolve(got));
    });

  it("relays a registered pod IP to its sandbox's egress socket and refuses everyone else", async () => {
    const sock = join(dir, "egress.sock");
    const upstream = createServer((c) => c.once("data", (b) => c.end(`egress got ${b.toString()}`)));
    upstreams.push(upstream);
    await new Promise<void>((r) => upstream.listen(sock, r));
    const relay = await startEgressRelay({ host: "127.0.0.1", port: 0 });
    try {
      expect(await talk(relay.port)).toBe("");
      const unregister = relay.register("127.0.0.1", sock);
      expect(await talk(relay.port)).toBe("egress got ping");
      unregister();
      expect(await talk(relay.port)).toBe("");
    } finally {
      await relay.close();
    }
  });
});

describe("stream sandbox over the real hand runtime", () => {
  const handMain = join(PACKAGE_ROOT, "dist", "hand", "main.js");
  const work = mkdtempSync(join(tmpdir(), "tendon-stream-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function start() {
    const config = {
      ...handConfigOf(handCommand({ id: "s1", env: { GREETING: "hi" } }, limits)),
      workdir: work,
    };
    const child = spawn(process.execPath, [handMain, JSON.stringify(config)], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdio: ["pipe", "pipe", "inherit"],
    });
    let destroyed = 0;
    const sandbox = new StreamSandbox({
      id: "s1",
      provider: "test",
      input: child.stdin,
      output: child.stdout,
      limits,
      log: () => undefined,
      destroy: async () => {
        destroyed++;
        child.kill("SIGKILL");
      },
      graceMs: 2_000,
      maxLineBytes: 1024 * 1024,
    });
    return { sandbox, child, destroyed: () => destroyed };
  }

  it.skipIf(!existsSync(handMain))(
    "runs calls, answers pings, and is dead after kill (needs `pnpm build`)",
    async () => {
      const { sandbox, destroyed } = start();
      await sandbox.ready;
      const r = await sandbox.execute({
        id: "t1",
        name: "bash",
        input: { command: 'echo "$GREETING"; pwd' },
      });
      expect(r.is_error).toBe(false);
      expect(JSON.stringify(r.content)).toContain("hi");
      expect(await sandbox.ping()).toBe(true);
      const bad = await sandbox.execute({ id: "t2", name: "bash", input: { command: "exit 3" } });
      expect(bad.is_error).toBe(true);
      await sandbox.kill();
      await sandbox.kill();
      expect(destroyed()).toBe(1);
      expect(sandbox.alive).toBe(false);
      await expect(
        sandbox.execute({ id: "t3", name: "bash", input: { command: "true" } }),
      ).rejects.toBeInstanceOf(SandboxDeadError);
    },
  );

  it.skipIf(!existsSync(handMain))(
    "serves the egress relay as the in-sandbox proxy and writes the proxy's CA (needs `pnpm build`)",
    async () => {
      const upstream = createServer((c) =>
        c.once("data", (b) => c.end(`HTTP/1.0 200 OK\r\n\r\nrelayed ${b.toString().split("\r\n")[0]}`)),
      );
      await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const proxyPort = (probe.address() as { port: number }).port;
      await new Promise<void>((r) => probe.close(() => r()));
      const relay = `127.0.0.1:${(upstream.address() as { port: number }).port}`;
      const spec = { id: "s2", egress: { ...egressSpec.egress!, port: proxyPort } };
      const config = handConfigOf(handCommand(spec, limits, { relay, caPem: "-----TEST CA-----\n" }));
      config.workdir = work;
      config.egress!.ca = {
        ...config.egress!.ca!,
        certPath: join(work, "ca.pem"),
        bundlePath: join(work, "bundle.pem"),
      };
      const child = spawn(process.execPath, [handMain, JSON.stringify(config)], {
        cwd: work,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        stdio: ["pipe", "pipe", "inherit"],
      });
      const sandbox = new StreamSandbox({
        id: "s2",
        provider: "test",
        input: child.stdin,
        output: child.stdout,
        limits,
        log: () => undefined,
        destroy: async () => {
          child.kill("SIGKILL");
        },
        graceMs: 2_000,
        maxLineBytes: 1024 * 1024,
      });
      try {
        await sandbox.ready;
        const r = await sandbox.execute({
          id: "e1",
          name: "bash",
          input: {
            command: `exec 3<>/dev/tcp/127.0.0.1/${proxyPort}; printf 'GET http://example.test/ HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3; echo; echo "proxy=$HTTPS_PROXY"`,
          },
        });
        const out = JSON.stringify(r.content);
        expect(out).toContain("relayed GET http://example.test/ HTTP/1.0");
        expect(out).toContain(`proxy=http://127.0.0.1:${proxyPort}`);
        expect(readFileSync(join(work, "ca.pem"), "utf8")).toBe("-----TEST CA-----\n");
        expect(readFileSync(join(work, "bundle.pem"), "utf8").endsWith("-----TEST CA-----\n")).toBe(true);
      } finally {
        await sandbox.kill();
        upstream.close();
      }
    },
  );

  it.skipIf(!existsSync(handMain))(
    "turns the hand dying mid-call into SandboxDeadError (needs `pnpm build`)",
    async () => {
      const { sandbox, child } = start();
      await sandbox.ready;
      const call = sandbox.execute({ id: "t1", name: "bash", input: { command: "sleep 30" } });
      child.kill("SIGKILL");
      await expect(call).rejects.toBeInstanceOf(SandboxDeadError);
      await sandbox.exited;
      expect(sandbox.alive).toBe(false);
    },
  );
});

// ---- with an engine / a cluster only ------------------------------------------------------------

const dockerSocket =
  process.env.DOCKER_HOST ?? (existsSync("/var/run/docker.sock") ? "unix:///var/run/docker.sock" : "");
const image = process.env.TENDON_SANDBOX_IMAGE ?? "tendon/sandbox:dev";

describe.skipIf(!dockerSocket)(
  "docker provider against an engine (needs DOCKER_HOST or /var/run/docker.sock)",
  () => {
    it("runs a call in a container with no network, then removes it", async () => {
      const provider = createDockerProvider({ instanceId: `test-${process.pid}`, image });
      try {
        const sandbox = await provider.create({ id: `t${process.pid}` });
        const r = await sandbox.execute({
          id: "c1",
          name: "bash",
          input: { command: "id -u; cat /sys/class/net/*/operstate 2>/dev/null | sort | uniq -c" },
        });
        expect(r.is_error).toBe(false);
        expect(JSON.stringify(r.content)).toContain("1000");
        await sandbox.kill();
        await expect(
          sandbox.execute({ id: "c2", name: "bash", input: { command: "true" } }),
        ).rejects.toBeInstanceOf(SandboxDeadError);
      } finally {
        await provider.close();
      }
    });
  },
);

const kubeconfig =
  process.env.KUBECONFIG ||
  process.env.KUBERNETES_SERVICE_HOST ||
  existsSync(join(homedir(), ".kube", "config"));

describe.skipIf(!kubeconfig)(
  "kubernetes provider against a cluster (needs KUBECONFIG, ~/.kube/config or an in-cluster account)",
  () => {
    it("runs a call in a pod, then deletes it", async () => {
      const provider = createKubernetesProvider({
        instanceId: `test-${process.pid}`,
        namespace: process.env.TENDON_SANDBOX_NAMESPACE ?? "default",
        image,
      });
      try {
        const sandbox = await provider.create({ id: `t${process.pid}` });
        const r = await sandbox.execute({ id: "c1", name: "bash", input: { command: "id -u" } });
        expect(JSON.stringify(r.content)).toContain("1000");
        await sandbox.kill();
      } finally {
        await provider.close();
      }
    });
  },
);
