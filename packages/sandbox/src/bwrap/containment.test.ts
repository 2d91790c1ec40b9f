import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../provider.js";
import { resolveLimits } from "../provider.js";
import {
  asProcess,
  bash,
  type Fixture,
  hostProcessesOfUid,
  startFixture,
  text,
  tool,
} from "../test-support/fixtures.js";
import { detectCgroups } from "./cgroups.js";
import { PACKAGE_ROOT } from "./hand-files.js";
import { maxTasks } from "./limits.js";

const REPO_ROOT = path.resolve(PACKAGE_ROOT, "..", "..");

// Every attempt below must fail inside the sandbox and leave the host and a neighbouring sandbox unharmed.
describe("process provider: containment", { timeout: 60_000 }, () => {
  const canary = `canary-${randomBytes(8).toString("hex")}`;
  const rootCanary = `/root/tendon-canary-${randomBytes(4).toString("hex")}.txt`;
  const tmpCanary = path.join(os.tmpdir(), `tendon-canary-${randomBytes(4).toString("hex")}.txt`);
  let fx: Fixture;
  let a: Sandbox;
  let b: Sandbox;
  let server: net.Server;
  let serverPort = 0;
  let serverConnections = 0;
  /** With cgroups, a call during which a limit was hit says which one. */
  let cgroups = false;

  /** The host and the neighbour still work. */
  async function othersUnharmed(): Promise<void> {
    expect(execFileSync("/bin/echo", ["host ok"], { encoding: "utf8" })).toBe("host ok\n");
    expect(await bash(b, "echo neighbour ok")).toEqual({
      content: [{ type: "text", text: "neighbour ok" }],
      is_error: false,
    });
  }

  beforeAll(async () => {
    process.env.TENDON_CANARY_SECRET = canary;
    writeFileSync(rootCanary, canary, { mode: 0o644 });
    writeFileSync(tmpCanary, canary, { mode: 0o644 });
    server = net.createServer((socket) => {
      serverConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    serverPort = (server.address() as net.AddressInfo).port;
    cgroups = (await detectCgroups()).ok;
    fx = await startFixture();
    [a, b] = await Promise.all([
      fx.provider.create({ id: fx.id("a") }),
      fx.provider.create({ id: fx.id("b") }),
    ]);
  }, 180_000);

  afterAll(async () => {
    delete process.env.TENDON_CANARY_SECRET;
    rmSync(rootCanary, { force: true });
    rmSync(tmpCanary, { force: true });
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it("does not see the host's environment", async () => {
    const out = text(
      await bash(
        a,
        "env; echo; cat /proc/1/environ; echo; cat /proc/self/environ; echo; cat /proc/*/environ 2>/dev/null; true",
      ),
    );
    expect(out).not.toContain(canary);
    expect(out).not.toContain("TENDON_CANARY");
    const names = text(await bash(a, "env | cut -d= -f1 | sort | tr '\\n' ' '"));
    expect(names.trim().split(" ").sort()).toEqual(
      [
        "HOME",
        "LANG",
        "LOGNAME",
        "OLDPWD",
        "PATH",
        "PS1",
        "PS2",
        "PWD",
        "SHELL",
        "SHLVL",
        "TERM",
        "TMPDIR",
        "USER",
        "_",
      ]
        .filter((n) => names.includes(`${n} `) || names.endsWith(n))
        .sort(),
    );
    expect(names).not.toMatch(/ANTHROPIC|NATS|PG|DATABASE|SECRET|TOKEN|KEY/);
    expect(text(await bash(a, "cat /proc/1/environ | wc -c"))).toBe("0");
  });

  it("cannot read host files outside the workdir and the read-only tree", async () => {
    const out = text(
      await bash(
        a,
        [
          `cat ${rootCanary}`,
          `cat ${tmpCanary}`,
          `cat ${REPO_ROOT}/AGENTS.md`,
          `cat ${PACKAGE_ROOT}/src/index.ts`,
          `cat ${fx.baseDir}/${b.id}/etc/passwd`,
          "ls /root /home /work /var /srv /run /sys /mnt /media /boot",
          "cat /etc/shadow /etc/ssh/ssh_host_ed25519_key",
          "ls /",
          "true",
        ].join(" 2>&1; "),
      ),
    );
    expect(out).not.toContain(canary);
    expect(out).not.toContain("# Working on Tendon");
    expect(out).not.toContain("@tendon/sandbox");
    for (const p of [rootCanary, tmpCanary, "/root", "/home", "/work", "/var", "/srv", "/etc/shadow"]) {
      expect(out).toMatch(new RegExp(`${p.replace(/[.]/g, "\\.")}'?: No such file or directory`));
    }
    expect(out.split("\n").slice(-11).join(" ")).toBe(
      "bin dev etc lib lib64 opt proc sbin tmp usr workspace",
    );
    const viaTool = await tool(a, "read", { file_path: rootCanary });
    expect(viaTool.is_error).toBe(true);
    expect(text(viaTool)).not.toContain(canary);
  });

  it("cannot see another sandbox's workdir or processes", async () => {
    const secret = `b-secret-${randomBytes(6).toString("hex")}`;
    await tool(b, "write", { file_path: "b-secret.txt", content: secret });
    await bash(b, "sleep 300 &");
    const out = text(
      await bash(
        a,
        "ls -a /workspace; find / -path /proc -prune -o -path /usr -prune -o -name 'b-secret*' -print 2>/dev/null; ps -eo pid,args; grep -rs b-secret /tmp /dev/shm /workspace; true",
      ),
    );
    expect(out).not.toContain(secret);
    expect(out).not.toContain("b-secret.txt");
    expect(out).not.toContain("sleep 300");
    expect(text(await tool(b, "read", { file_path: "b-secret.txt" }))).toBe(secret);
  });

  it("cannot write to the read-only tree", async () => {
    const targets = [
      "/usr/bin/tendon-x",
      "/etc/passwd",
      "/etc/tendon/tool-limits.sh",
      "/newdir",
      "/opt/tendon/hand/main.js",
      "/opt/tendon/node_modules/zod/package.json",
      "/dev/tendon-x",
      "/proc/sys/kernel/hostname",
    ];
    const out = text(
      await bash(
        a,
        `for p in ${targets.join(" ")}; do if ( : >> "$p" ) 2>/dev/null; then echo "WROTE $p"; fi; done; mkdir /x 2>&1; true`,
      ),
    );
    expect(out).not.toContain("WROTE");
    expect(out).toMatch(/Read-only file system/);
    expect(existsSync("/usr/bin/tendon-x")).toBe(false);
    expect(readFileSync(path.join(PACKAGE_ROOT, "dist/hand/main.js"), "utf8")).toContain("tendon-hand");
    // …while the private places are writable.
    expect(text(await bash(a, "touch /workspace/w /tmp/t /dev/shm/s && echo writable"))).toBe("writable");
  });

  it("has no network: not NATS, not Postgres, not a host service, not the internet", async () => {
    const targets = [
      "127.0.0.1/4222",
      "127.0.0.1/5432",
      `127.0.0.1/${serverPort}`,
      "1.1.1.1/443",
      "10.0.2.2/80",
    ];
    const out = text(
      await bash(
        a,
        `for t in ${targets.join(" ")}; do if timeout 5 bash -c "exec 3<>/dev/tcp/$t" 2>/dev/null; then echo "OPEN $t"; else echo "CLOSED $t"; fi; done; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '`,
      ),
    );
    for (const t of targets) expect(out).toContain(`CLOSED ${t}`);
    expect(out).not.toContain("OPEN");
    expect(out.split("\n").at(-1)).toBe("lo");
    expect(serverConnections).toBe(0);
  });

  it("contains a fork bomb", async () => {
    const limits = { maxProcesses: 64, callTimeoutMs: 5_000 };
    const bomb = await fx.provider.create({ id: fx.id("bomb"), limits });
    const uid = asProcess(bomb).hostUid!;
    // The bomb runs in the background; the `sleep` keeps the call going until its budget runs out.
    const call = bash(bomb, ":(){ :|:& };: ; sleep 60");
    // The bomb grows, but never past the sandbox's task budget.
    await waitFor(() => hostProcessesOfUid(uid).length >= 60, { message: "the fork bomb to grow" });
    expect(hostProcessesOfUid(uid).length).toBeLessThanOrEqual(maxTasks(resolveLimits(limits)));
    const r = await call;
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/timed out/);
    if (cgroups) expect(text(r)).toContain("[sandbox: the process limit (64) was hit and forks failed]");
    // The sandbox recovers (the hand killed the strays) and everything else kept working.
    const after = text(await bash(bomb, "echo recovered; ps -e --no-headers | wc -l")).split("\n");
    expect(after[0]).toBe("recovered");
    expect(Number(after[1])).toBeLessThanOrEqual(6);
    await othersUnharmed();
    await bomb.kill();
    expect(hostProcessesOfUid(uid)).toEqual([]);
    expect(existsSync(path.join(fx.baseDir, bomb.id))).toBe(false);
  });

  it("contains a memory hog", async () => {
    const hog = await fx.provider.create({ id: fx.id("hog"), limits: { memoryBytes: 256 * 1024 * 1024 } });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    const r = await bash(hog, "x=$(head -c 600M /dev/zero | tr '\\0' a); echo ${#x}");
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/memory limit|terminated|cannot allocate/);
    if (cgroups) expect(text(r)).toContain("[sandbox: the memory limit (268435456 bytes) was hit");
    expect(text(await bash(hog, "echo recovered"))).toBe("recovered");
    await othersUnharmed();
    await hog.kill();
  });

  it("contains infinite output", async () => {
    const r = await bash(a, "yes", { timeoutMs: 1_500 });
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/timed out/);
    const big = await bash(a, "yes tendon | head -c 50000000; echo; echo END");
    expect(big.is_error).toBe(false);
    expect(Buffer.byteLength(text(big))).toBeLessThanOrEqual(resolveLimits().maxOutputBytes + 200);
    expect(text(big).endsWith("END")).toBe(true);
    await othersUnharmed();
  });

  it("ends a sleep past the call's deadline", async () => {
    const r = await bash(a, "sleep 600", { timeoutMs: 500 });
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/timed out after 500ms/);
    expect(text(await bash(a, "echo after sleep"))).toBe("after sleep");
    await othersUnharmed();
  });

  it("limits CPU time per tool process", async () => {
    const spin = await fx.provider.create({ id: fx.id("cpu"), limits: { cpuSeconds: 1 } });
    const r = await bash(spin, "while :; do :; done", { timeoutMs: 30_000 });
    expect(r.is_error).toBe(true);
    expect(text(r)).toMatch(/terminated/);
    expect(text(await bash(spin, "ulimit -t"))).toBe("1");
    await othersUnharmed();
    await spin.kill();
  });

  it("limits disk space", async () => {
    const disk = await fx.provider.create({ id: fx.id("disk"), limits: { diskBytes: 8 * 1024 * 1024 } });
    // One file past diskBytes: RLIMIT_FSIZE stops it.
    const one = await bash(disk, "head -c 20M /dev/zero > /workspace/big");
    expect(one.is_error).toBe(true);
    expect(text(one)).toMatch(/File size limit exceeded/);
    // Files each under the limit that together exceed it: the tmpfs is full.
    const many = await bash(
      disk,
      "ok=1; for i in 1 2 3; do head -c 4M /dev/zero > /workspace/f$i || { ok=0; break; }; done; [ $ok = 1 ]",
    );
    expect(many.is_error).toBe(true);
    expect(text(many)).toMatch(/No space left on device/);
    const tmp = await bash(disk, "head -c 4M /dev/zero > /tmp/a && head -c 4M /dev/zero > /tmp/b");
    expect(tmp.is_error).toBe(true);
    expect(text(tmp)).toMatch(/No space left on device/);
    expect(
      text(await bash(disk, "rm -f /workspace/* /tmp/*; head -c 4M /dev/zero > /workspace/ok && echo freed")),
    ).toBe("freed");
    await othersUnharmed();
    await disk.kill();
  });
});
