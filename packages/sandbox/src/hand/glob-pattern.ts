/**
 * Glob patterns → regular expressions over relative POSIX paths, for the hand's `glob` tool.
 *
 * Supported syntax (the subset of minimatch that Node 22's `fs.glob` gives the agent toolset):
 * `*`, `?`, `[abc]` / `[a-z]` / `[!abc]` / `[^abc]`, `{a,b}` (nested), `**` as a whole segment (zero or
 * more directories), and `\` to escape the next character.
 *
 * Invariants:
 * - Like minimatch without `dot`, a wildcard never matches a name starting with `.`; a segment that
 *   itself starts with a literal `.` does.
 * - `*`, `?` and classes never match `/`.
 * - Brace expansion is capped at {@link MAX_EXPANSIONS} alternatives (throws past it).
 * - `base` of each alternative holds only its leading literal segments (no magic, no escapes), so the
 *   walker can start there instead of at the root.
 */

export const MAX_EXPANSIONS = 256;

export class GlobPatternError extends Error {
  override readonly name = "GlobPatternError";
}

export interface CompiledGlob {
  /** Matches a whole relative path like `src/a/b.ts`. */
  regex: RegExp;
  /** Distinct starting directories (relative, `""` for the root), each with how deep a match can lie. */
  starts: { base: string; maxDepth: number }[];
}

/** Expands `{a,b}` alternatives (nested, escapes respected). A brace without a comma stays literal. */
export function expandBraces(pattern: string): string[] {
  const out: string[] = [];
  const stack = [pattern];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const range = findBraceGroup(p);
    if (!range) {
      out.push(p);
      if (out.length > MAX_EXPANSIONS) {
        throw new GlobPatternError(`pattern expands to more than ${MAX_EXPANSIONS} alternatives`);
      }
      continue;
    }
    const [open, close, commas] = range;
    const pre = p.slice(0, open);
    const post = p.slice(close + 1);
    let from = open + 1;
    for (const c of [...commas, close]) {
      stack.push(pre + p.slice(from, c) + post);
      from = c + 1;
    }
    if (stack.length > MAX_EXPANSIONS * 4) {
      throw new GlobPatternError(`pattern expands to more than ${MAX_EXPANSIONS} alternatives`);
    }
  }
  return [...new Set(out.reverse())];
}

/** The first top-level `{...}` with at least one top-level comma: [open, close, commas]. */
function findBraceGroup(p: string): [number, number, number[]] | undefined {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === "\\") {
      i++;
      continue;
    }
    if (p[i] !== "{") continue;
    let depth = 0;
    const commas: number[] = [];
    for (let j = i; j < p.length; j++) {
      const ch = p[j];
      if (ch === "\\") {
        j++;
        continue;
      }
      if (ch === "{") depth++;
      else if (ch === "}") {
        depth--;
        if (depth === 0) {
          if (commas.length > 0) return [i, j, commas];
          break;
        }
      } else if (ch === "," && depth === 1) commas.push(j);
    }
  }
  return undefined;
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;
const escapeRegex = (s: string): string => s.replace(REGEX_SPECIAL, "\\$&");

function hasMagic(segment: string): boolean {
  return /[*?[\\]/.test(segment);
}

/** Translates one path segment (not `**`) to a regex source. */
function segmentSource(seg: string): string {
  let src = "";
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i]!;
    if (ch === "\\" && i + 1 < seg.length) {
      src += escapeRegex(seg[++i]!);
    } else if (ch === "*") {
      src += "[^/]*";
    } else if (ch === "?") {
      src += "[^/]";
    } else if (ch === "[") {
      const cls = classSource(seg, i);
      if (cls) {
        src += cls.source;
        i = cls.end;
      } else {
        src += "\\[";
      }
    } else {
      src += escapeRegex(ch);
    }
  }
  // Without `dot`, a wildcard at the start does not match a leading ".".
  return seg.startsWith(".") ? src : `(?!\\.)${src}`;
}

/** `[...]` starting at `start`: its regex source and the index of its closing `]`, or undefined. */
function classSource(seg: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (seg[i] === "!" || seg[i] === "^") {
    negate = true;
    i++;
  }
  let body = "";
  let first = true;
  for (; i < seg.length; i++) {
    const ch = seg[i]!;
    if (ch === "]" && !first) {
      if (body === "") return undefined;
      return { source: `[${negate ? "^/" : ""}${body}]`, end: i };
    }
    first = false;
    if (ch === "\\" && i + 1 < seg.length) {
      body += `\\${seg[++i]!}`;
    } else if (ch === "-" && body !== "" && seg[i + 1] !== "]") {
      body += "-";
    } else {
      body += ch === "/" ? "" : /[\]\\^-]/.test(ch) ? `\\${ch}` : ch;
    }
  }
  return undefined;
}

/** Compiles one brace-free pattern. */
function compileOne(pattern: string): { source: string; base: string; maxDepth: number } {
  const segments = pattern.split("/").filter((s, i) => s !== "" && !(s === "." && i === 0));
  if (segments.length === 0) throw new GlobPatternError("empty pattern");
  const baseSegs: string[] = [];
  for (const seg of segments.slice(0, -1)) {
    if (hasMagic(seg) || seg === "**") break;
    baseSegs.push(seg);
  }
  let source = "";
  segments.forEach((seg, idx) => {
    const last = idx === segments.length - 1;
    if (seg === "**") {
      source += last ? "(?:(?!\\.)[^/]+/)*(?!\\.)[^/]+" : "(?:(?!\\.)[^/]+/)*";
    } else {
      source += segmentSource(seg) + (last ? "" : "/");
    }
  });
  const maxDepth = segments.includes("**") ? Number.POSITIVE_INFINITY : segments.length - baseSegs.length;
  return { source, base: baseSegs.join("/"), maxDepth };
}

export function compileGlob(pattern: string): CompiledGlob {
  const parts = expandBraces(pattern).map(compileOne);
  const regex = new RegExp(`^(?:${parts.map((p) => p.source).join("|")})$`);
  const byBase = new Map<string, number>();
  for (const p of parts) byBase.set(p.base, Math.max(byBase.get(p.base) ?? 0, p.maxDepth));
  // A base below another base is already covered by the walk from the shorter one.
  const bases = [...byBase.keys()].sort((a, b) => a.length - b.length);
  const starts: CompiledGlob["starts"] = [];
  for (const base of bases) {
    const covering = starts.find((s) => s.base === "" || base.startsWith(`${s.base}/`));
    if (covering) {
      const extra =
        base === ""
          ? 0
          : base.split("/").length - (covering.base === "" ? 0 : covering.base.split("/").length);
      covering.maxDepth = Math.max(covering.maxDepth, byBase.get(base)! + extra);
    } else {
      starts.push({ base, maxDepth: byBase.get(base)! });
    }
  }
  return { regex, starts };
}
