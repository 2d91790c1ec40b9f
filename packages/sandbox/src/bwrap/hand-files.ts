/**
 * Finds what the hand runtime needs at run time and nothing more: this package's built `dist/hand/`
 * directory and the installed packages it imports (`zod`, `@anthropic-ai/sdk`) with their runtime
 * dependencies, each resolved through pnpm's symlinks to its real directory. The provider bind-mounts
 * exactly these, read-only, under /opt/tendon (see ./args.ts).
 *
 * Why binds and not a bundle: the build stays `tsc -b` (no bundler in the toolchain), the SDK runs as
 * published (its `.mjs` files, unmodified), and the binds cost nothing per sandbox beyond a few mounts.
 *
 * Invariants:
 * - Every package lands at /opt/tendon/node_modules/<name>, so Node's resolution from the hand (and
 *   from each package) finds it by walking up. Two different versions of one name cannot both be
 *   flattened; that throws (it does not happen for the SDK's current tree).
 * - `dist/hand` is found from this module's own location, in `src/` (tests) as in `dist/` (processes);
 *   a missing build throws with the command that makes it.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { HAND_ROOT } from "./args.js";

/** The packages `hand/*.ts` import. */
const HAND_IMPORTS = ["zod", "@anthropic-ai/sdk"];

export interface HandRuntime {
  /** Host directory holding main.js and its sibling modules. */
  handDir: string;
  /** Host directory → sandbox directory, for the hand and each package. */
  binds: { src: string; dest: string }[];
  /** The command's script path inside the sandbox. */
  entry: string;
}

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Finds `node_modules/<name>` from `fromDir` upwards and returns its real path. */
function findPackageDir(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return realpathSync(candidate);
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function runtimeDeps(pkgDir: string): { required: string[]; optional: string[] } {
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  return {
    required: Object.keys(pkg.dependencies ?? {}),
    optional: [...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})],
  };
}

/** The closure of `roots` and their runtime dependencies: name → real directory. */
export function packageClosure(roots: string[], fromDir: string): Map<string, string> {
  const found = new Map<string, string>();
  const queue: { name: string; from: string; optional: boolean }[] = roots.map((name) => ({
    name,
    from: fromDir,
    optional: false,
  }));
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift()!;
    const dir = findPackageDir(name, from);
    if (!dir) {
      if (optional) continue;
      throw new Error(
        `the hand runtime needs the package ${name}, which is not installed (looked from ${from})`,
      );
    }
    const seen = found.get(name);
    if (seen !== undefined) {
      if (seen !== dir) {
        throw new Error(
          `the hand runtime needs two versions of ${name} (${seen} and ${dir}); cannot flatten`,
        );
      }
      continue;
    }
    found.set(name, dir);
    const deps = runtimeDeps(dir);
    for (const dep of deps.required) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of deps.optional) queue.push({ name: dep, from: dir, optional: true });
  }
  return found;
}

let cached: HandRuntime | undefined;

/** Locates the hand runtime (memoised). Throws when it is not built or a package is missing. */
export function locateHandRuntime(): HandRuntime {
  if (cached) return cached;
  const handDir = path.join(PACKAGE_ROOT, "dist", "hand");
  if (!existsSync(path.join(handDir, "main.js"))) {
    throw new Error(
      `the hand runtime is not built (${handDir}/main.js is missing): run \`pnpm build\` or \`npx tsc -b packages/sandbox\``,
    );
  }
  const binds = [{ src: handDir, dest: `${HAND_ROOT}/hand` }];
  for (const [name, dir] of packageClosure(HAND_IMPORTS, PACKAGE_ROOT)) {
    binds.push({ src: dir, dest: `${HAND_ROOT}/node_modules/${name}` });
  }
  cached = { handDir, binds, entry: `${HAND_ROOT}/hand/main.js` };
  return cached;
}

/**
 * Why an unprivileged uid could not read `p` (every ancestor must be searchable by "other", and the
 * path itself readable, and searchable if a directory — or only searchable with `searchOnly`), or
 * undefined when it can. bwrap runs as the
 * sandbox's own uid, so every bind source has to pass this.
 */
export function unreadableByOthers(p: string, opts: { searchOnly?: boolean } = {}): string | undefined {
  let cur = path.resolve(p);
  let st = statSync(cur);
  const need = opts.searchOnly ? 0o001 : st.isDirectory() ? 0o005 : 0o004;
  if ((st.mode & need) !== need)
    return `${cur} is not readable by other users (mode ${(st.mode & 0o777).toString(8)})`;
  for (;;) {
    const up = path.dirname(cur);
    if (up === cur) return undefined;
    cur = up;
    st = statSync(cur);
    if ((st.mode & 0o001) === 0) {
      return `${cur} is not searchable by other users (mode ${(st.mode & 0o777).toString(8)})`;
    }
  }
}
