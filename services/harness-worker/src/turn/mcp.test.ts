import type { Bus } from "@tendon/bus";
import type { SessionRuntime } from "@tendon/contracts";
import { describe, expect, it } from "vitest";
import { McpTools } from "./mcp.js";

const policy = (type: "always_allow" | "always_ask") => ({ type });

function session(): SessionRuntime {
  return {
    id: "sesn_00000000000000000001",
    status: "idle",
    environment_id: "env_000000000001",
    environment: null,
    vault_ids: [],
    last_seq: 0,
    agent: {
      mcp_servers: [{ type: "url", name: "tools", url: "https://mcp.example.com/mcp" }],
      tools: [
        {
          type: "mcp_toolset",
          mcp_server_name: "tools",
          default_config: { enabled: true, permission_policy: policy("always_ask") },
          configs: [
            { name: "echo", enabled: true, permission_policy: policy("always_allow") },
            { name: "rm", enabled: false, permission_policy: policy("always_allow") },
          ],
        },
      ],
    } as unknown as SessionRuntime["agent"],
  };
}

describe("McpTools.lookup without a listing (the server could not be listed)", () => {
  // No listing happens here, so the bus is never used.
  const mcp = new McpTools({} as Bus, session());

  it("still routes a name in a declared server's namespace to that server, with its policy", () => {
    expect(mcp.lookup("tools__echo")).toEqual({
      server: "tools",
      url: "https://mcp.example.com/mcp",
      tool: "echo",
      policy: "always_allow",
    });
    expect(mcp.lookup("tools__other")?.policy).toBe("always_ask");
  });

  it("leaves disabled tools, other namespaces and the bare prefix alone", () => {
    expect(mcp.lookup("tools__rm")).toBeUndefined();
    expect(mcp.lookup("bash")).toBeUndefined();
    expect(mcp.lookup("others__echo")).toBeUndefined();
    expect(mcp.lookup("tools__")).toBeUndefined();
  });
});
