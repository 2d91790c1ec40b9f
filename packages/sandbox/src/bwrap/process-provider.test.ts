import { existsSync } from "node:fs";
import * as path from "node:path";
import { waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, SandboxDeadError } from "../provider.js";
import {
  asProcess,
  bash,
  type Fixture,
  handPid,
  hostProcessesOfUid,
  liveProcessesOfUid,
  startFixture,
  text,
  tool,
} from "../test-support/fixtures.js";
import { checkProcessProvider } from "./check.js";

// Real bubblewrap sandboxes, run as root like CI.
describe("process provider: the agent toolset", { timeout: 60_000 }, () => {
  let fx: Fixture;
  let s: Sandbox;

  beforeAll(async () => {
    fx = await startFixture();
    s = await fx.provider.create({ id: fx.id("tools"), env: { GREETING: "hello from spec.env" } });
  }, 180_000);

  afterAll(async () => {
    await fx?.close();
  });

  it("checkProcessProvider says bubblewrap works here", async () => {
    expect(await checkProcessProvider()).toEqual({ ok: true });
  });

  it("is alive, answers pings and names its provider", async () => {
    expect(s.alive).toBe(true);
    expect(s.provider).toBe("process");
    expect(await s.ping()).toBe(true);
  });

  it("runs bash in /workspace as the sandbox user, with spec.env", async () => {
    const r = await bash(s, "echo hi; pwd; id -un; echo $GREETING");
    expect(r).toEqual({
      content: [{ type: "text", text: "hi\n/workspace\nuser\nhello from spec.env" }],
      is_error: false,
    });
  });

  it("keeps shell state between calls", async () => {
    await bash(s, "export FOO=bar; mkdir -p sub && cd sub");
    expect(text(await bash(s, "echo $FOO; pwd"))).toBe("bar\n/workspace/sub");
    await bash(s, "cd /workspace");
  });

  it("write → read → edit → read", async () => {
    expect(await tool(s, "write", { file_path: "notes/a.txt", content: "one\ntwo\n" })).toMatchObject({
      is_error: false,
    });
    expect(text(await tool(s, "read", { file_path: "notes/a.txt" }))).toBe("one\ntwo\n");
    const edit = await tool(s, "edit", { file_path: "notes/a.txt", old_string: "two", new_string: "TWO" });
    expect(edit.is_error).toBe(false);
    expect(text(await tool(s, "read", { file_path: "/workspace/notes/a.txt" }))).toBe("one\nTWO\n");
    // Files written by the tools and by bash belong to the same user.
    expect(text(await bash(s, "echo three >> notes/a.txt && cat notes/a.txt"))).toBe("one\nTWO\nthree");
  });

  it("glob works on this Node version", async () => {
    await tool(s, "write", { file_path: "g/x.md", content: "x" });
    await tool(s, "write", { file_path: "g/deep/y.md", content: "y" });
    const r = await tool(s, "glob", { pattern: "g/**/*.md" });
    expect(r.is_error).toBe(false);
    expect(text(r).split("\n").sort()).toEqual(["/workspace/g/deep/y.md", "/workspace/g/x.md"]);
  });

  it("grep finds content", async () => {
    await tool(s, "write", { file_path: "grep/z.txt", content: "alpha\nneedle here\nomega\n" });
    const r = await tool(s, "grep", { pattern: "needle", path: "grep" });
    expect(r).toEqual({
      content: [{ type: "text", text: "/workspace/grep/z.txt:2:needle here\n" }],
      is_error: false,
    });
  });

  it("reports failures as is_error results", async () => {
    expect(await bash(s, "false")).toEqual({ content: [{ type: "text", text: "exit 1" }], is_error: true });
    const missing = await tool(s, "read", { file_path: "does/not/exist.txt" });
    expect(missing.is_error).toBe(true);
    expect(text(missing)).toMatch(/exist|ENOENT|no such/i);
    const shadow = await tool(s, "read", { file_path: "/etc/shadow" });
    expect(shadow.is_error).toBe(true);
    expect(text(shadow)).toMatch(/outside/);
    const up = await tool(s, "read", { file_path: "../x" });
    expect(up.is_error).toBe(true);
    expect(text(up)).toMatch(/outside/);
    const unknown = await s.execute({ id: "u", name: "rm" as never, input: {} });
    expect(unknown).toEqual({ content: [{ type: "text", text: "unknown tool rm" }], is_error: true });
  });

  it("cuts long output at maxOutputBytes with a note", async () => {
    const small = await fx.provider.create({ id: fx.id("small"), limits: { maxOutputBytes: 1000 } });
    try {
      // 48 KB: under the SDK's own 100 KB bash buffer, over our 1000-byte limit.
      const r = await bash(small, "seq 1 10000");
      expect(r.is_error).toBe(false);
      const t = text(r);
      expect(t.startsWith("1\n2\n3\n")).toBe(true);
      expect(t.endsWith("9999\n10000")).toBe(true);
      expect(t).toMatch(/output truncated/);
      expect(Buffer.byteLength(t)).toBeLessThan(1000 + 200);
    } finally {
      await small.kill();
    }
  });

  it("ends a call past its budget as an error, and the next call works", async () => {
    const r = await bash(s, "sleep 60", { timeoutMs: 300 });
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/timed out after 300ms/);
    expect(text(await bash(s, "echo still here"))).toBe("still here");
  });

  it("cancels a call through its AbortSignal", async () => {
    const ac = new AbortController();
    const call = s.execute({ id: "c", name: "bash", input: { command: "sleep 60" } }, { signal: ac.signal });
    ac.abort();
    const r = await call;
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/cancelled/);
    expect(text(await bash(s, "echo after cancel"))).toBe("after cancel");
  });

  it("restarts the shell on request, and the restart ends what the old shell left running", async () => {
    const uid = asProcess(s).hostUid!;
    await bash(s, "export KEEP=1; sleep 1000 &");
    expect(hostProcessesOfUid(uid).some((p) => p.cmdline.startsWith("sleep 1000"))).toBe(true);
    const r = await s.execute({ id: "r", name: "bash", input: { restart: true } });
    expect(r).toEqual({ content: [{ type: "text", text: "bash session restarted" }], is_error: false });
    expect(text(await bash(s, 'echo "[$KEEP]"; pwd'))).toBe("[]\n/workspace");
    expect(hostProcessesOfUid(uid).some((p) => p.cmdline.startsWith("sleep 1000"))).toBe(false);
  });

  it("runs calls one after another in order", async () => {
    const results = await Promise.all([
      bash(s, "echo 1 > order.txt"),
      bash(s, "echo 2 >> order.txt"),
      bash(s, "cat order.txt"),
    ]);
    expect(text(results[2]!)).toBe("1\n2");
  });

  it("refuses a duplicate or malformed id", async () => {
    await expect(fx.provider.create({ id: s.id })).rejects.toThrow(/in use/);
    await expect(fx.provider.create({ id: "../evil" })).rejects.toThrow(/id must match/);
    await expect(fx.provider.create({ id: fx.id("env"), env: { BASH_ENV: "/x" } })).rejects.toThrow(
      /not allowed/,
    );
    expect(await s.ping()).toBe(true);
  });
});

