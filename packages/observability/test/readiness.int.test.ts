/**
 * /readyz against a real NATS connection: 200 while it is open, 503 once it is closed.
 */
import { connectNats } from "@tendon/bus";
import { silentLogger } from "@tendon/runtime";
import { resolveInfra } from "@tendon/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createMetrics, natsCheck, type OpsServer, startOpsServer } from "../src/index.js";

let server: OpsServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe("readiness on NATS", () => {
  it("answers 200 while the connection is up and 503 once it is closed", async () => {
    const infra = await resolveInfra({});
    const nc = await connectNats({ servers: infra.natsUrl, name: "readiness-test" });
    server = await startOpsServer({
      host: "127.0.0.1",
      port: 0,
      metrics: createMetrics({ service: "readiness-test" }),
      log: silentLogger,
    });
    server.ready([natsCheck(nc)]);
    const up = await fetch(`${server.url}/readyz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ ok: true, checks: { nats: "ok" } });

    await nc.close();
    const down = await fetch(`${server.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ok: false, checks: { nats: "connection closed" } });
    // Liveness does not depend on NATS.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
