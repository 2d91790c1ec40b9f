/**
 * Per-sandbox cgroups for the `process` provider: a memory limit and a task (process + thread) limit
 * for the whole sandbox, and counters that tell when either was hit.
 *
 * Works with cgroup v2 (a unified hierarchy offering `memory` and `pids`) or, failing that, with the
 * v1 `memory` and `pids` hierarchies. Every sandbox gets `<hierarchy>/tendon-sandbox/<name>`; the
 * launcher joins it before it execs bwrap (see ./args.ts), so nothing the sandbox forks escapes it.
 *
 * On the machine this was built on (Firecracker VM, kernel 6.18, root): the unified hierarchy offers
 * only `hugetlb`, so v2 is out; v1 `memory` and `pids` are mounted read-write and sub-cgroups with
 * `memory.limit_in_bytes` / `pids.max` work (an over-limit allocation is OOM-killed, an over-limit
 * fork fails with EAGAIN). The v2 branch follows the kernel's cgroup-v2 documentation and has not run
 * here.
 *
 * Invariants:
 * - `detectCgroups()` never throws: it returns `{ ok: false, reason }` and the provider falls back to
 *   rlimits. It makes (and keeps) only the `tendon-sandbox` parent directories.
 * - `SandboxCgroup.destroy()` kills whatever is still inside, waits for it to leave, and removes the
 *   directories; it is idempotent and never throws (a cgroup that cannot be removed is logged by the
 *   caller through the returned reason).
 * - Nothing here touches a cgroup other than `tendon-sandbox` and its children.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";

const PARENT = "tendon-sandbox";

export interface CgroupCounters {
  /** OOM kills inside the sandbox's cgroup so far. */
  oomKills: number;
  /** Forks refused because the task limit was reached so far. */
  pidsMax: number;
}

export interface SandboxCgroup {
  /** Files the launcher writes its pid into. */
  readonly procsFiles: string[];
  counters(): Promise<CgroupCounters>;
  /** Kills what is left inside and removes the cgroup; resolves with a reason if it could not. */
  destroy(): Promise<string | undefined>;
}

export interface CgroupSupport {
  ok: true;
  version: 1 | 2;
  /** Removes sandbox cgroups that are empty and older than a minute (left by a dead provider). */
  sweep(): Promise<number>;
  /** Makes the cgroup of one sandbox with these limits. */
  create(name: string, limits: { memoryBytes: number; maxTasks: number }): Promise<SandboxCgroup>;
}

export type CgroupDetection = CgroupSupport | { ok: false; reason: string };

interface Mount {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

async function readMounts(): Promise<Mount[]> {
  const text = await fs.readFile("/proc/self/mountinfo", "utf8");
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const mountPoint = left[4];
    if (!mountPoint || !right[0]) continue;
    mounts.push({
      mountPoint: mountPoint.replace(/\\040/g, " "),
      fsType: right[0],
      superOptions: (right[2] ?? "").split(","),
    });
  }
  return mounts;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, "utf8");
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** The number after `key ` in a flat-keyed cgroup file (`memory.events`, `pids.events`, …). */
export function keyedValue(text: string | undefined, key: string): number {
  if (!text) return 0;
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v) || 0;
  }
  return 0;
}

async function ensureDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
}

