/**
 * The gateway's OpenAPI document against a running stack: it is valid OpenAPI 3.1, it lists
 * exactly the routes fastify has (enumerated independently, from `printRoutes`), its security
 * matches what the gateway enforces, real responses — bodies, errors and stream events — validate
 * against its schemas (ajv, draft 2020-12), and `/docs` renders it offline in headless Chromium.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createGateway, type Gateway } from "@tendon/gateway";
import { silentLogger } from "@tendon/runtime";
import { waitFor } from "@tendon/testing";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { chromium } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { useTestStack } from "../support/stack.js";

type Json = { [key: string]: unknown };
type Doc = Json & {
  paths: Record<string, Record<string, Json & { security?: unknown[] }>>;
  components: Json;
};

const fx = useTestStack({ env: { TENDON_MASTER_KEY: Buffer.alloc(32, 7).toString("base64") } });
const CHROMIUM = "/usr/bin/chromium";
const run = promisify(execFile);
const SHOTS = fileURLToPath(new URL("../../test-results/docs/", import.meta.url));

let doc: Doc;
let ajv: Ajv2020;

beforeAll(async () => {
  const res = await fetch(`${fx.t.stack.url}/v1/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  doc = (await res.json()) as Doc;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its default export is the plugin, or holds it.
  const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (
    a: Ajv2020,
  ) => void;
  addFormats(ajv);
  ajv.addSchema({ $id: "openapi", components: doc.components });
});

/** `METHOD /path` for every operation, in fastify's path syntax. */
function documentedRoutes(d: Doc): Set<string> {
  const out = new Set<string>();
  for (const [p, item] of Object.entries(d.paths)) {
    const fastifyPath = p.replace(/\{path\}$/, "*").replace(/\{([^}]+)\}/g, ":$1");
    for (const method of Object.keys(item)) out.add(`${method.toUpperCase()} ${fastifyPath}`);
  }
  return out;
}

/** `METHOD /path` for every route fastify has, read from its route tree (HEAD twins left out). */
function registeredRoutes(app: Gateway["app"]): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? "").length / 4;
    const parent = stack[depth - 1] ?? "";
    const seg = m[2] ?? "";
    const full = seg === "*" && !parent.endsWith("/") ? `${parent}/*` : parent + seg;
    stack.length = depth;
    stack.push(full);
    for (const method of (m[3] ?? "").split(", ").filter(Boolean)) {
      if (method !== "HEAD") out.add(`${method} ${full}`);
    }
  }
  return out;
}

/** The schema of a documented response, with its refs resolved through the document. */
function responseSchema(method: string, template: string, status: number, type = "application/json"): Json {
  const op = doc.paths[template]?.[method.toLowerCase()] as { responses: Record<string, Json> } | undefined;
  expect(op, `${method} ${template} is documented`).toBeDefined();
  let resp = op!.responses[String(status)] ?? op!.responses[`${String(status)[0]}XX`];
  expect(resp, `${method} ${template} documents ${status}`).toBeDefined();
  const ref = resp!.$ref;
  if (typeof ref === "string")
    resp = (doc.components.responses as Record<string, Json>)[ref.split("/").at(-1)!];
  const schema = (resp!.content as Record<string, { schema: Json }>)[type]?.schema;
  expect(schema, `${method} ${template} ${status} has a ${type} schema`).toBeDefined();
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as Json;
}

