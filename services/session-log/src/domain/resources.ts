/**
 * Session resources (spec §3.6). Repositories (`github_repository`) are cloned into the session's
 * sandbox; their token is write-only and goes to the credential-proxy, never into this service's
 * tables. Files and memory stores need APIs this server does not implement (Files, Memory) and are
 * refused with a clear 400.
 *
 * - `url` must be https (the token must not cross the network in clear), without credentials,
 *   query or fragment, and name a repository path (`/owner/repo[.git]`).
 * - `mount_path` defaults to `/workspace/<repo>` and must be a normalized path under /workspace
 *   (the sandbox's only writable tree), distinct from every other resource's.
 */
import { posix } from "node:path";
import {
  RESOURCE_MOUNT_ROOT,
  type ResourceParams,
  type SessionResource,
  ValidationError,
} from "@tendon/contracts";

export interface NewRepository {
  resource: SessionResource;
  token: string | undefined;
}

const invalid = (message: string, code = "invalid_resource") =>
  new ValidationError(message, { details: { error_code: code } });

function repositoryUrl(raw: string): { url: string; name: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid(`resources: ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.protocol !== "https:") throw invalid("resources: a repository url must use https");
  if (u.username || u.password) {
    throw invalid("resources: put the token in authorization_token, not in the url");
  }
  if (u.search || u.hash) throw invalid("resources: a repository url has no query or fragment");
  const segments = u.pathname.split("/").filter((s) => s !== "");
  if (segments.length < 2 || segments.some((s) => s === "." || s === "..")) {
    throw invalid("resources: a repository url names a repository, like https://github.com/owner/repo");
  }
  const name = segments.at(-1)!.replace(/\.git$/, "");
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith(".")) {
    throw invalid(`resources: cannot derive a directory name from ${JSON.stringify(raw)}`);
  }
  return { url: `${u.origin}/${segments.join("/")}`, name };
}

function mountPath(given: string | null | undefined, name: string): string {
  const path = given ?? `${RESOURCE_MOUNT_ROOT}/${name}`;
  if (posix.normalize(path) !== path.replace(/\/+$/, "") || !path.startsWith(`${RESOURCE_MOUNT_ROOT}/`)) {
    throw invalid(`resources: mount_path must be a normalized path under ${RESOURCE_MOUNT_ROOT}/`);
  }
  return path.replace(/\/+$/, "");
}

/** Validates resource params into resources; `existing` are the session's current ones. */
export function newResources(
  params: ResourceParams[],
  existing: SessionResource[],
  next: () => string,
  now: Date,
): NewRepository[] {
  const out: NewRepository[] = [];
  const mounts = new Set(existing.map((r) => r.mount_path));
  for (const p of params) {
    if (p.type !== "github_repository") {
      throw invalid(
        p.type === "file"
          ? "resources: file resources need the Files API, which this server does not implement"
          : "resources: memory stores need the Memory API, which this server does not implement",
        "unsupported_resource",
      );
    }
    const { url, name } = repositoryUrl(p.url);
    const mount = mountPath(p.mount_path, name);
    const clash = [...mounts].find(
      (m) => m === mount || m.startsWith(`${mount}/`) || mount.startsWith(`${m}/`),
    );
    if (clash) throw invalid(`resources: mount_path ${mount} overlaps another resource's (${clash})`);
    mounts.add(mount);
    const at = now.toISOString();
    out.push({
      resource: {
        id: next(),
        type: "github_repository",
        url,
        mount_path: mount,
        checkout: p.checkout ?? null,
        created_at: at,
        updated_at: at,
      },
      token: p.authorization_token,
    });
  }
  return out;
}
