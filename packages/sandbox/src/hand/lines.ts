/**
 * Splits a byte stream into newline-terminated lines, with a cap on the length of one line.
 *
 * Invariants:
 * - `push` hands every complete line (without its newline, decoded as UTF-8) to `onLine`, in order.
 * - A line longer than `maxLineBytes` is never buffered whole: `onOverflow` is called once and the
 *   splitter then drops everything it is given (the stream is considered broken).
 * - Bytes after the last newline stay buffered until more data or `end()`; `end()` drops them.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  readonly #onLine: (line: string) => void;
  readonly #onOverflow: () => void;
  #parts: Buffer[] = [];
  #size = 0;
  #broken = false;

  constructor(opts: { maxLineBytes: number; onLine: (line: string) => void; onOverflow: () => void }) {
    this.#maxLineBytes = opts.maxLineBytes;
    this.#onLine = opts.onLine;
    this.#onOverflow = opts.onOverflow;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (!this.#broken && start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.#size + piece.length > this.#maxLineBytes) {
        this.#broken = true;
        this.#parts = [];
        this.#size = 0;
        this.#onOverflow();
        return;
      }
      if (nl < 0) {
        // Copy: the caller may reuse its buffer.
        this.#parts.push(Buffer.from(piece));
        this.#size += piece.length;
        return;
      }
      const line =
        this.#parts.length === 0
          ? piece.toString("utf8")
          : Buffer.concat([...this.#parts, piece]).toString("utf8");
      this.#parts = [];
      this.#size = 0;
      start = nl + 1;
      this.#onLine(line);
    }
  }

  end(): void {
    this.#parts = [];
    this.#size = 0;
  }
}
