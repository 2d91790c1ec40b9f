/**
 * A hand's scoped credential: with the generated nats-server config, a machine logged in as the
 * `hand` user serves its custom tools end to end, and can do nothing else — no session-log RPC,
 * no live events, no wake-ups, no sandbox hands or their execution records. Runs its own
 * nats-server (never the shared one).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { type Bus, createBus } from "@tendon/bus";
import { inboxPrefixOf, SessionLog } from "@tendon/contracts";
import { freePort, type ManagedProcess, spawnProcess, uniquePrefix } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNatsConfig } from "../src/index.js";

let server: ManagedProcess;
let dir: string;
let url: string;
const prefix = uniquePrefix("perm");
const passwords = {
  admin: "admin-pw",
  hand: "hand-pw",
  gateway: "gw",
  session_log: "sl",
  harness: "h",
  sandbox_manager: "sm",
  credential_proxy: "cp",
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tendon-nats-perm-"));
  const port = await freePort();
  writeFileSync(
    join(dir, "nats.conf"),
    renderNatsConfig({ prefix, port, storeDir: join(dir, "js"), passwords }),
  );
  server = await spawnProcess({
    name: "nats-server",
    command: "nats-server",
    args: ["-a", "127.0.0.1", "-c", join(dir, "nats.conf")],
    ready: /Server is ready/,
  });
  url = `nats://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the hand credential", () => {
  it("serves its tools end to end and is refused everything else", async () => {
    const admin: Bus = await createBus({
      servers: url,
      prefix,
      name: "admin",
      user: "admin",
      pass: passwords.admin,
    });
    await admin.hands(); // a service creates the buckets
    const hand = await createBus({
      servers: url,
      prefix,
      name: "hand",
      user: "hand",
      pass: passwords.hand,
      createHandStores: false,
      inboxPrefix: inboxPrefixOf("hand"),
    });
    try {
      const served = await hand.serveHand({
        name: "tool.lookup",
        kind: "custom",
        instance: "laptop",
        tools: ["lookup"],
        indexTools: true,
        handler: async (req) => ({
          content: [{ type: "text", text: `found ${JSON.stringify(req.input)}` }],
          is_error: false,
        }),
      });
      const reply = await admin.executeOnHand("tool.lookup", {
        v: 1,
        tool_use_id: "sevt_permtest000000000001",
        tool: "lookup",
        input: { q: 1 },
        deadline_ms: 5_000,
      });
      expect(reply).toMatchObject({ status: "completed", result: { content: [{ text: 'found {"q":1}' }] } });
      expect(await (await admin.hands()).handForTool("lookup")).toBe("tool.lookup");
      await served.stop();
    } finally {
      await hand.close();
      await admin.close();
    }

    // Raw connection as the hand user, collecting the server's permission errors.
    const nc = await connect({
      servers: url,
      user: "hand",
      pass: passwords.hand,
      inboxPrefix: inboxPrefixOf("hand"),
    });
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status())
        if (s.type === "error") errors.push(String((s as { error?: unknown }).error));
    })();
    const denied = async (what: string, act: () => unknown) => {
      const before = errors.length;
      act();
      await nc.flush().catch(() => {});
      await expect
        .poll(() => errors.slice(before).join("\n"), { timeout: 5_000 })
        .toMatch(/permissions violation/i);
      return what;
    };
    try {
      await denied("session-log RPC", () => nc.publish(`${prefix}.rpc.session-log.agents.list`, "{}"));
      await denied("wake-ups", () => nc.publish(`${prefix}.wake.sesn_x`, "{}"));
      await denied("a sandbox's execution record", () =>
        nc.publish(`$KV.${prefix.toUpperCase()}_EXEC.sandbox.sesn_x.sevt_y`, "{}"),
      );
      await denied("a sandbox hand's registry entry", () =>
        nc.publish(`$KV.${prefix.toUpperCase()}_HANDS.hands.sandbox.sesn_x`, "{}"),
      );
      await denied("live events", () => nc.subscribe(`${prefix}.live.*`));
      await denied("sandbox hands", () => nc.subscribe(`${prefix}.hand.sandbox.sesn_x.execute`));
      await denied("every reply on the bus", () => nc.subscribe("_INBOX.>"));
      await denied("the session-log's replies", () => nc.subscribe(`${inboxPrefixOf("session_log")}.>`));
      const rpc = await nc
        .request(`${prefix}.rpc.session-log.${SessionLog.agentsList.op}`, "{}", { timeout: 500 })
        .catch((e: unknown) => e);
      expect(rpc).toBeInstanceOf(Error);
    } finally {
      await nc.close();
    }
  });
});
