/**
 * @tendon/mcp: the MCP client side of Tendon's credential-proxy. Lists and calls tools on remote
 * MCP servers over streamable HTTP with per-request credentials (static bearer or OAuth with
 * refresh), maps results to Messages API content, and refreshes OAuth tokens (RFC 6749 §6).
 * The test server lives at `@tendon/mcp/testing`.
 */
export type { McpAuthProvider, McpRequestOptions, McpServerRef, McpTool } from "./client.js";
export { callMcpTool, listMcpTools, staticBearerAuth } from "./client.js";
export type { McpCallResult, McpContentBlock } from "./content.js";
export { mapCallToolResult, mapContentBlock, SUPPORTED_IMAGE_TYPES } from "./content.js";
export type { McpErrorDetails } from "./errors.js";
export { McpAuthenticationError, McpConnectionError } from "./errors.js";
export type { OAuthClientAuth, OAuthRefreshOptions, OAuthRefreshParams, OAuthTokens } from "./oauth.js";
export { refreshOAuthToken } from "./oauth.js";
