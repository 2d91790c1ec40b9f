import { existsSync } from "node:fs";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./postgres-embedded.js";

async function version(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v;
  } finally {
    await client.end();
  }
}

describe("startEmbeddedPostgres", () => {
  it.skipIf(!existsSync("/usr/lib/postgresql"))(
    "falls back to the system binaries and cleans up after itself",
    async () => {
      const logs: string[] = [];
      const pgs = await startEmbeddedPostgres({
        path: undefined,
        sources: ["system"],
        log: (m) => logs.push(m),
      });
      try {
        expect(pgs.binaries).toMatch(/^system PostgreSQL/);
        expect(logs.join("\n")).toMatch(/initdb \d+ ms, start \d+ ms/);
        expect(await version(pgs.url)).toMatch(/^\d+/);
      } finally {
        await pgs.stop();
      }
      expect(pgs.process.running()).toBe(false);
      await pgs.stop(); // idempotent
    },
    60_000,
  );

  it("fails with a one-line hint when no binaries are found", async () => {
    await expect(startEmbeddedPostgres({ path: "/nonexistent", sources: ["path"] })).rejects.toThrow(
      /^no PostgreSQL binaries found: [^\n]*DATABASE_URL$/,
    );
  });
});