/** Moves every pid listed in `procsFile` out of existence (SIGKILL), until the cgroup is empty. */
async function killAll(procsFile: string): Promise<void> {
  for (let round = 0; round < 200; round++) {
    const text = await readText(procsFile);
    const pids = (text ?? "")
      .split("\n")
      .map((s) => Number(s))
      .filter((n) => Number.isInteger(n) && n > 0);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    // Dying tasks stay listed until they are reaped; give them a moment without busy-looping.
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function removeDir(dir: string): Promise<string | undefined> {
  let last: unknown;
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await fs.rmdir(dir);
      return undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      last = e;
      if ((e as NodeJS.ErrnoException).code !== "EBUSY") break;
      await killAll(path.join(dir, "cgroup.procs"));
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return `could not remove cgroup ${dir}: ${last instanceof Error ? last.message : String(last)}`;
}

/** A live sandbox joins its cgroup milliseconds after it is made; an empty one this old is litter. */
const STALE_EMPTY_MS = 60_000;

async function sweepParents(parents: string[]): Promise<number> {
  let removed = 0;
  for (const parent of parents) {
    let names: string[];
    try {
      names = (await fs.readdir(parent, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = path.join(parent, name);
      try {
        const procs = (await readText(path.join(dir, "cgroup.procs")))?.trim();
        if (procs !== "") continue;
        if (Date.now() - (await fs.stat(dir)).mtimeMs < STALE_EMPTY_MS) continue;
        await fs.rmdir(dir);
        removed++;
      } catch {
        // in use again, or gone already
      }
    }
  }
  return removed;
}

function uniqueName(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

async function detectV2(mounts: Mount[]): Promise<CgroupDetection> {
  const unified = mounts.find((m) => m.fsType === "cgroup2");
  if (!unified) return { ok: false, reason: "no cgroup2 mount" };
  const root = unified.mountPoint;
  const controllers = ((await readText(path.join(root, "cgroup.controllers"))) ?? "").split(/\s+/);
  const missing = ["memory", "pids"].filter((c) => !controllers.includes(c));
  if (missing.length > 0) {
    return { ok: false, reason: `cgroup v2 at ${root} lacks the ${missing.join(" and ")} controller(s)` };
  }
  const parent = path.join(root, PARENT);
  try {
    await fs.writeFile(path.join(root, "cgroup.subtree_control"), "+memory +pids");
    await ensureDir(parent);
    await fs.writeFile(path.join(parent, "cgroup.subtree_control"), "+memory +pids");
  } catch (e) {
    return { ok: false, reason: `cgroup v2 at ${root} is not writable here: ${(e as Error).message}` };
  }
  return {
    ok: true,
    version: 2,
    sweep: () => sweepParents([parent]),
    async create(name, limits) {
      const dir = path.join(parent, uniqueName(name));
      await fs.mkdir(dir);
      try {
        await fs.writeFile(path.join(dir, "memory.max"), String(limits.memoryBytes));
        if (await exists(path.join(dir, "memory.swap.max"))) {
          await fs.writeFile(path.join(dir, "memory.swap.max"), "0");
        }
        await fs.writeFile(path.join(dir, "pids.max"), String(limits.maxTasks));
      } catch (e) {
        await removeDir(dir);
        throw e;
      }
      let destroyed: Promise<string | undefined> | undefined;
      return {
        procsFiles: [path.join(dir, "cgroup.procs")],
        async counters() {
          return {
            oomKills: keyedValue(await readText(path.join(dir, "memory.events")), "oom_kill"),
            pidsMax: keyedValue(await readText(path.join(dir, "pids.events")), "max"),
          };
        },
        destroy() {
          destroyed ??= (async () => {
            await fs.writeFile(path.join(dir, "cgroup.kill"), "1").catch(() => undefined);
            await killAll(path.join(dir, "cgroup.procs"));
            return removeDir(dir);
          })();
          return destroyed;
        },
      };
    },
  };
}

async function detectV1(mounts: Mount[]): Promise<CgroupDetection> {
  const v1 = (controller: string) =>
    mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes(controller))?.mountPoint;
  const memRoot = v1("memory");
  const pidsRoot = v1("pids");
  if (!memRoot || !pidsRoot) {
    return { ok: false, reason: "no cgroup v1 memory and pids hierarchies mounted" };
  }
  const memParent = path.join(memRoot, PARENT);
  const pidsParent = path.join(pidsRoot, PARENT);
  try {
    await ensureDir(memParent);
    await ensureDir(pidsParent);
  } catch (e) {
    return { ok: false, reason: `cgroup v1 hierarchies are not writable here: ${(e as Error).message}` };
  }
  return {
    ok: true,
    version: 1,
    sweep: () => sweepParents([memParent, pidsParent]),
    async create(name, limits) {
      const unique = uniqueName(name);
      const mem = path.join(memParent, unique);
      const pids = path.join(pidsParent, unique);
      await fs.mkdir(mem);
      try {
        await fs.mkdir(pids);
        await fs.writeFile(path.join(mem, "memory.limit_in_bytes"), String(limits.memoryBytes));
        // With swap accounting on, cap memory+swap at the same value: no swapping out of the limit.
        if (await exists(path.join(mem, "memory.memsw.limit_in_bytes"))) {
          await fs.writeFile(path.join(mem, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes));
        }
        await fs.writeFile(path.join(pids, "pids.max"), String(limits.maxTasks));
      } catch (e) {
        await removeDir(pids);
        await removeDir(mem);
        throw e;
      }
      let destroyed: Promise<string | undefined> | undefined;
      return {
        procsFiles: [path.join(mem, "cgroup.procs"), path.join(pids, "cgroup.procs")],
        async counters() {
          return {
            oomKills: keyedValue(await readText(path.join(mem, "memory.oom_control")), "oom_kill"),
            pidsMax: keyedValue(await readText(path.join(pids, "pids.events")), "max"),
          };
        },
        destroy() {
          destroyed ??= (async () => {
            await killAll(path.join(pids, "cgroup.procs"));
            await killAll(path.join(mem, "cgroup.procs"));
            const reasons = [await removeDir(pids), await removeDir(mem)].filter(Boolean);
            return reasons.length > 0 ? reasons.join("; ") : undefined;
          })();
          return destroyed;
        },
      };
    },
  };
}

/** Finds a usable cgroup setup: v2 first, then v1. Only root can write cgroups here. */
export async function detectCgroups(): Promise<CgroupDetection> {
  if (process.getuid?.() !== 0) return { ok: false, reason: "not running as root" };
  let mounts: Mount[];
  try {
    mounts = await readMounts();
  } catch (e) {
    return { ok: false, reason: `cannot read /proc/self/mountinfo: ${(e as Error).message}` };
  }
  const v2 = await detectV2(mounts);
  if (v2.ok) return v2;
  const v1 = await detectV1(mounts);
  if (v1.ok) return v1;
  return { ok: false, reason: `${v2.reason}; ${v1.reason}` };
}
