import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { globTool } from "./glob.js";

// Runs on the Node that runs the tests (20 in CI), where the SDK's own glob fails.
describe("glob tool", () => {
  let root: string;
  let outside: string;
  const run = (input: Record<string, unknown>) => globTool({ workdir: root }).run(input);

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "tendon-glob-"));
    outside = mkdtempSync(path.join(os.tmpdir(), "tendon-glob-out-"));
    mkdirSync(path.join(root, "src/deep/er"), { recursive: true });
    mkdirSync(path.join(root, "node_modules/pkg"), { recursive: true });
    mkdirSync(path.join(root, ".git"), { recursive: true });
    writeFileSync(path.join(root, "a.txt"), "a");
    writeFileSync(path.join(root, "src/b.txt"), "b");
    writeFileSync(path.join(root, "src/deep/er/c.txt"), "c");
    writeFileSync(path.join(root, "src/main.ts"), "m");
    writeFileSync(path.join(root, ".hidden.txt"), "h");
    writeFileSync(path.join(root, "node_modules/pkg/x.txt"), "x");
    writeFileSync(path.join(root, ".git/y.txt"), "y");
    writeFileSync(path.join(outside, "secret.txt"), "s");
    symlinkSync(outside, path.join(root, "link-out"));
    symlinkSync(path.join(outside, "secret.txt"), path.join(root, "file-link.txt"));
    // Distinct mtimes: c newest, a oldest.
    utimesSync(path.join(root, "a.txt"), 1000, 1000);
    utimesSync(path.join(root, "src/b.txt"), 2000, 2000);
    utimesSync(path.join(root, "src/deep/er/c.txt"), 3000, 3000);
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("keeps the SDK tool's name and input schema", () => {
    const t = globTool({ workdir: "/x" });
    expect("name" in t && t.name).toBe("glob");
    expect("input_schema" in t && t.input_schema).toMatchObject({
      properties: { pattern: { type: "string" }, path: { type: "string" } },
      required: ["pattern"],
    });
  });

  it("finds regular files, newest first, as absolute paths", async () => {
    expect(await run({ pattern: "**/*.txt" })).toBe(
      [path.join(root, "src/deep/er/c.txt"), path.join(root, "src/b.txt"), path.join(root, "a.txt")].join(
        "\n",
      ),
    );
  });

  it("searches under `path` and matches relative to it", async () => {
    expect(await run({ pattern: "*.txt", path: "src" })).toBe(path.join(root, "src/b.txt"));
    expect(await run({ pattern: "*.ts", path: "src" })).toBe(path.join(root, "src/main.ts"));
  });

  it("skips .git, node_modules, dotfiles and every symlink", async () => {
    const out = String(await run({ pattern: "**/*" }));
    expect(out).not.toMatch(/node_modules|\.git|hidden|secret|file-link/);
    expect(await run({ pattern: "link-out/*.txt" })).toBe("no matches");
    expect(await run({ pattern: ".hidden.txt" })).toBe(path.join(root, ".hidden.txt"));
  });

  it("refuses absolute patterns, .. and paths outside the workdir", async () => {
    await expect(run({ pattern: "/etc/*" })).rejects.toThrow(/absolute pattern not permitted/);
    await expect(run({ pattern: "../*" })).rejects.toThrow(/".." is not permitted/);
    await expect(run({ pattern: "{a,..}/*" })).rejects.toThrow(/".." is not permitted/);
    await expect(run({ pattern: "*", path: outside })).rejects.toThrow(/outside/);
    await expect(run({ pattern: "*", path: "link-out" })).rejects.toThrow(/outside/);
    await expect(run({})).rejects.toThrow(/pattern is required/);
  });

  it("says so when nothing matches", async () => {
    expect(await run({ pattern: "*.nothing" })).toBe("no matches");
  });
});
