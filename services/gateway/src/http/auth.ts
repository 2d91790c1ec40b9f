/**
 * Authentication: `x-api-key` or `Authorization: Bearer`, verified by the session-log (the gateway
 * holds no key table). Verified principals are cached briefly by key hash, so a revoked key stops
 * working within `cacheMs`.
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Bus } from "@tendon/bus";
import { AppError, type Principal, SessionLog } from "@tendon/contracts";

export function extractKey(h: IncomingHttpHeaders): string | undefined {
  const x = h["x-api-key"];
  if (typeof x === "string" && x.trim() !== "") return x.trim();
  const auth = h.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m?.[1]) return m[1].trim();
  }
  return undefined;
}

interface Entry {
  principal: Principal | null;
  expires: number;
}

export interface Authenticator {
  authenticate(headers: IncomingHttpHeaders): Promise<Principal>;
}

export function createAuthenticator(bus: Bus, opts: { cacheMs: number; maxEntries?: number }): Authenticator {
  const cache = new Map<string, Entry>();
  const max = opts.maxEntries ?? 10_000;
  return {
    async authenticate(headers) {
      const key = extractKey(headers);
      if (!key) {
        throw new AppError(
          "authentication",
          "missing API key: send it as x-api-key or Authorization: Bearer",
        );
      }
      if (key.length > 512) throw new AppError("authentication", "invalid API key");
      const h = createHash("sha256").update(key).digest("hex");
      const now = Date.now();
      const hit = cache.get(h);
      if (hit && hit.expires > now) {
        if (hit.principal) return hit.principal;
        throw new AppError("authentication", "invalid API key");
      }
      try {
        const { principal } = await bus.request(SessionLog.authVerify, { key });
        // Sessions tokens die with their work item, so they are checked on every request.
        if (principal.type !== "session_token") {
          if (cache.size >= max) cache.delete(cache.keys().next().value as string);
          cache.set(h, { principal, expires: now + opts.cacheMs });
        }
        return principal;
      } catch (e) {
        if (e instanceof AppError && e.code === "authentication") {
          cache.set(h, { principal: null, expires: now + Math.min(opts.cacheMs, 2_000) });
        }
        throw e;
      }
    },
  };
}