function expectValid(method: string, template: string, status: number, body: unknown, type?: string): void {
  const validate = ajv.compile(responseSchema(method, template, status, type));
  const ok = validate(body);
  expect(
    ok ? [] : validate.errors,
    `${method} ${template} ${status}: ${JSON.stringify(body).slice(0, 300)}`,
  ).toEqual([]);
}

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${fx.t.stack.url}${url}`, {
    method,
    headers: {
      "x-api-key": fx.t.apiKey,
      "anthropic-beta": "managed-agents-2026-04-01",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 and served without a key at both paths", async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
    const root = await fetch(`${fx.t.stack.url}/openapi.json`);
    expect(root.status).toBe(200);
    expect(await root.json()).toEqual(doc);
  });

  it("is what `pnpm openapi` writes, without NATS", async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), "tendon-openapi-")), "openapi.json");
    const script = fileURLToPath(new URL("../../services/gateway/dist/openapi/write.js", import.meta.url));
    const { stdout } = await run(process.execPath, [script, out], { env: { PATH: process.env.PATH ?? "" } });
    expect(stdout).toContain(out);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(doc);
  });

  it("documents every route the gateway registers, and nothing else", async () => {
    const gateway = createGateway({
      bus: await fx.t.bus(),
      log: silentLogger,
      config: {
        host: "127.0.0.1",
        port: 0,
        maxBodyBytes: 1024 * 1024,
        authCacheMs: 0,
        ssePingMs: 15_000,
        sseMaxBufferedBytes: 8 * 1024 * 1024,
      },
    });
    try {
      await gateway.app.ready();
      const registered = registeredRoutes(gateway.app);
      expect(registered.size).toBeGreaterThan(50);
      const inProcess = (await gateway.app.inject({ url: "/v1/openapi.json" })).json() as Doc;
      expect([...documentedRoutes(inProcess)].sort()).toEqual([...registered].sort());
      // The stack's gateway process serves the same routes.
      expect([...documentedRoutes(doc)].sort()).toEqual([...registered].sort());
    } finally {
      await gateway.app.close();
    }
  });

  it("has a response schema for every API operation, and unique operation ids", () => {
    const ids = new Set<string>();
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(ids.has(String(op.operationId)), `${op.operationId} is unique`).toBe(false);
        ids.add(String(op.operationId));
        if (!p.startsWith("/v1/") || op.security) continue;
        const ok = (op.responses as Record<string, { content?: Record<string, { schema?: Json }> }>)["200"];
        const schema =
          ok?.content?.["application/json"]?.schema ?? ok?.content?.["text/event-stream"]?.schema;
        expect(schema, `${method.toUpperCase()} ${p} documents its 200 body`).toBeDefined();
      }
    }
  });

  it("says which operations need a key, as the gateway enforces it", async () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const isPublic = Array.isArray(op.security) && op.security.length === 0;
        if (isPublic && method !== "get") continue;
        const url = p.replace(/\{[^}]+\}/g, "x1");
        const res = await fetch(`${fx.t.stack.url}${url}`, { method: method.toUpperCase() });
        await res.body?.cancel();
        if (isPublic) expect(res.status, `${method} ${p} needs no key`).not.toBe(401);
        else expect(res.status, `${method} ${p} needs a key`).toBe(401);
      }
    }
  });
});

describe("real responses validate against the document", () => {
  it("agents, environments, sessions, events, work queue stats", async () => {
    const model = `mock-openapi-${Math.random().toString(36).slice(2, 8)}`;
    fx.t.mock.script(model, { steps: [{ content: [{ type: "text", text: "ok" }] }], repeat_last: true });

    const agent = await call("POST", "/v1/agents", { name: "openapi", model, metadata: { team: "docs" } });
    expect(agent.status).toBe(200);
    expectValid("POST", "/v1/agents", 200, agent.body);
    const agentId = (agent.body as { id: string }).id;
    // The check can fail: an agent without its fields, or with one too many, is not an agent.
    const agentSchema = ajv.compile(responseSchema("POST", "/v1/agents", 200));
    expect(agentSchema({ ...(agent.body as Json), name: undefined })).toBe(false);
    expect(agentSchema({ ...(agent.body as Json), surprise: 1 })).toBe(false);
    expectValid("GET", "/v1/agents", 200, (await call("GET", "/v1/agents?limit=5")).body);
    expectValid("GET", "/v1/agents/{id}", 200, (await call("GET", `/v1/agents/${agentId}`)).body);
    expectValid(
      "POST",
      "/v1/agents/{id}",
      200,
      (await call("POST", `/v1/agents/${agentId}`, { version: 1, description: "d" })).body,
    );

    const env = await call("POST", "/v1/environments", { name: `openapi-${Date.now()}` });
    expectValid("POST", "/v1/environments", 200, env.body);
    const envId = (env.body as { id: string }).id;
    expectValid("GET", "/v1/environments", 200, (await call("GET", "/v1/environments")).body);
    expectValid(
      "GET",
      "/v1/environments/{id}/work/stats",
      200,
      (await call("GET", `/v1/environments/${envId}/work/stats`)).body,
    );

    const session = await call("POST", "/v1/sessions", { agent: agentId, environment_id: envId, title: "t" });
    expectValid("POST", "/v1/sessions", 200, session.body);
    const sessionId = (session.body as { id: string }).id;

    const stream = await collect(fx.client, sessionId, { event_deltas: ["agent.message"] });
    const sent = await call("POST", `/v1/sessions/${sessionId}/events`, {
      events: [{ type: "user.message", content: [{ type: "text", text: "hi" }] }],
    });
    expectValid("POST", "/v1/sessions/{id}/events", 200, sent.body);
    const events = await stream.until(isEndTurn);
    stream.close();
    expect(events.length).toBeGreaterThan(2);
    for (const e of events)
      expectValid("GET", "/v1/sessions/{id}/events/stream", 200, e, "text/event-stream");

    const listed = await call("GET", `/v1/sessions/${sessionId}/events?limit=100`);
    expect((listed.body as { data: unknown[] }).data.length).toBeGreaterThan(2);
    expectValid("GET", "/v1/sessions/{id}/events", 200, listed.body);
    expectValid("GET", "/v1/sessions", 200, (await call("GET", `/v1/sessions?agent_id=${agentId}`)).body);
    expectValid("GET", "/v1/sessions/{id}", 200, (await call("GET", `/v1/sessions/${sessionId}`)).body);
    expectValid(
      "POST",
      "/v1/sessions/{id}/archive",
      200,
      (await call("POST", `/v1/sessions/${sessionId}/archive`)).body,
    );
  });

  it("vaults and credentials", async () => {
    const vault = await call("POST", "/v1/vaults", { display_name: "openapi" });
    expectValid("POST", "/v1/vaults", 200, vault.body);
    const vaultId = (vault.body as { id: string }).id;
    const cred = await call("POST", `/v1/vaults/${vaultId}/credentials`, {
      auth: { type: "static_bearer", mcp_server_url: "https://mcp.example.com/mcp", token: "tok-openapi" },
    });
    expect(cred.status).toBe(200);
    expectValid("POST", "/v1/vaults/{id}/credentials", 200, cred.body);
    expectValid(
      "GET",
      "/v1/vaults/{id}/credentials",
      200,
      (await call("GET", `/v1/vaults/${vaultId}/credentials`)).body,
    );
    const credId = (cred.body as { id: string }).id;
    expectValid(
      "DELETE",
      "/v1/vaults/{id}/credentials/{cid}",
      200,
      (await call("DELETE", `/v1/vaults/${vaultId}/credentials/${credId}`)).body,
    );
    expectValid("GET", "/v1/vaults", 200, (await call("GET", "/v1/vaults")).body);
  });

  it("errors are the documented envelope", async () => {
    const missing = await call("GET", "/v1/agents/agent_doesnotexist00");
    expect(missing.status).toBe(404);
    expectValid("GET", "/v1/agents/{id}", 404, missing.body);
    const invalid = await call("POST", "/v1/agents", { model: 3 });
    expect(invalid.status).toBe(400);
    expectValid("POST", "/v1/agents", 400, invalid.body);
    const res = await fetch(`${fx.t.stack.url}/v1/sessions`);
    expect(res.status).toBe(401);
    expectValid("GET", "/v1/sessions", 401, await res.json());
  });
});

describe("the /docs page", () => {
  it("is HTML that names the document, and its assets are served", async () => {
    const res = await fetch(`${fx.t.stack.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('data-openapi-url="/v1/openapi.json"');
    const assets = [...html.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(
      expect.arrayContaining(["/docs/assets/swagger-ui-bundle.js", "/docs/assets/init.js"]),
    );
    for (const a of assets) {
      const r = await fetch(`${fx.t.stack.url}${a}`);
      expect(r.status, a).toBe(200);
      expect((await r.arrayBuffer()).byteLength, a).toBeGreaterThan(0);
    }
    expect((await fetch(`${fx.t.stack.url}/docs/assets/package.json`)).status).toBe(404);
    expect((await fetch(`${fx.t.stack.url}/docs/assets/..%2Fpackage.json`)).status).toBe(404);
  });

  it.skipIf(!existsSync(CHROMIUM))(
    `renders every operation in headless Chromium with no request leaving the gateway${existsSync(CHROMIUM) ? "" : ` — skipped: ${CHROMIUM} is not installed (scripts/setup.sh installs it)`}`,
    async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        const outside: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        await page.route("**/*", (route) => {
          const url = route.request().url();
          if (url.startsWith(fx.t.stack.url)) return route.continue();
          outside.push(url);
          return route.abort();
        });
        await page.goto(`${fx.t.stack.url}/docs`);
        const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
        await waitFor(async () => (await page.locator(".opblock").count()) === operations, {
          timeoutMs: 30_000,
        });
        expect(
          await page.locator(".opblock-summary-path", { hasText: "/v1/sessions/{id}/events/stream" }).count(),
        ).toBe(1);
        // Swagger UI shows what it cannot read in an error or warning box.
        expect(await page.locator(".errors-wrapper").count()).toBe(0);
        expect(await page.getByText("Warning", { exact: true }).count()).toBe(0);
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, "docs.png") });
        expect(errors).toEqual([]);
        expect(outside).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
