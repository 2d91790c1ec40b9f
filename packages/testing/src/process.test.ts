import { describe, expect, it } from "vitest";
import { spawnProcess } from "./process.js";

const node = process.execPath;

describe("spawnProcess", () => {
  it("resolves once the ready line appears and captures output", async () => {
    const seen: string[] = [];
    const p = await spawnProcess({
      name: "ready",
      command: node,
      args: [
        "-e",
        'console.log("booting"); console.error("listening on 1234"); setInterval(() => {}, 1000);',
      ],
      ready: /listening on \d+/,
      onLine: (line) => seen.push(line),
    });
    try {
      expect(p.pid).toBeGreaterThan(0);
      expect(p.running()).toBe(true);
      expect(p.lines()).toContain("listening on 1234");
      expect(seen).toContain("listening on 1234");
      expect(await p.waitForLine(/booting/)).toBe("booting");
    } finally {
      await p.stop();
    }
    expect(p.running()).toBe(false);
  });

  it("reports SIGKILL through exited", async () => {
    const p = await spawnProcess({
      name: "victim",
      command: node,
      args: ["-e", 'console.log("up"); setInterval(() => {}, 1000);'],
      ready: /^up$/,
    });
    p.kill("SIGKILL");
    await expect(p.exited).resolves.toEqual({ code: null, signal: "SIGKILL" });
  });

  it("reports a normal exit code", async () => {
    const p = await spawnProcess({ name: "exit3", command: node, args: ["-e", "process.exit(3)"] });
    await expect(p.exited).resolves.toEqual({ code: 3, signal: null });
  });

  it("passes only the given env plus PATH and HOME", async () => {
    process.env.TENDON_TESTING_LEAK_CHECK = "must-not-leak";
    try {
      const p = await spawnProcess({
        name: "env",
        command: node,
        args: ["-e", "console.log(JSON.stringify(process.env))"],
        env: { ONLY_THIS: "yes" },
      });
      await p.exited;
      const env = JSON.parse(p.lines().join("")) as Record<string, string>;
      const expected = [
        "ONLY_THIS",
        ...(["PATH", "HOME"] as const).filter((k) => process.env[k] !== undefined),
      ];
      expect(Object.keys(env).sort()).toEqual(expected.sort());
      expect(env.ONLY_THIS).toBe("yes");
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      delete process.env.TENDON_TESTING_LEAK_CHECK;
    }
  });

  it("stop() escalates to SIGKILL when SIGTERM is ignored, and also stops a SIGSTOPped child", async () => {
    const p = await spawnProcess({
      name: "stubborn",
      command: node,
      args: [
        "-e",
        'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000);',
      ],
      ready: /^up$/,
    });
    p.kill("SIGSTOP");
    await p.stop(300);
    await expect(p.exited).resolves.toEqual({ code: null, signal: "SIGKILL" });
    await p.stop(); // idempotent
  });

  it("stop() with a handled SIGTERM exits cleanly", async () => {
    const p = await spawnProcess({
      name: "polite",
      command: node,
      args: [
        "-e",
        'process.on("SIGTERM", () => process.exit(0)); console.log("up"); setInterval(() => {}, 1000);',
      ],
      ready: /^up$/,
    });
    await p.stop();
    await expect(p.exited).resolves.toEqual({ code: 0, signal: null });
  });

  it("rejects with the captured output when the child exits before its ready line", async () => {
    await expect(
      spawnProcess({
        name: "crasher",
        command: node,
        args: ["-e", 'console.error("fatal: bad config"); process.exit(2)'],
        ready: /never/,
      }),
    ).rejects.toThrow(/crasher: exited \(code 2\).*\n[\s\S]*fatal: bad config/);
  });

  it("rejects and kills the child when the ready line does not come in time", async () => {
    let pid = 0;
    const err = await spawnProcess({
      name: "slow",
      command: node,
      args: ["-e", "console.log(process.pid); setInterval(() => {}, 1000);"],
      ready: /never/,
      readyTimeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/slow: no output line matched/);
    pid = Number(/last output:\n(\d+)/.exec(String(err))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it("rejects when the command does not exist", async () => {
    await expect(
      spawnProcess({ name: "missing", command: "/nonexistent/tendon-binary", args: [] }),
    ).rejects.toThrow(/missing: failed to start .*ENOENT/);
  });

  it("keeps only the last maxLines lines", async () => {
    const p = await spawnProcess({
      name: "chatty",
      command: node,
      args: ["-e", "for (let i = 0; i < 50; i++) console.log('line ' + i)"],
      maxLines: 10,
    });
    await p.exited;
    expect(p.lines()).toHaveLength(10);
    expect(p.lines()[9]).toBe("line 49");
  });
});
