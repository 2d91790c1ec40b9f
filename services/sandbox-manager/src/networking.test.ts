import type { EnvironmentConfig } from "@tendon/contracts";
import { describe, expect, it } from "vitest";
import { sandboxNetworking } from "./networking.js";

const cloud = (
  networking: Extract<EnvironmentConfig, { type: "cloud" }>["networking"],
): EnvironmentConfig => ({
  type: "cloud",
  networking,
  provisioning: "lazy",
  packages: { type: "packages", apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] },
});

describe("sandboxNetworking", () => {
  const mcp = ["https://mcp.example.com/mcp", "http://127.0.0.1:8931/mcp", "not a url"];
  it("adds the agent's MCP server hosts only under limited networking with allow_mcp_servers", () => {
    const limited = {
      type: "limited" as const,
      allowed_hosts: ["api.example.com"],
      allow_package_managers: false,
    };
    expect(sandboxNetworking(cloud({ ...limited, allow_mcp_servers: true }), mcp)).toEqual({
      ...limited,
      allow_mcp_servers: true,
      allowed_hosts: ["api.example.com", "mcp.example.com", "127.0.0.1:8931"],
    });
    expect(sandboxNetworking(cloud({ ...limited, allow_mcp_servers: false }), mcp)).toEqual({
      ...limited,
      allow_mcp_servers: false,
    });
    expect(sandboxNetworking(cloud({ type: "unrestricted" }), mcp)).toEqual({ type: "unrestricted" });
    expect(sandboxNetworking(null, mcp)).toEqual({ type: "unrestricted" });
  });
});