describe("process provider: lifecycle", { timeout: 60_000 }, () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture({ deadlineGraceMs: 500 });
  }, 180_000);

  afterAll(async () => {
    await fx?.close();
  });

  it("kill() leaves no process and no directory behind, and is idempotent", async () => {
    const s = await fx.provider.create({ id: fx.id("kill") });
    const uid = asProcess(s).hostUid!;
    await bash(s, "sleep 1000 & (setsid sleep 1000 &) ; echo started");
    expect(hostProcessesOfUid(uid).length).toBeGreaterThanOrEqual(4);
    const dir = path.join(fx.baseDir, s.id);
    expect(existsSync(dir)).toBe(true);
    await Promise.all([s.kill(), s.kill()]);
    await s.kill();
    expect(s.alive).toBe(false);
    expect(hostProcessesOfUid(uid)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    // The launcher reports its namespace init's death by SIGKILL as 128 + 9.
    expect(await s.exited).toEqual({ code: 137, signal: null });
    await expect(bash(s, "echo no")).rejects.toBeInstanceOf(SandboxDeadError);
    expect(await s.ping()).toBe(false);
  });

  it("rejects with SandboxDeadError when the sandbox was killed between two calls", async () => {
    const s = await fx.provider.create({ id: fx.id("dead") });
    expect(text(await bash(s, "echo first"))).toBe("first");
    const pid = handPid(s);
    expect(pid).toBeDefined();
    process.kill(pid!, "SIGKILL");
    const exit = await s.exited;
    expect(exit.code !== 0 || exit.signal !== null).toBe(true);
    expect(s.alive).toBe(false);
    await expect(bash(s, "echo second")).rejects.toBeInstanceOf(SandboxDeadError);
    expect(liveProcessesOfUid(asProcess(s).hostUid!)).toEqual([]);
    expect(existsSync(path.join(fx.baseDir, s.id))).toBe(false);
  });

  it("rejects with SandboxDeadError when the sandbox dies during a call", async () => {
    const s = await fx.provider.create({ id: fx.id("dies") });
    const call = bash(s, "sleep 60");
    // Wait until the command runs, then kill the launcher from outside.
    await waitFor(() =>
      hostProcessesOfUid(asProcess(s).hostUid!).some((p) => p.cmdline.startsWith("sleep 60")),
    );
    process.kill(asProcess(s).pid!, "SIGKILL");
    await expect(call).rejects.toBeInstanceOf(SandboxDeadError);
    await s.exited;
    expect(liveProcessesOfUid(asProcess(s).hostUid!)).toEqual([]);
  });

  it("kills the sandbox when the hand misses the deadline, and rejects with SandboxDeadError", async () => {
    const s = await fx.provider.create({ id: fx.id("stuck") });
    const pid = handPid(s)!;
    // A hand that no longer answers (stopped): the provider must not wait for it forever.
    process.kill(pid, "SIGSTOP");
    const call = s.execute({ id: "late", name: "bash", input: { command: "echo never" }, timeoutMs: 200 });
    await expect(call).rejects.toThrow(/did not answer call late within its 200 ms budget/);
    await expect(call).rejects.toBeInstanceOf(SandboxDeadError);
    await s.exited;
    expect(s.alive).toBe(false);
    expect(hostProcessesOfUid(asProcess(s).hostUid!)).toEqual([]);
  });

  it("close() kills every sandbox and refuses new ones", async () => {
    const own = await startFixture();
    const a = await own.provider.create({ id: own.id("a") });
    const b = await own.provider.create({ id: own.id("b") });
    await own.provider.close();
    expect(a.alive).toBe(false);
    expect(b.alive).toBe(false);
    await expect(own.provider.create({ id: own.id("c") })).rejects.toThrow(/closed/);
    await own.close();
  });
});
