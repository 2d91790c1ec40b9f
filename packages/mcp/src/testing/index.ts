/**
 * @tendon/mcp/testing: a real MCP server (streamable HTTP, bearer-token guarded) with an OAuth
 * refresh_token endpoint, for tests of anything that talks to MCP servers.
 */
export type {
  IssuedToken,
  TestMcpServer,
  TestMcpServerOptions,
  TestOAuthConfig,
  TestTool,
  TestToolOutput,
  TokenRequest,
} from "./server.js";
export { DEFAULT_TEST_TOOLS, startTestMcpServer } from "./server.js";
