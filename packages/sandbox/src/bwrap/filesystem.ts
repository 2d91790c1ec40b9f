/**
 * What a `process` sandbox sees of the host's file system, and the private files each sandbox gets.
 *
 * Visible, read-only: /usr (bash, coreutils, ripgrep, node and their libraries), the top-level
 * /bin /sbin /lib* entries (symlinks into /usr on merged-/usr systems, else read-only binds), and a
 * short list of /etc entries that hold no secrets ({@link SAFE_ETC}). Everything else of the host —
 * /root, /home, /var, /srv, /work, /run, the host's /proc and /sys, the repository, other sandboxes —
 * is simply not mounted.
 *
 * Private, per sandbox, in `<baseDir>/<id>/` (removed by kill()): a synthetic /etc/passwd, group,
 * hosts, hostname and nsswitch.conf, the tool-limits script, and the package.json that marks the hand
 * runtime as ESM, all bound read-only; and an `owner` file (not bound) for ./sweep.ts.
 *
 * Invariants:
 * - No host /etc file is bound unless it is on {@link SAFE_ETC}; passwd/group contain only the sandbox
 *   user, root and nobody.
 * - `writeSandboxFiles` creates the directory exclusively (an existing `<id>` directory is an error)
 *   with modes that let the sandbox's unprivileged uid read it.
 */
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { type Bind, HAND_ROOT, type RootEntry, SANDBOX_GID, SANDBOX_UID, WORKDIR } from "./args.js";
import { OWNER_FILE, ownIdentity } from "./sweep.js";

/** Host /etc entries that carry no secrets and that ordinary tools expect. */
export const SAFE_ETC = [
  "alternatives",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "localtime",
  "ssl/certs",
  "protocols",
  "services",
  "os-release",
  "debian_version",
  "mime.types",
];

const TOP_LEVEL = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/** The read-only system tree, as it exists on this host. */
export function systemTree(): RootEntry[] {
  const out: RootEntry[] = [{ kind: "ro-bind", path: "/usr", src: "/usr" }];
  for (const name of TOP_LEVEL) {
    const host = `/${name}`;
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(host);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) out.push({ kind: "symlink", path: host, target: readlinkSync(host) });
    else if (st.isDirectory()) out.push({ kind: "ro-bind", path: host, src: host });
  }
  for (const name of SAFE_ETC) {
    const host = `/etc/${name}`;
    if (existsSync(host)) out.push({ kind: "ro-bind", path: host, src: host, optional: true });
  }
  return out;
}

export const SANDBOX_HOSTNAME = "sandbox";

const ETC_FILES: Record<string, string> = {
  passwd: [
    "root:x:0:0:root:/root:/usr/sbin/nologin",
    `user:x:${SANDBOX_UID}:${SANDBOX_GID}:sandbox user:${WORKDIR}:/bin/bash`,
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "",
  ].join("\n"),
  group: ["root:x:0:", `user:x:${SANDBOX_GID}:`, "nogroup:x:65534:", ""].join("\n"),
  hosts: `127.0.0.1\tlocalhost ${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  hostname: `${SANDBOX_HOSTNAME}\n`,
  "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\n",
};

export const TOOL_LIMITS_PATH = "/etc/tendon/tool-limits.sh";

/** Writes `<dir>` and its files; returns the read-only binds that place them in the sandbox. */
export async function writeSandboxFiles(dir: string, toolLimitsScript: string): Promise<Bind[]> {
  await fs.mkdir(dir, { mode: 0o755 });
  await fs.chmod(dir, 0o755);
  // Who made it (not visible inside): lets a later provider sweep it up if this process dies first.
  await fs.writeFile(path.join(dir, OWNER_FILE), `${ownIdentity()}\n`, { mode: 0o600 });
  const etc = path.join(dir, "etc");
  await fs.mkdir(etc, { mode: 0o755 });
  await fs.chmod(etc, 0o755);
  const binds: Bind[] = [];
  const put = async (hostPath: string, content: string, dest: string) => {
    await fs.writeFile(hostPath, content, { mode: 0o644 });
    await fs.chmod(hostPath, 0o644);
    binds.push({ src: hostPath, dest, readOnly: true });
  };
  for (const [name, content] of Object.entries(ETC_FILES)) {
    await put(path.join(etc, name), content, `/etc/${name}`);
  }
  await put(path.join(etc, "tool-limits.sh"), toolLimitsScript, TOOL_LIMITS_PATH);
  await put(
    path.join(dir, "package.json"),
    '{ "type": "module", "private": true }\n',
    `${HAND_ROOT}/package.json`,
  );
  return binds;
}
