#!/usr/bin/env node
/**
 * `pnpm openapi [file]`: writes the gateway's OpenAPI document (default `openapi.json`) without
 * NATS or a running stack, by building the gateway's routes and asking it for the document.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Bus } from "@tendon/bus";
import { createLogger } from "@tendon/runtime";
import { createGateway } from "../app.js";
import { OPENAPI_PATH } from "./routes.js";

/** Routes are only registered here, never called: a bus that only knows its payload limit. */
const offlineBus = new Proxy({ maxPayload: () => 1024 * 1024 } as Partial<Bus>, {
  get(target, prop) {
    if (prop in target) return target[prop as keyof Bus];
    throw new Error(`writing the OpenAPI document needs no bus (asked for bus.${String(prop)})`);
  },
}) as Bus;

const out = path.resolve(process.argv[2] ?? "openapi.json");
const gateway = createGateway({
  bus: offlineBus,
  // Errors (a contract the document cannot describe) go to stderr, as JSON lines.
  log: createLogger({ service: "openapi", level: "error", destination: process.stderr }),
  config: {
    host: "127.0.0.1",
    port: 0,
    maxBodyBytes: 1024 * 1024,
    authCacheMs: 0,
    ssePingMs: 15_000,
    sseMaxBufferedBytes: 8 * 1024 * 1024,
  },
});
const res = await gateway.app.inject({ method: "GET", url: OPENAPI_PATH });
if (res.statusCode !== 200) {
  process.stderr.write(`the gateway answered ${res.statusCode}: ${res.body}\n`);
  process.exit(1);
}
writeFileSync(out, `${JSON.stringify(res.json(), null, 2)}\n`);
await gateway.app.close();
process.stdout.write(`wrote ${out}\n`);
