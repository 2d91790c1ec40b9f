/**
 * `checkProcessProvider()`: can the `process` provider run here? It checks that the launch chain's
 * programs exist, that the hand runtime is built and readable by an unprivileged uid, and that
 * bubblewrap actually starts a sandbox with the provider's namespaces.
 *
 * Invariants: never throws; leaves nothing behind; does not start a hand (that is `create()`'s job).
 */
import { locateHandRuntime, unreadableByOthers } from "./hand-files.js";
import { checkBwrap, findHostPrograms } from "./host.js";

export async function checkProcessProvider(): Promise<{ ok: boolean; reason?: string }> {
  if (process.platform !== "linux") return { ok: false, reason: "bubblewrap sandboxes need Linux" };
  const programs = findHostPrograms();
  if ("missing" in programs) return { ok: false, reason: `missing ${programs.missing}` };
  try {
    const runtime = locateHandRuntime();
    for (const b of runtime.binds) {
      const problem = unreadableByOthers(b.src);
      if (problem) return { ok: false, reason: problem };
    }
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const failure = await checkBwrap(programs);
  return failure === undefined ? { ok: true } : { ok: false, reason: failure };
}
