/**
 * The egress proxy, run by the credential-proxy: the only network path out of a sandbox.
 *
 * - `egress.register` (sandbox-manager, at provisioning): records the sandbox's session, vaults and
 *   network policy, and returns the env its tools get — placeholders for the session's
 *   environment_variable credentials, never the values — and the CA to trust.
 * - Connections arrive with a signed identity line; the policy is the environment's networking
 *   plus the session's credentials, and the proxy substitutes a placeholder only on the way to that
 *   credential's allowed hosts.
 * - Every request is recorded (host, method, status, bytes, credential ids) and listed per session.
 */
import { createHmac } from "node:crypto";
import type { Registrar } from "@tendon/bus";
import {
  AppError,
  type CredentialAuthPublic,
  CredentialProxy,
  decodeCursor,
  type EgressRecord as EgressRecordApi,
  encodeCursor,
} from "@tendon/contracts";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createEgressProxy,
  type EgressPolicy,
  type EgressProxy,
  type EgressRecord,
} from "@tendon/egress";
import { serializeError } from "@tendon/runtime";
import type { CredentialProxyContext } from "../context.js";
import * as repo from "../store/vaults.repo.js";
import { injectRulesFor, repositoriesOf, repositoryScope } from "./repositories.js";

/** Hosts package managers need, allowed under `limited` networking with allow_package_managers. */
export const PACKAGE_MANAGER_HOSTS = [
  "registry.npmjs.org",
  "registry.yarnpkg.com",
  "pypi.org",
  "files.pythonhosted.org",
  "crates.io",
  "static.crates.io",
  "index.crates.io",
  "rubygems.org",
  "proxy.golang.org",
  "sum.golang.org",
  "deb.debian.org",
  "security.debian.org",
  "archive.ubuntu.com",
];

const POLICY_TTL_MS = 2_000;

export function placeholderFor(secret: Buffer, sessionId: string, credentialId: string): string {
  const mac = createHmac("sha256", secret).update(`${sessionId}:${credentialId}`).digest("base64url");
  return `tnd_ph_${mac.replace(/[^A-Za-z0-9]/g, "").slice(0, 32)}`;
}

type Networking =
  | { type: "unrestricted" }
  | { type: "limited"; allowed_hosts: string[]; allow_package_managers?: boolean };

export interface EgressConfig {
  host: string;
  port: number;
  identitySecret: Buffer;
  /** Tests map fake upstream hosts to local servers and trust their CA. */
  resolve?: (host: string, port: number) => Promise<{ host: string; port: number }>;
  upstreamCa?: string[];
}

async function loadOrCreateCa(ctx: CredentialProxyContext): Promise<CertificateAuthority> {
  const row = await ctx.db.kysely
    .selectFrom("egress_ca")
    .selectAll()
    .where("id", "=", "default")
    .executeTakeFirst();
  if (row) {
    const keyPem = ctx.secrets.keyring.open(
      { key_id: row.key_id, nonce: row.key_nonce, ciphertext: row.key_ciphertext },
      "egress_ca:default",
    );
    return { certPem: row.cert_pem, keyPem };
  }
  const ca = await createCertificateAuthority({ commonName: "Tendon egress CA" });
  const sealed = ctx.secrets.keyring.seal(ca.keyPem, "egress_ca:default");
  await ctx.db.kysely
    .insertInto("egress_ca")
    .values({
      id: "default",
      cert_pem: ca.certPem,
      key_ciphertext: sealed.ciphertext,
      key_nonce: sealed.nonce,
      key_id: sealed.key_id,
      created_at: ctx.clock.now(),
    })
    .onConflict((oc) => oc.column("id").doNothing())
    .execute();
  // Another instance may have won the race: use whatever is stored.
  return loadOrCreateCa(ctx);
}

