/**
 * Searches a live process's memory for strings (root only: reads /proc/<pid>/mem). Used to prove
 * that a secret never entered a process (the harness, a sandbox): every readable mapping is
 * scanned for the string in one-byte and UTF-16 form, as V8 may hold either.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";

export function processMemoryContains(pid: number, needles: string[]): string[] {
  const patterns = needles.flatMap((n) => [
    { needle: n, bytes: Buffer.from(n, "latin1") },
    { needle: n, bytes: Buffer.from(n, "utf16le") },
  ]);
  const found = new Set<string>();
  const maps = readFileSync(`/proc/${pid}/maps`, "utf8").split("\n");
  const fd = openSync(`/proc/${pid}/mem`, "r");
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (r)/.exec(line);
      if (!m || line.includes("[vvar]") || line.includes("[vsyscall]")) continue;
      const start = BigInt(`0x${m[1]}`);
      const end = BigInt(`0x${m[2]}`);
      const size = Number(end - start);
      if (size <= 0 || size > 2 ** 31) continue;
      const chunk = 16 * 1024 * 1024;
      for (let off = 0; off < size; off += chunk) {
        const len = Math.min(chunk + 4096, size - off);
        const buf = Buffer.alloc(len);
        let n = 0;
        try {
          n = readSync(fd, buf, 0, len, Number(start) + off);
        } catch {
          break; // unreadable mapping
        }
        const view = buf.subarray(0, n);
        for (const p of patterns) if (view.includes(p.bytes)) found.add(p.needle);
      }
    }
  } finally {
    closeSync(fd);
  }
  return [...found];
}
