/**
 * Builds the command line that starts one `process` sandbox. Pure: no file system, no environment.
 *
 * The launch chain (each step `exec`s the next, so they are all one host process, our direct child):
 *   /bin/bash -c LAUNCH_SCRIPT <keep> <cgroup.procs…> --  (closes inherited fds, joins the cgroups so
 *                                                         everything the sandbox forks is inside, and
 *                                                         clears the environment)
 *   setpriv --reuid=N --regid=N --clear-groups --         (as root: drop to the sandbox's own host uid N)
 *   prlimit --nproc=P --core=0 --                         (limits for the whole sandbox, hand included)
 *   bwrap --args 4 -- node /opt/tendon/hand/main.js '<config>'   (options arrive on fd 4)
 *
 * Invariants of the bwrap arguments:
 * - New user namespace (inside uid/gid 1000 ↔ host uid/gid N, nothing else mapped), no further user
 *   namespaces (`--disable-userns`), and new PID, IPC, UTS, network (loopback only) and cgroup namespaces.
 * - `--die-with-parent`, `--new-session`, `--clearenv`: the hand's environment is exactly `plan.env`.
 * - The file system is a fresh tmpfs root that ends read-only (`--remount-ro /`): read-only binds of the
 *   system tree and of the hand runtime, a synthetic /etc, private size-capped tmpfs for /workspace, /tmp
 *   and /dev/shm (the only writable places), a private /proc and a minimal /dev that also ends read-only.
 * - `plan.extraBinds` (the hook for e.g. an egress-proxy socket) go in after everything else but before
 *   the root is made read-only; their destinations must not shadow the mounts above.
 */

export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const WORKDIR = "/workspace";
export const HAND_ROOT = "/opt/tendon";

export type RootEntry =
  | { kind: "symlink"; path: string; target: string }
  | { kind: "ro-bind"; path: string; src: string; optional?: boolean };

export interface Bind {
  src: string;
  dest: string;
  readOnly: boolean;
  /** Skip silently when `src` does not exist. */
  optional?: boolean;
}

export interface BwrapPlan {
  /** The system tree: /usr, the /bin → usr/bin style links, safe parts of the host's /etc. */
  root: RootEntry[];
  /** Further read-only binds: the synthetic /etc files, the hand runtime and its modules. */
  binds: Bind[];
  /** Extra binds (read-write or not) a deployment adds, e.g. a unix socket to an egress proxy. */
  extraBinds: Bind[];
  workdirBytes: number;
  tmpBytes: number;
  shmBytes: number;
  hostname: string;
  env: Record<string, string>;
  command: string[];
  /** `--unshare-cgroup-try` (false: keep the host's cgroup namespace). */
  unshareCgroup: boolean;
  /** fd bwrap writes `{"child-pid": …}` to (the PID namespace's init, as seen from the host). */
  infoFd?: number;
}

/** bwrap's options (passed through `--args FD`, so host paths do not show in the sandbox's /proc) and the command. */
export function buildBwrapArgs(plan: BwrapPlan): { options: string[]; command: string[] } {
  const a: string[] = [
    "--unshare-user",
    "--uid",
    String(SANDBOX_UID),
    "--gid",
    String(SANDBOX_GID),
    "--disable-userns",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-net",
  ];
  if (plan.unshareCgroup) a.push("--unshare-cgroup-try");
  a.push("--hostname", plan.hostname, "--die-with-parent", "--new-session", "--clearenv");
  if (plan.infoFd !== undefined) a.push("--info-fd", String(plan.infoFd));
  for (const [k, v] of Object.entries(plan.env)) a.push("--setenv", k, v);

  for (const e of plan.root) {
    if (e.kind === "symlink") a.push("--symlink", e.target, e.path);
    else a.push(e.optional ? "--ro-bind-try" : "--ro-bind", e.src, e.path);
  }
  for (const b of plan.binds) a.push(...bindArgs(b));

  a.push("--proc", "/proc", "--dev", "/dev");
  a.push("--size", String(plan.shmBytes), "--tmpfs", "/dev/shm", "--remount-ro", "/dev");
  a.push("--size", String(plan.workdirBytes), "--tmpfs", WORKDIR);
  a.push("--size", String(plan.tmpBytes), "--tmpfs", "/tmp");

  for (const b of plan.extraBinds) a.push(...bindArgs(b));

  a.push("--remount-ro", "/", "--chdir", WORKDIR);
  return { options: a, command: plan.command };
}

function bindArgs(b: Bind): string[] {
  const flag = b.readOnly
    ? b.optional
      ? "--ro-bind-try"
      : "--ro-bind"
    : b.optional
      ? "--bind-try"
      : "--bind";
  return [flag, b.src, b.dest];
}

/**
 * The first step of every launch, run by /bin/bash as the provider's user. Arguments: the highest fd to
 * keep, the cgroup.procs files to join, `--`, then the command. It closes every inherited fd above the
 * kept ones (Node does not close fds it did not open, so whatever this process inherited would
 * otherwise reach the sandbox), joins the cgroups (before anything forks, so nothing escapes them), and
 * execs the command with an empty environment (`exec -c`).
 */
export const LAUNCH_SCRIPT = [
  "keep=$1; shift",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
  'for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt "$keep" ]; then eval "exec $n>&-" 2>/dev/null; fi; done',
  'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; shift',
  'exec -c "$@"',
].join("\n");

export interface LaunchPlan {
  bashPath: string;
  setprivPath: string;
  prlimitPath: string;
  /** Highest fd the sandbox gets from us (2 for plain stdio; 4 with --info-fd 3 and --args 4). */
  keepFds: number;
  /** cgroup.procs files to join before anything else (empty: no cgroup). */
  cgroupProcs: string[];
  /** Host uid/gid the sandbox runs as; undefined keeps the caller's (a non-root provider). */
  hostId: number | undefined;
  /** RLIMIT_NPROC for the whole sandbox (per user namespace, so per sandbox). */
  nproc: number;
  bwrapPath: string;
  /** What follows `bwrap` on its command line. */
  bwrapArgv: string[];
}

/** The full argv; `[0]` is the program to spawn. */
export function buildLaunchArgv(p: LaunchPlan): string[] {
  const argv = [p.bashPath, "-c", LAUNCH_SCRIPT, "tendon-sandbox", String(p.keepFds), ...p.cgroupProcs, "--"];
  if (p.hostId !== undefined) {
    argv.push(p.setprivPath, `--reuid=${p.hostId}`, `--regid=${p.hostId}`, "--clear-groups", "--");
  }
  argv.push(p.prlimitPath, `--nproc=${p.nproc}`, "--core=0", "--");
  argv.push(p.bwrapPath, ...p.bwrapArgv);
  return argv;
}
