/**
 * The `process` provider: each sandbox is a bubblewrap container on this host running the hand runtime.
 *
 * Containment (see ./args.ts for the exact bwrap arguments, ./limits.ts for the limits):
 * - Namespaces: user (inside uid 1000 ↔ a host uid of its own, no further user namespaces), mount,
 *   PID, IPC, UTS, network (loopback only: no route to NATS, Postgres or anywhere else) and cgroup.
 * - Identity: as root, the launcher drops to a fresh unprivileged host uid per sandbox (setpriv) before
 *   bwrap runs, so bwrap itself is unprivileged and the sandbox holds no capability on the host. Not as
 *   root: the sandbox runs as the provider's uid (no per-sandbox uid; logged once).
 * - Environment: none of the host's. bwrap is started with an empty environment (so even /proc/1/environ
 *   inside is empty) and `--clearenv`; the hand gets PATH/HOME/LANG, the tools additionally `spec.env`.
 * - Files: a read-only system tree, a synthetic /etc, the hand runtime read-only, and private tmpfs
 *   (size-capped) for /workspace, /tmp and /dev/shm. See ./filesystem.ts.
 * - Lifetime: `--die-with-parent` and a PID namespace: killing the launcher (or this process dying) kills
 *   the namespace's init and with it every process of the sandbox; the cgroup is emptied and removed
 *   and `<baseDir>/<id>` deleted.
 *
 * Invariants:
 * - `create()` resolves only once the hand has said it is ready; on any failure it leaves nothing
 *   behind and rejects with the reason (bwrap's stderr included).
 * - `close()` kills every sandbox this provider made; `create()` after it rejects.
 * - The host checks (programs, hand runtime, readable paths, cgroups) run once, on the first create(),
 *   which also sweeps up directories and cgroups that sandboxes of a dead provider left (./sweep.ts).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Writable } from "node:stream";
import type { HandConfig } from "../hand/protocol.js";
import {
  EGRESS_CA_BUNDLE,
  EGRESS_CA_CERT,
  EGRESS_SOCKET,
  egressEnv,
  type LogFn,
  resolveLimits,
  type Sandbox,
  type SandboxLimits,
  type SandboxProvider,
  type SandboxSpec,
} from "../provider.js";
import { type Bind, type BwrapPlan, buildBwrapArgs, buildLaunchArgv, HAND_ROOT, WORKDIR } from "./args.js";
import { type CgroupDetection, detectCgroups, type SandboxCgroup } from "./cgroups.js";
import { SANDBOX_HOSTNAME, systemTree, TOOL_LIMITS_PATH, writeSandboxFiles } from "./filesystem.js";
import { locateHandRuntime, unreadableByOthers } from "./hand-files.js";
import { allocateUid, findHostPrograms, type HostPrograms, releaseUid } from "./host.js";
import {
  DEADLINE_GRACE_MS,
  describeMechanisms,
  maxTasks,
  nprocLimit,
  tmpfsSizes,
  toolLimitsScript,
} from "./limits.js";
import { ProcessSandbox } from "./process-sandbox.js";
import { sweepStaleSandboxDirs } from "./sweep.js";

const DEFAULT_EGRESS_PORT = 3128;

/** The egress socket (writable: connect() needs it) and the proxy's CA files, when the spec has egress. */
function egressBinds(spec: SandboxSpec): Bind[] {
  if (!spec.egress) return [];
  return [
    { src: spec.egress.socketPath, dest: EGRESS_SOCKET, readOnly: false },
    { src: spec.egress.caCertPath, dest: EGRESS_CA_CERT, readOnly: true },
    { src: spec.egress.caBundlePath, dest: EGRESS_CA_BUNDLE, readOnly: true },
  ];
}

