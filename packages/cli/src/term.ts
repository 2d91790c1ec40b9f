/**
 * The terminal the CLI writes to, as a small port: real stdout/stderr in `main`, a fake in unit
 * tests. Colour is on only for a TTY (unless NO_COLOR / FORCE_COLOR say otherwise).
 */
export interface Term {
  write(s: string): void;
  readonly isTTY: boolean;
  /** Width for folding lines; 80 when unknown. */
  readonly columns: number;
  readonly color: boolean;
}

export function processTerm(stream: NodeJS.WriteStream, color: "never" | "always" | "auto"): Term {
  const isTTY = stream.isTTY === true;
  return {
    write: (s) => void stream.write(s),
    isTTY,
    get columns() {
      return stream.columns && stream.columns > 20 ? stream.columns : 80;
    },
    color: color === "always" || (color === "auto" && isTTY),
  };
}

const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const;
export type Style = keyof typeof CODES;

export function paint(term: Pick<Term, "color">, style: Style, s: string): string {
  return term.color && s !== "" ? `\x1b[${CODES[style]}m${s}\x1b[0m` : s;
}

/** Removes ANSI escapes (colours, cursor moves): what a person reads. */
export function stripAnsi(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

/** One line, at most `width` characters, with an ellipsis when cut. */
export function oneLine(s: string, width: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  if (width <= 1) return flat.slice(0, Math.max(width, 0));
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** Fixed-width columns; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
