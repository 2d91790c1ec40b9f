/**
 * Host prerequisites of the `process` provider: the programs of the launch chain, the host uid of each
 * sandbox, and a quick end-to-end check that bubblewrap works here.
 *
 * Invariants:
 * - Programs are looked up in fixed system directories only, never through the caller's PATH.
 * - Host uids come from a range no distribution allocates ({@link UID_BASE} … +{@link UID_SPAN}); a uid
 *   is not handed out twice while it is in use in this process. Sandboxes of two processes could pick
 *   the same uid with probability ~n²/2·10⁻⁸; they would then share the host-level RLIMIT_NPROC count,
 *   nothing else (their PID namespaces and mounts are still apart).
 * - `checkBwrap` runs a throwaway sandbox with the same namespaces and never leaves anything behind.
 */
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { buildLaunchArgv } from "./args.js";
import { systemTree } from "./filesystem.js";

const SYSTEM_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"];

export function findProgram(name: string): string | undefined {
  for (const dir of SYSTEM_DIRS) {
    const p = `${dir}/${name}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface HostPrograms {
  bwrap: string;
  setpriv: string;
  prlimit: string;
  bash: string;
}

/** The launch chain's programs, or the reason they are not all there. */
export function findHostPrograms(): HostPrograms | { missing: string } {
  const bwrap = findProgram("bwrap");
  const setpriv = findProgram("setpriv");
  const prlimit = findProgram("prlimit");
  // The agent toolset runs /bin/bash by that path, so the launcher may rely on it too.
  const bash = existsSync("/bin/bash") ? "/bin/bash" : undefined;
  if (!bwrap) return { missing: "bwrap (install the bubblewrap package)" };
  if (!setpriv || !prlimit) return { missing: "setpriv/prlimit (install util-linux)" };
  if (!bash) return { missing: "/bin/bash" };
  return { bwrap, setpriv, prlimit, bash };
}

export const UID_BASE = 0x7000_0000;
export const UID_SPAN = 0x0800_0000;
const liveUids = new Set<number>();

export function allocateUid(): number {
  for (;;) {
    const uid = UID_BASE + randomInt(UID_SPAN);
    if (!liveUids.has(uid)) {
      liveUids.add(uid);
      return uid;
    }
  }
}

export function releaseUid(uid: number): void {
  liveUids.delete(uid);
}

/** Runs `/bin/true` in a sandbox with the provider's namespaces; resolves with the failure, if any. */
export function checkBwrap(programs: HostPrograms, timeoutMs = 10_000): Promise<string | undefined> {
  const isRoot = process.getuid?.() === 0;
  const hostId = isRoot ? allocateUid() : undefined;
  const bwrapArgs = [
    "--unshare-user",
    "--disable-userns",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-net",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
  ];
  for (const e of systemTree()) {
    if (e.kind === "symlink") bwrapArgs.push("--symlink", e.target, e.path);
    else bwrapArgs.push("--ro-bind-try", e.src, e.path);
  }
  bwrapArgs.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--", "/bin/true");
  const argv = buildLaunchArgv({
    bashPath: programs.bash,
    setprivPath: programs.setpriv,
    prlimitPath: programs.prlimit,
    keepFds: 2,
    cgroupProcs: [],
    hostId,
    nproc: 64,
    bwrapPath: programs.bwrap,
    bwrapArgv: bwrapArgs,
  });
  return new Promise((resolve) => {
    let stderr = "";
    const child = spawn(argv[0]!, argv.slice(1), { cwd: "/", env: {}, stdio: ["ignore", "ignore", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-2000);
    });
    const done = (reason: string | undefined) => {
      clearTimeout(timer);
      if (hostId !== undefined) releaseUid(hostId);
      resolve(reason);
    };
    child.on("error", (e) => done(`cannot start bwrap: ${e.message}`));
    child.on("close", (code, signal) => {
      if (code === 0) done(undefined);
      else done(`bwrap failed (${signal ?? `exit ${code}`}): ${stderr.trim() || "no output"}`);
    });
  });
}