export interface ProcessProviderOptions {
  /** Where each sandbox's private directory `<baseDir>/<id>` goes. Made if missing. */
  baseDir: string;
  defaults?: Partial<SandboxLimits>;
  log?: LogFn;
  /**
   * Extra binds for a sandbox (the hook for e.g. a unix socket to an egress proxy). Their sources must be
   * reachable by an unprivileged uid; destinations must not shadow /usr, /etc, /opt/tendon or the tmpfs.
   */
  binds?: (spec: SandboxSpec) => Bind[];
  /** How long a new sandbox may take to say it is ready. Default 20 s. */
  startTimeoutMs?: number;
  /** How long past a call's budget to wait for the hand before killing the sandbox. Default 5 s. */
  deadlineGraceMs?: number;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(["BASH_ENV"]);
const HAND_MAX_LINE_BYTES = 64 * 1024 * 1024;
const TOOL_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

interface Host {
  programs: HostPrograms;
  runtimeBinds: Bind[];
  entry: string;
  /** node inside the sandbox, and the bind that puts it there if it is not under /usr. */
  node: { path: string; bind?: Bind };
  cgroups: CgroupDetection;
  isRoot: boolean;
}

async function prepareHost(baseDir: string, log: LogFn): Promise<Host> {
  const programs = findHostPrograms();
  if ("missing" in programs) throw new Error(`the process provider needs ${programs.missing}`);
  const runtime = locateHandRuntime();
  const runtimeBinds: Bind[] = runtime.binds.map((b) => ({ ...b, readOnly: true }));

  const execPath = process.execPath;
  const node: Host["node"] = execPath.startsWith("/usr/")
    ? { path: execPath }
    : {
        path: `${HAND_ROOT}/bin/node`,
        bind: { src: execPath, dest: `${HAND_ROOT}/bin/node`, readOnly: true },
      };

  await fs.mkdir(baseDir, { recursive: true, mode: 0o711 });
  // bwrap runs as the sandbox's uid and must reach <baseDir>/<id>: "other" needs search (not read).
  const baseMode = (await fs.stat(baseDir)).mode & 0o7777;
  if ((baseMode & 0o001) === 0) await fs.chmod(baseDir, baseMode | 0o001);
  const problems = [
    ...runtimeBinds.map((b) => unreadableByOthers(b.src)),
    node.bind ? unreadableByOthers(node.bind.src) : undefined,
    unreadableByOthers(baseDir, { searchOnly: true }),
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    throw new Error(
      `the sandbox's unprivileged uid could not read what it needs (${problems.join("; ")}); install Tendon and pick baseDir where other users can read`,
    );
  }

  const isRoot = process.getuid?.() === 0;
  const cgroups = await detectCgroups();
  const swept = (await sweepStaleSandboxDirs(baseDir)) + (cgroups.ok ? await cgroups.sweep() : 0);
  if (swept > 0) log("info", "removed what sandboxes of a dead provider left behind", { count: swept });
  if (!cgroups.ok) log("warn", "process sandboxes run without cgroups", { reason: cgroups.reason });
  if (!isRoot) log("warn", "not root: sandboxes share this process's uid (no per-sandbox uid)");
  log("info", "process sandbox provider ready", {
    limits: describeMechanisms({
      memoryCgroup: cgroups.ok,
      pidsCgroup: cgroups.ok,
      ...(cgroups.ok ? { cgroupVersion: cgroups.version } : {}),
      ownUid: isRoot,
    }),
  });
  return { programs, runtimeBinds, entry: runtime.entry, node, cgroups, isRoot };
}

function validateSpec(spec: SandboxSpec): void {
  if (!ID_PATTERN.test(spec.id)) {
    throw new Error(`sandbox id must match ${ID_PATTERN} (it names a directory and a cgroup)`);
  }
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(k) || RESERVED_ENV.has(k)) throw new Error(`sandbox env name not allowed: ${k}`);
    if (typeof v !== "string" || v.includes("\0"))
      throw new Error(`sandbox env ${k} must be a string without NUL`);
  }
}

