/**
 * Least privilege on the bus, end to end: on a nats-server of its own (never the shared one) running
 * the generated config (`renderNatsConfig`), every service logs in as its own user, and one session
 * drives every path between services — vault routes (gateway → credential-proxy), vault checks
 * (session-log → credential-proxy), eager provisioning (session-log → sandbox-manager), MCP calls
 * (harness → credential-proxy), sandbox tools (harness → sandbox-manager → its hand), egress
 * registration (sandbox-manager → credential-proxy), the egress log and session deletion — without
 * the server refusing anything. Then raw connections per role show each is refused what it does not
 * need: the calls that would let it reach secrets or impersonate another service.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { type Bus, createBus } from "@tendon/bus";
import {
  type NatsRole,
  renderNatsConfig,
  rolePermissions,
  type ServiceName,
  type Stack,
  startStack,
} from "@tendon/cli";
import { CredentialProxy, type Endpoint, inboxPrefixOf, SandboxManager, SessionLog } from "@tendon/contracts";
import { startTestMcpServer, type TestMcpServer } from "@tendon/mcp/testing";
import { createMockModel, type MockModel } from "@tendon/mock-model";
import {
  createDatabase,
  freePort,
  type ManagedProcess,
  spawnProcess,
  type TestDatabase,
  uniquePrefix,
} from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { TEST_ENV } from "../support/stack.js";
import { makeCertificate } from "../support/tls.js";

type StreamEvent = Anthropic.Beta.Sessions.BetaManagedAgentsStreamSessionEvents;

/** Which user each service logs in as. */
const SERVICE_ROLE: Record<ServiceName, NatsRole> = {
  "session-log": "session_log",
  gateway: "gateway",
  "harness-worker": "harness",
  "sandbox-manager": "sandbox_manager",
  "credential-proxy": "credential_proxy",
};
const prefix = uniquePrefix("roles");
/** A known password for every role the config renders. */
const passwords = Object.fromEntries(
  Object.keys(rolePermissions(prefix)).map((r) => [r, randomBytes(16).toString("hex")]),
) as Record<NatsRole, string>;
const SECRET = `sk-roles-${randomBytes(16).toString("hex")}`;
const MCP_TOKEN = `mcp-static-${randomBytes(16).toString("hex")}`;
const UPSTREAM = "api.roles.test";
const upstreamAuth: Array<string | undefined> = [];

