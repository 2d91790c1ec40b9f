import { existsSync, readdirSync, readFileSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createDatabase } from "./database.js";
import { resolveInfra } from "./infra.js";
import { cleanupNats, streamNamePrefix, uniquePrefix } from "./nats.js";
import { NATS_NOT_FOUND, startLocalNats } from "./nats-local.js";

const envNats = process.env.NATS_URL;
const envDb = process.env.DATABASE_URL;

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string[];
}

function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      out.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // exited while listing
    }
  }
  return out;
}

/** Every live process below this one. */
function descendants(): ProcInfo[] {
  const all = processes();
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => p.pid !== process.pid && mine.has(p.pid));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function jetStreamRoundTrip(natsUrl: string): Promise<string> {
  const prefix = uniquePrefix("infra");
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const name = `${streamNamePrefix(prefix)}_RT`;
    await jsm.streams.add({ name, subjects: [`${prefix}.rt`] });
    const ack = await jetstream(nc).publish(`${prefix}.rt`, "ping");
    const msg = await jsm.streams.getMessage(name, { seq: ack.seq });
    return msg?.string() ?? "";
  } finally {
    await nc.close();
    await cleanupNats(natsUrl, prefix);
  }
}

async function selectOne(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ n: number }>("select 41 + 1 as n")).rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe("resolveInfra", () => {
  it.skipIf(!envNats || !envDb)(
    "uses NATS_URL and DATABASE_URL when set, and stop() leaves them alone",
    async () => {
      const logs: string[] = [];
      const infra = await resolveInfra({
        env: { NATS_URL: envNats, DATABASE_URL: envDb },
        log: (m) => logs.push(m),
      });
      expect(infra.source).toEqual({ nats: "env", postgres: "env" });
      expect(infra.natsUrl).toBe(envNats);
      expect(infra.databaseUrl).toBe(envDb);
      expect(logs.join("\n")).toMatch(/nats: using NATS_URL/);
      await infra.stop();
      expect(await selectOne(envDb!)).toBe(42);
      expect(await jetStreamRoundTrip(envNats!)).toBe("ping");
    },
  );

  it("starts its own nats-server and PostgreSQL without NATS_URL/DATABASE_URL and stops them all", async () => {
    const before = new Set(descendants().map((p) => p.pid));
    const logs: string[] = [];
    const started = Date.now();
    const infra = await resolveInfra({ env: { PATH: process.env.PATH }, log: (m) => logs.push(m) });
    const startMs = Date.now() - started;
    let stopped = false;
    try {
      expect(infra.source).toEqual({ nats: "local", postgres: "embedded" });
      expect(infra.natsUrl).not.toBe("nats://127.0.0.1:4222");
      expect(infra.databaseUrl).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      expect(infra.databaseUrl).not.toContain(":5432/");
      expect(logs.join("\n")).toMatch(/started nats-server/);
      expect(logs.join("\n")).toMatch(/started PostgreSQL from/);

      expect(await selectOne(infra.databaseUrl)).toBe(42);
      const db = await createDatabase(infra.databaseUrl);
      expect(await selectOne(db.url)).toBe(42);
      await db.drop();
      expect(await jetStreamRoundTrip(infra.natsUrl)).toBe("ping");

      const children = descendants().filter((p) => !before.has(p.pid));
      const names = children.map((p) => p.cmdline[0] ?? "");
      expect(names.some((n) => n.endsWith("nats-server"))).toBe(true);
      expect(names.some((n) => n.endsWith("postgres"))).toBe(true);
      const dirs = children.flatMap((p) =>
        p.cmdline.filter((arg, i) => i > 0 && ["-sd", "-D"].includes(p.cmdline[i - 1] ?? "") && arg !== ""),
      );
      expect(dirs.length).toBeGreaterThanOrEqual(2);

      await infra.stop();
      stopped = true;
      expect(children.filter((p) => alive(p.pid)).map((p) => p.cmdline.join(" "))).toEqual([]);
      expect(dirs.filter((d) => existsSync(d))).toEqual([]);
      await infra.stop(); // idempotent
    } finally {
      if (!stopped) await infra.stop();
    }
    // The machine's shared servers (if any) are untouched.
    if (envDb) expect(await selectOne(envDb)).toBe(42);
    if (envNats) expect(await jetStreamRoundTrip(envNats)).toBe("ping");
    expect(startMs).toBeLessThan(30_000);
  }, 60_000);
});

describe("startLocalNats", () => {
  it("fails with a one-line install hint when nats-server is not on PATH", async () => {
    const err = await startLocalNats({ path: "/nonexistent" }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(NATS_NOT_FOUND);
    expect((err as Error).message).not.toContain("\n");
    expect((err as Error).message).toContain("apt-get install nats-server");
  });
});