export function createProcessProvider(opts: ProcessProviderOptions): SandboxProvider {
  const log: LogFn = opts.log ?? (() => undefined);
  const baseDir = path.resolve(opts.baseDir);
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  const live = new Set<ProcessSandbox>();
  let host: Promise<Host> | undefined;
  let closed = false;

  const create = async (spec: SandboxSpec): Promise<Sandbox> => {
    if (closed) throw new Error("the process provider is closed");
    validateSpec(spec);
    const limits = resolveLimits(opts.defaults, spec.limits);
    host ??= prepareHost(baseDir, log);
    const h = await host.catch((e: unknown) => {
      host = undefined;
      throw e;
    });

    const dir = path.join(baseDir, spec.id);
    const hostUid = h.isRoot ? allocateUid() : undefined;
    let cgroup: SandboxCgroup | undefined;
    let sandbox: ProcessSandbox | undefined;
    try {
      if (h.cgroups.ok) {
        try {
          cgroup = await h.cgroups.create(spec.id, {
            memoryBytes: limits.memoryBytes,
            maxTasks: maxTasks(limits),
          });
        } catch (e) {
          log("warn", "could not make the sandbox's cgroup; rlimits only", {
            sandbox: spec.id,
            error: (e as Error).message,
          });
        }
      }
      const mechanisms = { memoryCgroup: cgroup !== undefined, pidsCgroup: cgroup !== undefined };
      const fileBinds = await writeSandboxFiles(dir, toolLimitsScript(limits, mechanisms)).catch(
        (e: unknown) => {
          if ((e as NodeJS.ErrnoException).code === "EEXIST") {
            throw Object.assign(new Error(`sandbox id ${spec.id} is in use (${dir} exists)`), {
              code: "EEXIST",
            });
          }
          throw e;
        },
      );

      const toolEnv: Record<string, string> = {
        PATH: TOOL_PATH,
        HOME: WORKDIR,
        LANG: "C.UTF-8",
        TMPDIR: "/tmp",
        USER: "user",
        LOGNAME: "user",
        SHELL: "/bin/bash",
        ...spec.env,
        ...(spec.egress ? egressEnv(spec.egress.port ?? DEFAULT_EGRESS_PORT) : {}),
        BASH_ENV: TOOL_LIMITS_PATH,
      };
      const config: HandConfig = {
        workdir: WORKDIR,
        maxOutputBytes: limits.maxOutputBytes,
        toolEnv,
        reapStrays: true,
        maxLineBytes: HAND_MAX_LINE_BYTES,
        ...(spec.egress
          ? { egress: { socket: EGRESS_SOCKET, port: spec.egress.port ?? DEFAULT_EGRESS_PORT } }
          : {}),
      };
      const sizes = tmpfsSizes(limits);
      const plan: BwrapPlan = {
        root: systemTree(),
        binds: [...fileBinds, ...h.runtimeBinds, ...(h.node.bind ? [h.node.bind] : [])],
        extraBinds: [...(opts.binds?.(spec) ?? []), ...egressBinds(spec)],
        workdirBytes: sizes.workdir,
        tmpBytes: sizes.tmp,
        shmBytes: sizes.shm,
        hostname: SANDBOX_HOSTNAME,
        env: { PATH: TOOL_PATH, HOME: WORKDIR, LANG: "C.UTF-8" },
        command: [h.node.path, h.entry, JSON.stringify(config)],
        unshareCgroup: true,
        infoFd: 3,
      };
      const bwrap = buildBwrapArgs(plan);
      const argv = buildLaunchArgv({
        bashPath: h.programs.bash,
        setprivPath: h.programs.setpriv,
        prlimitPath: h.programs.prlimit,
        keepFds: 4,
        cgroupProcs: cgroup?.procsFiles ?? [],
        hostId: hostUid,
        nproc: nprocLimit(limits, mechanisms.pidsCgroup),
        bwrapPath: h.programs.bwrap,
        bwrapArgv: ["--args", "4", "--", ...bwrap.command],
      });
      // An empty environment and cwd /: bwrap stays PID 1 inside, and its /proc/1/environ must not show ours.
      // fd 3: bwrap's --info-fd (the namespace init's pid); fd 4: bwrap's options, NUL-separated.
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd: "/",
        env: {},
        stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"],
      }) as ChildProcessWithoutNullStreams;
      const optionsFd = child.stdio[4] as Writable | null;
      optionsFd?.on("error", () => undefined);
      optionsFd?.end(`${bwrap.options.join("\0")}\0`);
      sandbox = new ProcessSandbox({
        id: spec.id,
        child,
        limits,
        dir,
        cgroup,
        hostUid,
        log,
        deadlineGraceMs: opts.deadlineGraceMs ?? DEADLINE_GRACE_MS,
        maxRequestBytes: HAND_MAX_LINE_BYTES,
        onGone: () => {
          if (hostUid !== undefined) releaseUid(hostUid);
          if (sandbox) live.delete(sandbox);
        },
      });
      live.add(sandbox);
      let timer: NodeJS.Timeout | undefined;
      const started = await Promise.race([
        sandbox.ready.then(
          () => undefined,
          (e: Error) => e.message,
        ),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(`not ready within ${startTimeoutMs} ms`), startTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (started !== undefined) {
        const stderr = sandbox.stderrTail.trim();
        await sandbox.kill();
        throw new Error(
          `sandbox ${spec.id} failed to start: ${started}${stderr ? `; stderr: ${stderr}` : ""}`,
        );
      }
      if (closed) {
        await sandbox.kill();
        throw new Error("the process provider is closed");
      }
      log("debug", "sandbox started", { sandbox: spec.id, pid: sandbox.pid, hostUid });
      return sandbox;
    } catch (e) {
      if (!sandbox) {
        // Never spawned: undo by hand what the sandbox would have cleaned up.
        await cgroup?.destroy();
        if (hostUid !== undefined) releaseUid(hostUid);
        // Only remove a directory this call made (an existing one means a duplicate id).
        if ((e as NodeJS.ErrnoException).code !== "EEXIST")
          await fs.rm(dir, { recursive: true, force: true });
      }
      throw e;
    }
  };

  return {
    name: "process",
    create,
    async close() {
      closed = true;
      await Promise.all([...live].map((s) => s.kill()));
    },
  };
}