let dir: string;
let nats: ManagedProcess;
let natsUrl: string;
let monitorUrl: string;
let db: TestDatabase | undefined;
let mock: MockModel | undefined;
let mcp: TestMcpServer | undefined;
let upstream: Server | undefined;
let stack: Stack | undefined;
let admin: Bus | undefined;
let client: Anthropic;
let apiKey: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tendon-nats-roles-"));
  const [port, monitorPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, "nats.conf"),
    renderNatsConfig({ prefix, port, storeDir: join(dir, "js"), passwords }),
  );
  nats = await spawnProcess({
    name: "nats-server-roles",
    command: "nats-server",
    args: ["-a", "127.0.0.1", "-m", String(monitorPort), "-c", join(dir, "nats.conf")],
    ready: /Server is ready/,
  });
  natsUrl = `nats://127.0.0.1:${port}`;
  monitorUrl = `http://127.0.0.1:${monitorPort}`;

  // The upstream the sandbox's credential is for: HTTPS with a test CA, checks the real secret.
  const tls = makeCertificate(dir, UPSTREAM);
  upstream = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    upstreamAuth.push(req.headers.authorization);
    const ok = req.headers.authorization === `Bearer ${SECRET}`;
    res.writeHead(ok ? 200 : 401).end(ok ? "authorized" : "unauthorized");
  });
  await new Promise<void>((r) => upstream!.listen(0, "127.0.0.1", () => r()));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  mcp = await startTestMcpServer({
    oauth: {
      clientId: "tendon",
      accessTtlMs: 3_600_000,
      initialAccessToken: `unused-${randomBytes(8).toString("hex")}`,
      initialRefreshToken: `unused-${randomBytes(8).toString("hex")}`,
    },
    staticToken: MCP_TOKEN,
  });
  db = await createDatabase(process.env.DATABASE_URL!);
  mock = createMockModel();
  await mock.start();

  stack = await startStack({
    natsUrl, // no credentials: each service gets its own user below
    databaseUrl: db.url,
    prefix,
    env: {
      ANTHROPIC_BASE_URL: mock.url,
      ANTHROPIC_API_KEY: "mock-key",
      ...TEST_ENV,
      TENDON_EGRESS_HOST_OVERRIDES: JSON.stringify({ [UPSTREAM]: `127.0.0.1:${upstreamPort}` }),
      TENDON_EGRESS_EXTRA_CA_FILE: tls.certPath,
    },
    serviceEnv: Object.fromEntries(
      Object.entries(SERVICE_ROLE).map(([service, role]) => [
        service,
        { NATS_USER: role, NATS_PASSWORD: passwords[role] },
      ]),
    ),
    ...(process.env.TENDON_TEST_VERBOSE === "1"
      ? { onLine: (s: string, l: string) => process.stderr.write(`[${s}] ${l}\n`) }
      : {}),
  });
  admin = await createBus({
    servers: natsUrl,
    prefix,
    name: "test-admin",
    user: "admin",
    pass: passwords.admin,
  });
  // What `createApiKey` does, as the admin user: nats.js ignores credentials in a URL, and
  // createApiKey takes no user/password.
  ({ key: apiKey } = await admin.request(SessionLog.keysCreate, { name: "roles" }));
  client = new Anthropic({ baseURL: stack.url, apiKey, maxRetries: 0, timeout: 30_000 });
});

