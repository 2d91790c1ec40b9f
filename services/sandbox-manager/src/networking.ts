import type { EnvironmentConfig } from "@tendon/contracts";

/**
 * The network policy a sandbox is registered with: the environment's, where `limited` with
 * allow_mcp_servers also allows the hosts of the agent's MCP servers. Sandboxes of a session with
 * no cloud environment (tests, benchmarks) are unrestricted.
 */
export function sandboxNetworking(environment: EnvironmentConfig | null, mcpServerUrls: string[]) {
  if (environment?.type !== "cloud") return { type: "unrestricted" as const };
  const net = environment.networking;
  if (net.type !== "limited" || !net.allow_mcp_servers) return net;
  const hosts = mcpServerUrls.flatMap((raw) => {
    try {
      const u = new URL(raw);
      return [u.port ? `${u.hostname}:${u.port}` : u.hostname];
    } catch {
      return [];
    }
  });
  return { ...net, allowed_hosts: [...new Set([...net.allowed_hosts, ...hosts])] };
}
