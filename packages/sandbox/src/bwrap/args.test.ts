import { describe, expect, it } from "vitest";
import { type BwrapPlan, buildBwrapArgs, buildLaunchArgv, LAUNCH_SCRIPT } from "./args.js";

const plan = (over: Partial<BwrapPlan> = {}): BwrapPlan => ({
  root: [
    { kind: "ro-bind", path: "/usr", src: "/usr" },
    { kind: "symlink", path: "/bin", target: "usr/bin" },
    { kind: "ro-bind", path: "/etc/alternatives", src: "/etc/alternatives", optional: true },
  ],
  binds: [{ src: "/base/s1/etc/passwd", dest: "/etc/passwd", readOnly: true }],
  extraBinds: [],
  workdirBytes: 1000,
  tmpBytes: 250,
  shmBytes: 250,
  hostname: "sandbox",
  env: { PATH: "/usr/bin:/bin", HOME: "/workspace" },
  command: ["/usr/bin/node", "/opt/tendon/hand/main.js", "{}"],
  unshareCgroup: true,
  ...over,
});

/** Index of the flag `flag` followed by the given values. */
function indexOfSeq(args: string[], ...seq: string[]): number {
  return args.findIndex((_, i) => seq.every((s, j) => args[i + j] === s));
}

describe("buildBwrapArgs", () => {
  it("unshares every namespace and maps only the sandbox uid", () => {
    const a = buildBwrapArgs(plan()).options;
    for (const flag of [
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
    ]) {
      expect(a).toContain(flag);
    }
    expect(indexOfSeq(a, "--uid", "1000")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--gid", "1000")).toBeGreaterThanOrEqual(0);
    expect(a).not.toContain("--share-net");
    expect(a).not.toContain("--unshare-all");
  });

  it("keeps the cgroup namespace when asked", () => {
    expect(buildBwrapArgs(plan({ unshareCgroup: false })).options).not.toContain("--unshare-cgroup-try");
  });

  it("sets exactly the given environment after clearing it", () => {
    const a = buildBwrapArgs(plan()).options;
    const clear = a.indexOf("--clearenv");
    const sets = a.flatMap((x, i) => (x === "--setenv" ? [[a[i + 1], a[i + 2], i]] : []));
    expect(sets.map(([k, v]) => [k, v])).toEqual([
      ["PATH", "/usr/bin:/bin"],
      ["HOME", "/workspace"],
    ]);
    for (const [, , i] of sets) expect(i as number).toBeGreaterThan(clear);
  });

  it("binds the system tree read-only and mounts size-capped private tmpfs", () => {
    const a = buildBwrapArgs(plan()).options;
    expect(indexOfSeq(a, "--ro-bind", "/usr", "/usr")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--symlink", "usr/bin", "/bin")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--ro-bind-try", "/etc/alternatives", "/etc/alternatives")).toBeGreaterThanOrEqual(
      0,
    );
    expect(indexOfSeq(a, "--ro-bind", "/base/s1/etc/passwd", "/etc/passwd")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--size", "1000", "--tmpfs", "/workspace")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--size", "250", "--tmpfs", "/tmp")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--size", "250", "--tmpfs", "/dev/shm")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--proc", "/proc")).toBeGreaterThanOrEqual(0);
    expect(indexOfSeq(a, "--dev", "/dev")).toBeGreaterThanOrEqual(0);
    // No writable bind of any host path.
    expect(a).not.toContain("--bind");
    expect(a).not.toContain("--dev-bind");
  });

  it("makes /dev and the root read-only, the root last, and runs the command in /workspace", () => {
    const { options: a, command } = buildBwrapArgs(plan());
    expect(command).toEqual(["/usr/bin/node", "/opt/tendon/hand/main.js", "{}"]);
    expect(a).not.toContain("--");
    expect(a.slice(-4)).toEqual(["--remount-ro", "/", "--chdir", "/workspace"]);
    expect(indexOfSeq(a, "--remount-ro", "/dev")).toBeGreaterThan(indexOfSeq(a, "--tmpfs", "/dev/shm"));
  });

  it("asks for the namespace init's pid on the info fd", () => {
    expect(indexOfSeq(buildBwrapArgs(plan({ infoFd: 3 })).options, "--info-fd", "3")).toBeGreaterThanOrEqual(
      0,
    );
    expect(buildBwrapArgs(plan()).options).not.toContain("--info-fd");
  });

  it("adds extra binds (the egress-socket hook) after the tmpfs mounts, before the root goes read-only", () => {
    const a = buildBwrapArgs(
      plan({ extraBinds: [{ src: "/run/egress.sock", dest: "/run/tendon/egress.sock", readOnly: false }] }),
    ).options;
    const bind = indexOfSeq(a, "--bind", "/run/egress.sock", "/run/tendon/egress.sock");
    expect(bind).toBeGreaterThan(indexOfSeq(a, "--tmpfs", "/tmp"));
    expect(bind).toBeLessThan(indexOfSeq(a, "--remount-ro", "/"));
  });

  it("mounts nothing of the host's home, work or state directories", () => {
    const a = buildBwrapArgs(plan()).options;
    for (const p of ["/root", "/home", "/var", "/srv", "/work", "/run"]) {
      expect(a.some((x) => x === p || x.startsWith(`${p}/`))).toBe(false);
    }
  });
});

describe("buildLaunchArgv", () => {
  const base = {
    bashPath: "/bin/bash",
    setprivPath: "/usr/bin/setpriv",
    prlimitPath: "/usr/bin/prlimit",
    keepFds: 4,
    nproc: 320,
    bwrapPath: "/usr/bin/bwrap",
    bwrapArgv: ["--args", "4", "--", "/usr/bin/node"],
  };

  it("closes fds and joins the cgroups, drops to the sandbox uid, limits processes, then runs bwrap", () => {
    const argv = buildLaunchArgv({
      ...base,
      cgroupProcs: ["/cg/mem/procs", "/cg/pids/procs"],
      hostId: 1234567,
    });
    expect(argv).toEqual([
      "/bin/bash",
      "-c",
      LAUNCH_SCRIPT,
      "tendon-sandbox",
      "4",
      "/cg/mem/procs",
      "/cg/pids/procs",
      "--",
      "/usr/bin/setpriv",
      "--reuid=1234567",
      "--regid=1234567",
      "--clear-groups",
      "--",
      "/usr/bin/prlimit",
      "--nproc=320",
      "--core=0",
      "--",
      "/usr/bin/bwrap",
      "--args",
      "4",
      "--",
      "/usr/bin/node",
    ]);
    expect(LAUNCH_SCRIPT).toContain('exec -c "$@"');
  });

  it("skips the uid drop without a host uid, and joins no cgroup without one", () => {
    const argv = buildLaunchArgv({ ...base, cgroupProcs: [], hostId: undefined });
    expect(argv.slice(3, 7)).toEqual(["tendon-sandbox", "4", "--", "/usr/bin/prlimit"]);
    expect(argv).not.toContain("/usr/bin/setpriv");
  });
});
