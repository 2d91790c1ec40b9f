/**
 * `tendon dev` (what `pnpm dev` runs): starts every service as its own process with the bundled
 * mock model, prints a URL and a working key, serves the SDK, and stops everything on Ctrl-C.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { REPO_ROOT } from "@tendon/cli";
import { cleanupNats, createDatabase, freePort, spawnProcess, uniquePrefix, waitFor } from "@tendon/testing";
import { expect, it } from "vitest";

/** Pids of Tendon service processes started with this NATS prefix. */
function servicePids(prefix: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
        if (
          !/services\/(gateway|session-log|harness-worker|sandbox-manager|credential-proxy)\/dist\/main\.js/.test(
            cmd,
          )
        )
          return false;
        return readFileSync(`/proc/${d}/environ`, "utf8").split("\0").includes(`TENDON_PREFIX=${prefix}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

it("runs the stack, answers the SDK with the demo model, and stops cleanly on SIGINT", async () => {
  const db = await createDatabase(process.env.DATABASE_URL!);
  const prefix = uniquePrefix("dev");
  const port = await freePort();
  const dev = await spawnProcess({
    name: "tendon-dev",
    command: process.execPath,
    args: [join(REPO_ROOT, "packages/cli/dist/main.js"), "dev"],
    env: {
      NATS_URL: process.env.NATS_URL!,
      DATABASE_URL: db.url,
      TENDON_PREFIX: prefix,
      PORT: String(port),
      TENDON_DEV_WORKERS: "1",
    },
    ready: /Press Ctrl-C to stop/,
    readyTimeoutMs: 60_000,
  });
  try {
    const out = dev.lines().join("\n");
    const url = /API URL\s+(\S+)/.exec(out)?.[1];
    const key = /API key\s+(\S+)/.exec(out)?.[1];
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(key).toMatch(/^sk-tnd-api-/);
    expect(servicePids(prefix)).toHaveLength(5);

    const client = new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0 });
    const agent = await client.beta.agents.create({ name: "demo", model: "claude-sonnet-4-6" });
    const env = await client.beta.environments.create({ name: "dev" });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "ping" }] }],
    });
    let reply = "";
    for await (const e of stream) {
      if (e.type === "agent.message")
        reply = e.content.map((b) => (b.type === "text" ? b.text : "")).join("");
      if (e.type === "session.status_idle") break;
    }
    expect(reply).toMatch(/mock model.*ping/i);
  } finally {
    dev.kill("SIGINT");
    const exit = await dev.exited;
    expect(exit.code).toBe(0);
    await cleanupNats(process.env.NATS_URL!, prefix);
    await db.drop();
  }
  // Every service process it started is gone.
  await waitFor(() => servicePids(prefix).length === 0, {
    timeoutMs: 15_000,
    message: "tendon dev's services exit",
  });
});
