/**
 * Test support for real sandboxes: a provider on a temporary base directory, result helpers, and a look
 * at the host's /proc to see which processes a sandbox (its own host uid) still has.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createProcessProvider, type ProcessProviderOptions } from "../bwrap/process-provider.js";
import type { ProcessSandbox } from "../bwrap/process-sandbox.js";
import type { Sandbox, SandboxProvider, ToolResult } from "../provider.js";
import { ensureHandBuilt } from "./build.js";

export interface Fixture {
  provider: SandboxProvider;
  baseDir: string;
  /** Sandbox ids unique to this fixture. */
  id(prefix: string): string;
  close(): Promise<void>;
}

export async function startFixture(opts: Partial<ProcessProviderOptions> = {}): Promise<Fixture> {
  await ensureHandBuilt();
  const baseDir = mkdtempSync(path.join(os.tmpdir(), "tendon-sbx-"));
  const provider = createProcessProvider({ baseDir, ...opts });
  const tag = path.basename(baseDir).slice(-6);
  let n = 0;
  return {
    provider,
    baseDir,
    id: (prefix) => `${prefix}-${tag}-${++n}`,
    async close() {
      await provider.close();
      rmSync(baseDir, { recursive: true, force: true });
    },
  };
}

export function text(r: ToolResult): string {
  return r.content.map((b) => (b.type === "text" ? b.text : `[image ${b.source.media_type}]`)).join("\n");
}

let seq = 0;
export function bash(s: Sandbox, command: string, extra: { timeoutMs?: number } = {}): Promise<ToolResult> {
  return s.execute({ id: `t${++seq}`, name: "bash", input: { command }, ...extra });
}

export function tool(
  s: Sandbox,
  name: "read" | "write" | "edit" | "glob" | "grep",
  input: Record<string, unknown>,
) {
  return s.execute({ id: `t${++seq}`, name, input });
}

/** Host pids whose real uid is `uid`, with their command lines and states (`Z` for a zombie). */
export function hostProcessesOfUid(uid: number): { pid: number; cmdline: string; state: string }[] {
  const out: { pid: number; cmdline: string; state: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (m && Number(m[1]) === uid) {
        const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ");
        out.push({ pid: Number(name), cmdline, state: /^State:\s+(\S)/m.exec(status)?.[1] ?? "?" });
      }
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * Host processes of `uid` that still run. When a sandbox ends on its own (its hand died), bwrap's outer
 * process exits without reaping the namespace init, which the host's PID 1 then reaps: for a moment it
 * is a zombie — dead, holding nothing but its pid. kill() does not have that window (see ProcessSandbox).
 */
export function liveProcessesOfUid(uid: number) {
  return hostProcessesOfUid(uid).filter((p) => p.state !== "Z");
}

export function asProcess(s: Sandbox): ProcessSandbox {
  return s as ProcessSandbox;
}

/** The host pid of the hand runtime (node) of a sandbox. */
export function handPid(s: Sandbox): number | undefined {
  const uid = asProcess(s).hostUid;
  if (uid === undefined) return undefined;
  return hostProcessesOfUid(uid).find(
    (p) =>
      /(^|\/)node$/.test(p.cmdline.split(" ")[0] ?? "") && p.cmdline.includes("/opt/tendon/hand/main.js"),
  )?.pid;
}