afterAll(async () => {
  await admin?.close();
  await stack?.stop();
  await mock?.stop();
  await mcp?.stop();
  upstream?.close();
  await nats?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What nats-server logged about refusing a service's publish or subscription (raw test connections aside). */
const serviceViolations = () => nats.lines().filter((l) => /violation/i.test(l) && !l.includes(":raw-"));

const resultText = (r: { content?: Array<{ type: string; text?: string }> | null }) =>
  (r.content ?? []).map((b) => (b.type === "text" ? (b.text ?? "") : "")).join("");

describe("services on least-privilege NATS users", () => {
  it("each service logs in as its own user", async () => {
    const res = await fetch(`${monitorUrl}/connz?auth=true&limit=1024`);
    const { connections } = (await res.json()) as {
      connections: Array<{ name?: string; authorized_user?: string }>;
    };
    const byService = Object.fromEntries(
      Object.keys(SERVICE_ROLE).map((s) => [
        s,
        [...new Set(connections.filter((c) => c.name?.startsWith(`${s}-`)).map((c) => c.authorized_user))],
      ]),
    );
    expect(byService).toEqual(Object.fromEntries(Object.entries(SERVICE_ROLE).map(([s, r]) => [s, [r]])));
  });

  it("run a session through every inter-service path without a single refusal", async () => {
    const model = `mock-roles-${Math.random().toString(36).slice(2, 8)}`;
    mock!.script(model, {
      steps: [
        { content: [{ type: "tool_use", name: "tools__echo", input: { text: "over the bus" } }] },
        {
          content: [
            {
              type: "tool_use",
              name: "bash",
              input: {
                command: `curl -s --max-time 10 -H "Authorization: Bearer $API_TOKEN" https://${UPSTREAM}/check`,
              },
            },
          ],
        },
        { content: [{ type: "text", text: "all paths taken" }] },
      ],
    });

    // Vault routes: gateway → credential-proxy.
    const vault = await client.beta.vaults.create({ display_name: "roles" });
    const envCred = await client.beta.vaults.credentials.create(vault.id, {
      auth: {
        type: "environment_variable",
        secret_name: "API_TOKEN",
        secret_value: SECRET,
        networking: { type: "limited", allowed_hosts: [UPSTREAM] },
      },
    });
    await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: mcp!.url, token: MCP_TOKEN },
    });
    const listed = [];
    for await (const c of client.beta.vaults.credentials.list(vault.id)) listed.push(c.id);
    expect(listed).toHaveLength(2);

    const env = await client.beta.environments.create({
      name: `roles-${Math.random().toString(36).slice(2, 8)}`,
      config: {
        type: "cloud",
        provisioning: "eager",
        networking: { type: "limited", allowed_hosts: [UPSTREAM] },
      } as unknown as Anthropic.Beta.Environments.BetaCloudConfigParams,
    });
    const agent = await client.beta.agents.create({
      name: "roles",
      model,
      mcp_servers: [{ type: "url", name: "tools", url: mcp!.url }],
      tools: [
        {
          type: "mcp_toolset",
          mcp_server_name: "tools",
          default_config: { permission_policy: { type: "always_allow" } },
        },
        { type: "agent_toolset_20260401" },
      ],
    });
    // vault_ids: session-log → credential-proxy vaults.check; eager: session-log → sandbox-manager provision.
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: env.id,
      vault_ids: [vault.id],
    });
    await expect
      .poll(
        async () =>
          (await admin!.request(SandboxManager.list, {})).data.filter((s) => s.session_id === session.id)
            .length,
        { timeout: 30_000, message: "the eager sandbox (session-log → sandbox-manager provision)" },
      )
      .toBe(1);

    // The turn: harness → credential-proxy (mcp.*), harness → the sandbox's hand, and the sandbox's
    // egress registered by the sandbox-manager with the credential-proxy.
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "take every path" }] }],
    });
    let got: StreamEvent[];
    try {
      got = await stream.until(isEndTurn, 90_000);
    } finally {
      stream.close();
    }
    expect(got.flatMap((e) => (e.type === "session.error" ? [e.error] : []))).toEqual([]);
    const mcpUses = got.filter(
      (e) => e.type === "agent.mcp_tool_use",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentMCPToolUseEvent[];
    const mcpResults = got.filter(
      (e) => e.type === "agent.mcp_tool_result",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentMCPToolResultEvent[];
    expect(mcpUses.map((u) => [u.mcp_server_name, u.name, u.evaluated_permission])).toEqual([
      ["tools", "echo", "allow"],
    ]);
    expect(mcpResults.map((r) => [r.mcp_tool_use_id, r.is_error, resultText(r)])).toEqual([
      [mcpUses[0]!.id, false, "over the bus"],
    ]);
    // The proxy attached the vault's token (compared, never printed).
    expect(mcp!.seenTokens().includes(MCP_TOKEN)).toBe(true);
    const toolResults = got.filter(
      (e) => e.type === "agent.tool_result",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent[];
    expect(toolResults.map((r) => [r.is_error ?? false, resultText(r)])).toEqual([[false, "authorized"]]);
    expect(upstreamAuth.map((a) => a === `Bearer ${SECRET}`)).toEqual([true]);
    expect(got.find((e) => e.type === "agent.message")).toMatchObject({
      content: [{ type: "text", text: "all paths taken" }],
    });

    // The egress log: gateway → credential-proxy egress.list.
    const egressList = async () => {
      const res = await fetch(`${stack!.url}/v1/sessions/${session.id}/egress`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      expect(res.status).toBe(200);
      return (
        (await res.json()) as {
          data: Array<{ host: string; blocked: boolean; status: number | null; credential_ids: string[] }>;
        }
      ).data;
    };
    await expect
      .poll(async () => (await egressList()).filter((r) => r.host === UPSTREAM), { timeout: 10_000 })
      .toMatchObject([{ host: UPSTREAM, blocked: false, status: 200, credential_ids: [envCred.id] }]);

    // Neither secret reached the log.
    const log: unknown[] = [];
    for await (const e of client.beta.sessions.events.list(session.id)) log.push(e);
    const logText = JSON.stringify(log);
    expect(logText.includes(SECRET)).toBe(false);
    expect(logText.includes(MCP_TOKEN)).toBe(false);

    // Delete: gateway → session-log, which tells live readers.
    expect(await client.beta.sessions.delete(session.id)).toMatchObject({
      id: session.id,
      type: "session_deleted",
    });
    const gone = await client.beta.sessions.retrieve(session.id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(Anthropic.NotFoundError);

    // Nothing any service did was refused.
    expect(serviceViolations()).toEqual([]);
  });
});

/** A raw connection as one role, recording the permission errors the server sends it. */
async function as(role: NatsRole): Promise<{
  bus: Bus;
  /** The endpoint is answered (an error reply to an empty request is still an answer). */
  reaches(e: Endpoint): Promise<void>;
  /** The server refuses to let this role publish a request to the endpoint. */
  cannotCall(e: Endpoint): Promise<void>;
  /** The server refuses this role a publish. */
  cannotPublish(subject: string): Promise<void>;
  /** The server refuses this role a subscription (e.g. to impersonate a service). */
  cannotSubscribe(subject: string): Promise<void>;
  close(): Promise<void>;
}> {
  const bus = await createBus({
    servers: natsUrl,
    prefix,
    name: `raw-${role}`,
    user: role,
    pass: passwords[role],
    createHandStores: false,
    inboxPrefix: inboxPrefixOf(role),
  });
  const refused: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const s of bus.nc.status()) {
      const err = (s as { error?: { name?: string; operation?: string; subject?: string } }).error;
      if (s.type === "error" && err?.name === "PermissionViolationError")
        refused.push({ operation: err.operation ?? "", subject: err.subject ?? "" });
    }
  })();
  const subject = (e: Endpoint) => bus.subjects.rpc(e.service, e.op);
  const wasRefused = async (operation: string, s: string) =>
    expect
      .poll(() => refused.some((r) => r.operation === operation && r.subject === s), {
        timeout: 5_000,
        message: `${role}: ${operation} to ${s} refused`,
      })
      .toBe(true);
  return {
    bus,
    async reaches(e) {
      const reply = await bus.nc.request(subject(e), "{}", { timeout: e.timeoutMs });
      expect(reply.json<{ ok: boolean }>()).toHaveProperty("ok");
    },
    async cannotCall(e) {
      const err = await bus.nc.request(subject(e), "{}", { timeout: e.timeoutMs }).catch((x: unknown) => x);
      // The server's refusal fails the request at once (it is not a timeout).
      expect(err, `${role} → ${e.service} ${e.op}`).toMatchObject({
        name: "RequestError",
        cause: { name: "PermissionViolationError", operation: "publish", subject: subject(e) },
      });
    },
    async cannotPublish(s) {
      bus.nc.publish(s, "{}");
      await bus.nc.flush();
      await wasRefused("publish", s);
    },
    async cannotSubscribe(s) {
      bus.nc.subscribe(s);
      await bus.nc.flush();
      await wasRefused("subscription", s);
    },
    close: async () => {
      await bus.nc.close();
    },
  };
}

