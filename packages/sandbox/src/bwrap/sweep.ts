/**
 * Removes what sandboxes of a dead provider process left behind. A provider that exits without
 * `close()` (a crash, a killed test worker) takes its sandboxes' processes with it (`--die-with-parent`),
 * but not their private directories or cgroups; the next provider on the host sweeps them up.
 *
 * Invariants:
 * - A sandbox directory is removed only when its `owner` file names a process that no longer exists
 *   (pid plus start time, so a reused pid does not count as the owner). Directories without one are
 *   left alone: they are not ours.
 * - Cgroups are handled by `CgroupSupport.sweep` (empty and older than a minute).
 */
import { readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";

export const OWNER_FILE = "owner";

/** "<pid> <start time in clock ticks since boot>" of a process, or undefined if it is gone. */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces and parens); start time is field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return `${pid} ${fields[19]}`;
  } catch {
    return undefined;
  }
}

export function ownIdentity(): string {
  return processIdentity(process.pid) ?? `${process.pid} ?`;
}

/** Deletes `<baseDir>/<id>` directories whose owner process is gone; returns how many. */
export async function sweepStaleSandboxDirs(baseDir: string): Promise<number> {
  let removed = 0;
  let entries: string[];
  try {
    entries = await fs.readdir(baseDir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const dir = path.join(baseDir, name);
    let owner: string;
    try {
      owner = (await fs.readFile(path.join(dir, OWNER_FILE), "utf8")).trim();
    } catch {
      continue;
    }
    const pid = Number(owner.split(" ")[0]);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (processIdentity(pid) === owner) continue;
    await fs.rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
