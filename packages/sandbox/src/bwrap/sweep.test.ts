import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OWNER_FILE, ownIdentity, processIdentity, sweepStaleSandboxDirs } from "./sweep.js";

describe("sweepStaleSandboxDirs", () => {
  let base: string | undefined;
  afterEach(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it("removes directories of dead owners only", async () => {
    base = mkdtempSync(path.join(os.tmpdir(), "tendon-sweep-"));
    const make = (name: string, owner?: string) => {
      mkdirSync(path.join(base!, name));
      if (owner !== undefined) writeFileSync(path.join(base!, name, OWNER_FILE), owner);
    };
    make("dead", "999999999 1");
    make("reused-pid", `${process.pid} 1`);
    make("alive", ownIdentity());
    make("foreign");
    expect(await sweepStaleSandboxDirs(base)).toBe(2);
    expect(existsSync(path.join(base, "dead"))).toBe(false);
    expect(existsSync(path.join(base, "reused-pid"))).toBe(false);
    expect(existsSync(path.join(base, "alive"))).toBe(true);
    expect(existsSync(path.join(base, "foreign"))).toBe(true);
  });

  it("identifies a process by pid and start time", () => {
    expect(processIdentity(process.pid)).toMatch(new RegExp(`^${process.pid} \\d+$`));
    expect(processIdentity(999999999)).toBeUndefined();
  });

  it("does nothing for a missing base directory", async () => {
    expect(await sweepStaleSandboxDirs("/nonexistent/tendon")).toBe(0);
  });
});