describe("each role is refused what it does not need", () => {
  const P = prefix;
  const CP = CredentialProxy;
  const everyCredentialProxyRpc = Object.values(CP) as Endpoint[];

  it("credential_proxy calls nobody: no session-log RPC, no wake-ups, no live events", async () => {
    const r = await as("credential_proxy");
    try {
      await r.cannotCall(SessionLog.sessionsList);
      await r.cannotCall(SessionLog.keysCreate);
      await r.cannotCall(SandboxManager.provision);
      await r.cannotSubscribe(`${P}.rpc.session-log.>`);
      await r.cannotSubscribe(`${P}.live.*`);
      await r.cannotPublish(`${P}.wake.sesn_roles`);
      await r.cannotPublish(`${P}.live.sesn_roles`);
    } finally {
      await r.close();
    }
  });

  it("sandbox_manager registers egress but cannot call MCP or read credentials", async () => {
    const r = await as("sandbox_manager");
    try {
      await r.reaches(CP.egressRegister);
      for (const e of [CP.mcpCallTool, CP.mcpListTools, CP.credentialsRetrieve, CP.credentialsList])
        await r.cannotCall(e);
      await r.cannotCall(SessionLog.eventsList);
      await r.cannotSubscribe(`${P}.rpc.credential-proxy.>`);
      await r.cannotSubscribe(`${P}.hand.tool.*.execute`);
    } finally {
      await r.close();
    }
  });

  it("harness calls MCP through the proxy but cannot manage credentials, keys or egress, nor call the API", async () => {
    const r = await as("harness");
    try {
      await r.reaches(CP.mcpListTools);
      await r.reaches(SessionLog.eventsRange);
      for (const e of [
        CP.credentialsCreate,
        CP.credentialsRetrieve,
        CP.keysRotate,
        CP.egressRegister,
        CP.egressList,
        CP.vaultsList,
      ])
        await r.cannotCall(e);
      // Minting an API key would give it the whole API; it makes no API calls either.
      for (const e of [
        SessionLog.keysCreate,
        SessionLog.sessionsList,
        SessionLog.eventsSend,
        SandboxManager.kill,
      ])
        await r.cannotCall(e);
      await r.cannotSubscribe(`${P}.rpc.credential-proxy.>`);
      await r.cannotSubscribe(`${P}.rpc.session-log.>`);
    } finally {
      await r.close();
    }
  });

  it("gateway serves the API but cannot call MCP tools, rotate keys, register egress, mint keys or append as a harness", async () => {
    const r = await as("gateway");
    try {
      await r.reaches(CP.vaultsList);
      await r.reaches(CP.egressList);
      await r.reaches(SessionLog.sessionsList);
      for (const e of [CP.mcpCallTool, CP.mcpListTools, CP.keysRotate, CP.egressRegister])
        await r.cannotCall(e);
      for (const e of [SessionLog.keysCreate, SessionLog.harnessAcquire, SessionLog.harnessAppend])
        await r.cannotCall(e);
      await r.cannotCall(SandboxManager.provision);
      await r.cannotSubscribe(`${P}.rpc.credential-proxy.>`);
      await r.cannotSubscribe(`${P}.rpc.session-log.>`);
    } finally {
      await r.close();
    }
  });

  it("no role can read another role's replies (API keys, MCP results, leases travel in them)", async () => {
    const roles = [
      "gateway",
      "session_log",
      "harness",
      "sandbox_manager",
      "credential_proxy",
      "hand",
    ] as const;
    for (const role of roles) {
      const r = await as(role);
      try {
        await r.cannotSubscribe("_INBOX.>");
        for (const other of roles.filter((x) => x !== role))
          await r.cannotSubscribe(`${inboxPrefixOf(other)}.>`);
      } finally {
        await r.close();
      }
    }
  });

  it("hand cannot call any credential-proxy RPC", async () => {
    const r = await as("hand");
    try {
      for (const e of everyCredentialProxyRpc) await r.cannotCall(e);
      await r.cannotSubscribe(`${P}.rpc.credential-proxy.>`);
    } finally {
      await r.close();
    }
  });

  it("session_log checks vaults but cannot call MCP tools or read credentials", async () => {
    const r = await as("session_log");
    try {
      await r.reaches(CP.vaultsCheck);
      for (const e of [CP.mcpCallTool, CP.credentialsRetrieve, CP.credentialsCreate, CP.keysRotate])
        await r.cannotCall(e);
      await r.cannotSubscribe(`${P}.rpc.credential-proxy.>`);
    } finally {
      await r.close();
    }
  });
});

describe("shutdown", () => {
  it("every service stops cleanly, and none was refused anything along the way", async () => {
    const services = [
      ...stack!.harness,
      ...stack!.sandboxManagers,
      ...stack!.gateways,
      ...stack!.credentialProxies,
      ...stack!.sessionLogs,
    ];
    await stack!.stop();
    stack = undefined;
    for (const p of services) expect(await p.exited, p.name).toMatchObject({ code: 0 });
    expect(serviceViolations()).toEqual([]);
  });
});