export async function startEgress(
  ctx: CredentialProxyContext,
  on: Registrar,
  cfg: EgressConfig,
): Promise<EgressProxy> {
  const ca = await loadOrCreateCa(ctx); // The proxy asks for the policy on every request; a short cache keeps that off the database
  // (a credential archived or changed takes effect within POLICY_TTL_MS).
  const cache = new Map<string, { until: number; policy: Promise<EgressPolicy> }>();
  const policyFor = (id: { sessionId: string; sandboxId: string }): Promise<EgressPolicy> => {
    const key = `${id.sandboxId}\n${id.sessionId}`;
    const now = ctx.clock.now().getTime();
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.policy;
    for (const [k, v] of cache) if (v.until <= now) cache.delete(k);
    const policy = loadPolicy(id);
    cache.set(key, { until: now + POLICY_TTL_MS, policy });
    policy.catch(() => cache.delete(key));
    return policy;
  };
  const forget = (sandboxId: string) => {
    for (const k of cache.keys()) if (k.startsWith(`${sandboxId}\n`)) cache.delete(k);
  };

  const loadPolicy = async (id: { sessionId: string; sandboxId: string }): Promise<EgressPolicy> => {
    const reg = await ctx.db.kysely
      .selectFrom("sandbox_registrations")
      .selectAll()
      .where("sandbox_id", "=", id.sandboxId)
      .executeTakeFirst();
    if (!reg || reg.session_id !== id.sessionId)
      return { network: { type: "limited", allowedHosts: [] }, credentials: [] };
    const net = reg.networking as Networking;
    const repositories = await repositoriesOf(ctx, reg.session_id);
    // A repository attached to the session is an explicit grant: its host is reachable.
    const network: EgressPolicy["network"] =
      net.type === "unrestricted"
        ? { type: "unrestricted" }
        : {
            type: "limited",
            allowedHosts: [
              ...net.allowed_hosts,
              ...(net.allow_package_managers ? PACKAGE_MANAGER_HOSTS : []),
              ...repositories.map((r) => repositoryScope(r.url).host),
            ],
          };
    const credentials: EgressPolicy["credentials"] = [];
    const seen = new Set<string>();
    for (const row of await repo.activeCredentialsOf(ctx.db.kysely, reg.vault_ids)) {
      const pub = row.auth_public as CredentialAuthPublic;
      if (pub.type !== "environment_variable" || seen.has(pub.secret_name)) continue;
      seen.add(pub.secret_name);
      const secret = ctx.secrets.open(row).secret_value;
      if (!secret) continue;
      credentials.push({
        id: row.id,
        vaultId: row.vault_id,
        placeholder: placeholderFor(cfg.identitySecret, reg.session_id, row.id),
        secret,
        allowedHosts: pub.networking.type === "unrestricted" ? "unrestricted" : pub.networking.allowed_hosts,
        injection: pub.injection_location,
      });
    }
    return { network, credentials, inject: injectRulesFor(repositories) };
  };

  const record = (r: EgressRecord) => {
    ctx.metrics?.egressRequests.inc({
      decision: r.blocked ? "blocked" : "allowed",
      credential: r.credentialIds.length > 0 ? "injected" : "none",
    });
    ctx.db.kysely
      .insertInto("egress_log")
      .values({
        session_id: r.sessionId,
        sandbox_id: r.sandboxId,
        at: r.at,
        method: r.method,
        scheme: r.scheme,
        host: r.host,
        port: r.port,
        status: r.status,
        bytes_out: r.bytesOut,
        bytes_in: r.bytesIn,
        credential_ids: JSON.stringify(r.credentialIds),
        blocked: r.blocked,
        reason: r.reason ?? null,
        duration_ms: r.durationMs,
      })
      .execute()
      .catch((err: unknown) => ctx.log.warn("egress record not stored", { err: serializeError(err) }));
  };

  const proxy = createEgressProxy({
    ca,
    identitySecret: cfg.identitySecret,
    policyFor,
    onRecord: record,
    ...(cfg.resolve ? { resolve: cfg.resolve } : {}),
    ...(cfg.upstreamCa ? { upstreamCa: cfg.upstreamCa } : {}),
    log: (level, msg, fields) => ctx.log[level](msg, fields),
  });
  const addr = await proxy.listen({ host: cfg.host, port: cfg.port });
  ctx.log.info("egress proxy listening", { addr });

  on(CredentialProxy.egressRegister, async ({ sandbox_id, session_id, vault_ids, networking }) => {
    const net = networking as Networking;
    if (net.type !== "unrestricted" && net.type !== "limited")
      throw new AppError("invalid_request", "unknown networking type");
    await ctx.db.kysely
      .insertInto("sandbox_registrations")
      .values({
        sandbox_id,
        session_id,
        vault_ids: JSON.stringify(vault_ids),
        networking: JSON.stringify(net),
        created_at: ctx.clock.now(),
      })
      .onConflict((oc) =>
        oc
          .column("sandbox_id")
          .doUpdateSet({ vault_ids: JSON.stringify(vault_ids), networking: JSON.stringify(net) }),
      )
      .execute();
    forget(sandbox_id);
    const env: Record<string, string> = {};
    for (const row of await repo.activeCredentialsOf(ctx.db.kysely, vault_ids)) {
      const pub = row.auth_public as CredentialAuthPublic;
      if (pub.type === "environment_variable" && !(pub.secret_name in env)) {
        env[pub.secret_name] = placeholderFor(cfg.identitySecret, session_id, row.id);
      }
    }
    const repositories = (await repositoriesOf(ctx, session_id)).map(({ token: _, ...spec }) => spec);
    return { env, ca_cert_pem: ca.certPem, repositories };
  });

  on(CredentialProxy.egressUnregister, async ({ sandbox_id }) => {
    await ctx.db.kysely.deleteFrom("sandbox_registrations").where("sandbox_id", "=", sandbox_id).execute();
    forget(sandbox_id);
    return {};
  });

  on(CredentialProxy.egressList, async ({ session_id, limit, page }) => {
    const n = limit ?? 100;
    const after = decodeCursor(page, "asc");
    let q = ctx.db.kysely.selectFrom("egress_log").selectAll().where("session_id", "=", session_id);
    if (after) q = q.where("id", ">", Number(after.k[0]));
    const rows = await q
      .orderBy("id", "asc")
      .limit(n + 1)
      .execute();
    const data = rows.slice(0, n);
    const last = data.at(-1);
    return {
      data: data.map(
        (r): EgressRecordApi => ({
          id: `egr_${r.id}`,
          type: "egress_request",
          session_id: r.session_id,
          sandbox_id: r.sandbox_id,
          at: r.at.toISOString(),
          method: r.method,
          scheme: r.scheme as "http" | "https",
          host: r.host,
          port: r.port,
          status: r.status,
          bytes_out: Number(r.bytes_out),
          bytes_in: Number(r.bytes_in),
          credential_ids: r.credential_ids,
          blocked: r.blocked,
          reason: r.reason,
          duration_ms: r.duration_ms,
        }),
      ),
      next_page: rows.length > n && last ? encodeCursor({ o: "asc", d: "n", k: [last.id] }) : null,
    };
  });

  return proxy;
}
