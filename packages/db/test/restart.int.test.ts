/**
 * Postgres restarting under a service: a client checked out of the pool (mid-transaction) loses
 * its connection. The process must not crash on the client's "error" event; the transaction
 * fails, and the next queries work once Postgres is back. Runs its own cluster (never the shared
 * one), since it kills it.
 */
import { type EmbeddedPostgres, startEmbeddedPostgres } from "@tendon/testing";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/index.js";

let pg: EmbeddedPostgres;
let db: Db;

beforeAll(async () => {
  pg = await startEmbeddedPostgres({ path: process.env.PATH, durable: true });
  db = createDb({ url: pg.url, schema: "public", max: 4 });
});
afterAll(async () => {
  await db?.close();
  await pg?.stop();
});

describe("a pool across a Postgres restart", () => {
  it("survives a checked-out client losing its connection, and works again after", async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    try {
      let entered!: () => void;
      const inside = new Promise<void>((r) => {
        entered = r;
      });
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const tx = db.kysely.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        entered();
        await held;
        await sql`select 2`.execute(trx);
      });
      const outcome = tx.then(
        () => "committed",
        (err: unknown) => String(err),
      );
      await inside;
      // Also an idle pooled client, so both kinds of client see the connection drop.
      await sql`select 1`.execute(db.kysely);
      await pg.restart("SIGQUIT");
      release();
      expect(await outcome).not.toBe("committed");
      await expect
        .poll(
          async () =>
            (await sql<{ n: number }>`select 42 as n`.execute(db.kysely).catch(() => undefined))?.rows[0]?.n,
          {
            timeout: 30_000,
          },
        )
        .toBe(42);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });
});
