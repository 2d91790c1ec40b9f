/**
 * Vaults and credentials through the SDK: every credential type, secrets write-only (never in a
 * response, a service log or the database in clear), the update rules of spec §8, archive purging
 * the secret; and the master key: a wrong key fails closed, rotation re-seals every secret.
 */
import { randomBytes } from "node:crypto";
import { APIError } from "@anthropic-ai/sdk";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { useTestStack } from "../support/stack.js";

const KEY_A = randomBytes(32).toString("base64");
const fx = useTestStack({ env: { TENDON_MASTER_KEY: KEY_A } });

const SECRETS = {
  bearer: `bearer-${randomBytes(8).toString("hex")}`,
  access: `access-${randomBytes(8).toString("hex")}`,
  refresh: `refresh-${randomBytes(8).toString("hex")}`,
  client: `client-${randomBytes(8).toString("hex")}`,
  env: `envsecret-${randomBytes(8).toString("hex")}`,
};

async function apiError(p: Promise<unknown>): Promise<APIError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(APIError);
  return e as APIError;
}

function serviceOutput(): string {
  const s = fx.t.stack;
  return [...s.sessionLogs, ...s.gateways, ...s.credentialProxies, ...s.harness, ...s.sandboxManagers]
    .flatMap((p) => p.lines())
    .join("\n");
}

async function query<T>(text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: fx.t.databaseUrl });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

async function storedRows(): Promise<
  Array<{ id: string; key_id: string | null; auth_public: unknown; secret_ciphertext: Buffer | null }>
> {
  return query("select id, key_id, auth_public, secret_ciphertext from credentials.credentials");
}

describe("vaults and credentials", () => {
  it("store every credential type and never return, log or store a secret in clear", async () => {
    const client = fx.client;
    const vault = await client.beta.vaults.create({ display_name: "alice", metadata: { team: "a" } });
    expect(vault).toMatchObject({
      type: "vault",
      display_name: "alice",
      metadata: { team: "a" },
      archived_at: null,
    });

    const bearer = await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: "https://mcp.example.com/mcp", token: SECRETS.bearer },
      display_name: "bearer",
    });
    const oauth = await client.beta.vaults.credentials.create(vault.id, {
      auth: {
        type: "mcp_oauth",
        mcp_server_url: "https://oauth.example.com/mcp",
        access_token: SECRETS.access,
        expires_at: "2030-01-01T00:00:00Z",
        refresh: {
          refresh_token: SECRETS.refresh,
          client_id: "cid",
          token_endpoint: "https://oauth.example.com/token",
          token_endpoint_auth: { type: "client_secret_post", client_secret: SECRETS.client },
        },
      },
    });
    const envVar = await client.beta.vaults.credentials.create(vault.id, {
      auth: {
        type: "environment_variable",
        secret_name: "API_TOKEN",
        secret_value: SECRETS.env,
        networking: { type: "limited", allowed_hosts: ["api.example.com"] },
        injection_location: { header: true },
      },
    });
    expect(bearer.auth).toEqual({ type: "static_bearer", mcp_server_url: "https://mcp.example.com/mcp" });
    expect(oauth.auth).toMatchObject({
      type: "mcp_oauth",
      refresh: {
        client_id: "cid",
        token_endpoint: "https://oauth.example.com/token",
        token_endpoint_auth: { type: "client_secret_post" },
      },
    });
    expect(envVar.auth).toEqual({
      type: "environment_variable",
      secret_name: "API_TOKEN",
      networking: { type: "limited", allowed_hosts: ["api.example.com"] },
      injection_location: { header: true, body: false },
    });

    const everything = JSON.stringify([
      bearer,
      oauth,
      envVar,
      await client.beta.vaults.credentials.retrieve(oauth.id, { vault_id: vault.id }),
      (await client.beta.vaults.credentials.list(vault.id)).data,
    ]);
    for (const secret of Object.values(SECRETS)) expect(everything).not.toContain(secret);

    const rows = await storedRows();
    expect(rows).toHaveLength(3);
    const raw = JSON.stringify(
      rows.map((r) => ({ ...r, secret_ciphertext: r.secret_ciphertext?.toString("latin1") })),
    );
    for (const secret of Object.values(SECRETS)) expect(raw).not.toContain(secret);
    for (const secret of Object.values(SECRETS)) expect(serviceOutput()).not.toContain(secret);
  });

  it("enforces the update rules and frees the key on archive", async () => {
    const client = fx.client;
    const vault = await client.beta.vaults.create({ display_name: "rules" });
    const cred = await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: "https://one.example.com/mcp", token: "t1-secret" },
    });
    const dup = await apiError(
      client.beta.vaults.credentials.create(vault.id, {
        auth: { type: "static_bearer", mcp_server_url: "https://one.example.com/mcp", token: "t2" },
      }),
    );
    expect(dup.status).toBe(409);
    expect(dup.headers?.get("x-should-retry")).toBe("false");
    const typeChange = await apiError(
      client.beta.vaults.credentials.update(cred.id, {
        vault_id: vault.id,
        auth: { type: "mcp_oauth", access_token: "x" },
      }),
    );
    expect(typeChange.status).toBe(400);
    const bothOff = await apiError(
      client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: "environment_variable",
          secret_name: "X",
          secret_value: "v",
          networking: { type: "unrestricted" },
          injection_location: { header: false, body: false },
        },
      }),
    );
    expect(bothOff.status).toBe(400);
    const renamed = await client.beta.vaults.credentials.update(cred.id, {
      vault_id: vault.id,
      auth: { type: "static_bearer", token: "t1-rotated" },
      display_name: "renamed",
    });
    expect(renamed).toMatchObject({
      display_name: "renamed",
      auth: { mcp_server_url: "https://one.example.com/mcp" },
    });

    const archived = await client.beta.vaults.credentials.archive(cred.id, { vault_id: vault.id });
    expect(archived.archived_at).toEqual(expect.any(String));
    const purged = (await storedRows()).find((r) => r.id === cred.id);
    expect(purged?.secret_ciphertext).toBeNull();
    // The key is free again.
    await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: "https://one.example.com/mcp", token: "t3" },
    });
    expect(await client.beta.vaults.credentials.delete(cred.id, { vault_id: vault.id })).toEqual({
      id: cred.id,
      type: "vault_credential_deleted",
    });
  });

  it("sessions reference live vaults only", async () => {
    const client = fx.client;
    const vault = await client.beta.vaults.create({ display_name: "for sessions" });
    const agent = await client.beta.agents.create({ name: "v", model: "m" });
    const s = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: fx.environmentId,
      vault_ids: [vault.id],
    });
    expect(s.vault_ids).toEqual([vault.id]);
    const bad = await apiError(
      client.beta.sessions.create({
        agent: agent.id,
        environment_id: fx.environmentId,
        vault_ids: ["vlt_doesnotexist0000"],
      }),
    );
    expect(bad.status).toBe(400);
  });
});

