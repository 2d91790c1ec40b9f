/**
 * The hand's `glob` tool: the agent toolset's `glob` (same name, description, input schema `{pattern,
 * path?}` and result shape) with a walker that runs on Node 20 as well as 22.
 *
 * Why not the SDK's: it calls `fs.glob`, which arrived in Node 22; on Node 20 every call fails with
 * "fsGlob(...) is not a function". Shipping Node 22 into the sandbox (`npm i node@22`) would also work
 * but adds ~185 MB per install and a second Node to keep patched; this walker is ~150 lines.
 *
 * Invariants (the SDK's, kept):
 * - Absolute patterns and `..` in the pattern are refused; `path` goes through the SDK's `resolvePath`,
 *   which confines it to the workdir (symlink-aware).
 * - Only regular files are reported; symlinks are never followed (neither to files nor to directories),
 *   and a start directory whose real path lies outside the search root yields nothing.
 * - `.git` and `node_modules` are skipped; at most 50,000 entries are visited.
 * - Results are absolute paths, newest first by mtime, at most 200, or the text `no matches`.
 */
import type { Dirent } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { BetaRunnableTool } from "@anthropic-ai/sdk/lib/tools/BetaRunnableTool";
import { ToolError } from "@anthropic-ai/sdk/lib/tools/ToolError";
import { betaGlobTool, resolvePath } from "@anthropic-ai/sdk/tools/agent-toolset/node";
import { compileGlob, GlobPatternError } from "./glob-pattern.js";

const WALK_MAX_ENTRIES = 50_000;
const GLOB_RESULT_LIMIT = 200;
const SKIP_DIRS = new Set([".git", "node_modules"]);

function isWithin(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function patternCanAscend(pattern: string): boolean {
  return pattern.split(/[\\/{},]/).includes("..");
}

/** Finds files under `root` whose path relative to `root` matches `pattern`. */
export async function globFiles(
  root: string,
  pattern: string,
  signal?: AbortSignal | null,
): Promise<{ path: string; mtime: number }[]> {
  let compiled: ReturnType<typeof compileGlob>;
  try {
    compiled = compileGlob(pattern);
  } catch (e) {
    if (e instanceof GlobPatternError) throw new ToolError(`glob: ${e.message}`);
    throw e;
  }
  const realRoot = await fs.realpath(root);
  const found = new Map<string, number>();
  let remaining = WALK_MAX_ENTRIES;

  const walk = async (dirAbs: string, dirRel: string, depthLeft: number): Promise<void> => {
    if (depthLeft <= 0 || remaining <= 0 || signal?.aborted) return;
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dirAbs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (remaining-- <= 0 || signal?.aborted) return;
      const rel = dirRel === "" ? e.name : `${dirRel}/${e.name}`;
      const abs = path.join(dirAbs, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(abs, rel, depthLeft - 1);
      } else if (e.isFile() && compiled.regex.test(rel) && !found.has(abs)) {
        let mtime = 0;
        try {
          mtime = (await fs.lstat(abs)).mtimeMs;
        } catch {
          // gone or unreadable: keep it with mtime 0, as the SDK does
        }
        found.set(abs, mtime);
      }
    }
  };

  for (const start of compiled.starts) {
    const startAbs = start.base === "" ? root : path.join(root, start.base);
    let realStart: string;
    try {
      const st = await fs.lstat(startAbs);
      if (!st.isDirectory()) continue;
      realStart = await fs.realpath(startAbs);
    } catch {
      continue;
    }
    if (!isWithin(realRoot, realStart)) continue;
    await walk(startAbs, start.base, start.maxDepth);
  }
  return [...found].map(([p, mtime]) => ({ path: p, mtime }));
}

export function globTool(ctx: { workdir: string }): BetaRunnableTool {
  const sdk = betaGlobTool(ctx);
  const run: BetaRunnableTool["run"] = async (args: unknown, context) => {
    const { pattern, path: searchPath } = (args ?? {}) as { pattern?: unknown; path?: unknown };
    if (typeof pattern !== "string" || pattern === "") throw new ToolError("glob: pattern is required");
    if (searchPath !== undefined && typeof searchPath !== "string") {
      throw new ToolError("glob: path must be a string");
    }
    if (path.isAbsolute(pattern)) {
      throw new ToolError(
        "glob: absolute pattern not permitted; pass a relative pattern (and optionally path)",
      );
    }
    if (patternCanAscend(pattern)) throw new ToolError('glob: ".." is not permitted in the pattern');
    const root = searchPath ? await resolvePath(ctx, searchPath) : path.resolve(ctx.workdir);
    let matches: { path: string; mtime: number }[];
    try {
      matches = await globFiles(root, pattern, context?.signal);
    } catch (e) {
      if (e instanceof ToolError) throw e;
      throw new ToolError(`glob: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (matches.length === 0) return "no matches";
    matches.sort((a, b) => b.mtime - a.mtime);
    return matches
      .slice(0, GLOB_RESULT_LIMIT)
      .map((m) => m.path)
      .join("\n");
  };
  return { ...sdk, run };
}
