/**
 * Vaults and credentials (spec §3.8), served by the credential-proxy; and the per-session egress
 * log (Tendon extension: GET /v1/sessions/{id}/egress). Secret fields are accepted on create and
 * update and never returned.
 */
import type { Bus } from "@tendon/bus";
import {
  Credential,
  CredentialCreateParams,
  CredentialProxy,
  CredentialUpdateParams,
  CredentialValidation,
  EgressRecord,
  PageOf,
  Vault,
  VaultCreateParams,
  VaultListQuery,
  VaultUpdateParams,
} from "@tendon/contracts";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Access } from "../http/access.js";
import { addRoute } from "../http/route.js";
import { IdParam } from "./resources.js";

const CredParams = z.object({ id: z.string().min(1).max(128), cid: z.string().min(1).max(128) });
const EgressQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  page: z.string().max(2048).optional(),
});

export function registerVaultRoutes(app: FastifyInstance, bus: Bus, access: Access): void {
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults",
    body: VaultCreateParams,
    response: Vault,
    handler: ({ body }) => bus.request(CredentialProxy.vaultsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/vaults",
    query: VaultListQuery,
    response: PageOf(Vault),
    handler: ({ query }) => bus.request(CredentialProxy.vaultsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/vaults/:id",
    params: IdParam,
    response: Vault,
    handler: ({ params }) => bus.request(CredentialProxy.vaultsRetrieve, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults/:id",
    params: IdParam,
    body: VaultUpdateParams,
    response: Vault,
    handler: ({ params, body }) => bus.request(CredentialProxy.vaultsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/vaults/:id",
    params: IdParam,
    response: CredentialProxy.vaultsDelete.response,
    handler: ({ params }) => bus.request(CredentialProxy.vaultsDelete, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults/:id/archive",
    params: IdParam,
    response: Vault,
    handler: ({ params }) => bus.request(CredentialProxy.vaultsArchive, params),
  });

  const ref = (p: { id: string; cid: string }) => ({ vault_id: p.id, id: p.cid });
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults/:id/credentials",
    params: IdParam,
    body: CredentialCreateParams,
    response: Credential,
    handler: ({ params, body }) =>
      bus.request(CredentialProxy.credentialsCreate, { vault_id: params.id, params: body }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/vaults/:id/credentials",
    params: IdParam,
    query: VaultListQuery,
    response: PageOf(Credential),
    handler: ({ params, query }) =>
      bus.request(CredentialProxy.credentialsList, { vault_id: params.id, query }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/vaults/:id/credentials/:cid",
    params: CredParams,
    response: Credential,
    handler: ({ params }) => bus.request(CredentialProxy.credentialsRetrieve, ref(params)),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults/:id/credentials/:cid",
    params: CredParams,
    body: CredentialUpdateParams,
    response: Credential,
    handler: ({ params, body }) =>
      bus.request(CredentialProxy.credentialsUpdate, { ...ref(params), params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/vaults/:id/credentials/:cid",
    params: CredParams,
    response: CredentialProxy.credentialsDelete.response,
    handler: ({ params }) => bus.request(CredentialProxy.credentialsDelete, ref(params)),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults/:id/credentials/:cid/archive",
    params: CredParams,
    response: Credential,
    handler: ({ params }) => bus.request(CredentialProxy.credentialsArchive, ref(params)),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/vaults/:id/credentials/:cid/mcp_oauth_validate",
    params: CredParams,
    response: CredentialValidation,
    doc: { summary: "Validate MCP OAuth credential" },
    handler: ({ params }) => bus.request(CredentialProxy.credentialsValidate, ref(params)),
  });

  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/egress",
    params: IdParam,
    query: EgressQuery,
    response: PageOf(EgressRecord),
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params, query }) =>
      bus.request(CredentialProxy.egressList, { session_id: params.id, ...query }),
  });
}