describe("the master key", () => {
  it("fails closed with a wrong key, and rotation re-seals every secret under the new key", async () => {
    const client = fx.client;
    const vault = await client.beta.vaults.create({ display_name: "rotation" });
    await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: "https://rot.example.com/mcp", token: "rot-secret" },
    });
    const stack = fx.t.stack;
    const original = stack.credentialProxies[0]!;
    await original.stop();
    stack.credentialProxies.splice(0, 1);

    const KEY_B = randomBytes(32).toString("base64");
    // A process given only the new key refuses to start: the stored secrets are not its to read.
    const refused = await stack.startService("credential-proxy", { TENDON_MASTER_KEY: KEY_B }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(refused)).toMatch(/exited .*sealed with master key id/s);

    // With the old key as a decryption-only key, it starts and rotation re-seals under the new one.
    const rotating = await stack.startService("credential-proxy", {
      TENDON_MASTER_KEY: KEY_B,
      TENDON_MASTER_KEYS_OLD: KEY_A,
    });
    const bus = await fx.t.bus();
    const { CredentialProxy } = await import("@tendon/contracts");
    const r = await bus.request(CredentialProxy.keysRotate, {});
    expect(r.resealed).toBeGreaterThanOrEqual(1);
    const keyIds = new Set((await storedRows()).filter((x) => x.key_id).map((x) => x.key_id));
    expect(keyIds).toEqual(new Set([r.key_id]));
    // The egress CA's private key is sealed under the master key too, and was re-sealed with it.
    const ca = await query<{ key_id: string }>("select key_id from credentials.egress_ca");
    expect(ca).toEqual([{ key_id: r.key_id }]);
    await rotating.stop();
    stack.credentialProxies.splice(stack.credentialProxies.indexOf(rotating), 1);

    // Now the new key alone is enough, and the API still works.
    await stack.startService("credential-proxy", { TENDON_MASTER_KEY: KEY_B });
    expect((await client.beta.vaults.credentials.list(vault.id)).data).toHaveLength(1);
  });
});
