import { silentLogger } from "@tendon/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.js";
import { type OpsServer, startOps, startOpsServer } from "./ops-server.js";
import type { ReadinessCheck } from "./readiness.js";

let server: OpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const check = (name: string, fail: () => string | undefined): ReadinessCheck => ({
  name,
  async check() {
    const why = fail();
    if (why) throw new Error(why);
  },
});

describe("ops listener", () => {
  it("serves liveness, readiness through its lifecycle, and Prometheus text", async () => {
    const metrics = createMetrics({ service: "unit" });
    const hits = metrics.counter({ name: "tendon_unit_hits_total", help: "hits", labelNames: ["kind"] });
    hits.inc({ kind: "a" }, 3);
    server = await startOpsServer({ host: "127.0.0.1", port: 0, metrics, log: silentLogger });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    // Not started yet.
    const starting = await fetch(`${server.url}/readyz`);
    expect(starting.status).toBe(503);
    expect(await starting.json()).toMatchObject({ ok: false, status: "starting" });

    let dbDown: string | undefined;
    server.ready([check("nats", () => undefined), check("database", () => dbDown)]);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, status: "ready", checks: { nats: "ok", database: "ok" } });

    dbDown = "connection refused";
    const down = await fetch(`${server.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      ok: false,
      checks: { nats: "ok", database: "connection refused" },
    });

    dbDown = undefined;
    server.draining();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);

    const scrape = await fetch(`${server.url}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await scrape.text();
    expect(text).toContain('tendon_unit_hits_total{kind="a",service="unit"} 3');
    // Default process metrics come with the listener.
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="unit"\} /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{service="unit"\} /m);

    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("a check that never answers makes readiness 503 within its timeout", async () => {
    const metrics = createMetrics({ service: "unit" });
    server = await startOpsServer({
      host: "127.0.0.1",
      port: 0,
      metrics,
      log: silentLogger,
      checkTimeoutMs: 50,
    });
    server.ready([{ name: "nats", check: () => new Promise<void>(() => {}) }]);
    const r = await fetch(`${server.url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ checks: { nats: "no answer within 50 ms" } });
  });

  it("no OPS_PORT, no listener", async () => {
    const metrics = createMetrics({ service: "unit" });
    expect(
      await startOps({ host: "127.0.0.1", port: undefined, metrics, log: silentLogger }),
    ).toBeUndefined();
  });

  it("refuses metric names outside the tendon_ namespace", () => {
    const metrics = createMetrics({ service: "unit" });
    expect(() => metrics.counter({ name: "hits_total", help: "h" })).toThrow(/tendon_/);
  });
});
