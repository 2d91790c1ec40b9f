/**
 * @tendon/mock-model: a scripted, Messages-API-compatible model server for tests, demos and
 * benchmarks. Point `@anthropic-ai/sdk` at `mock.url` and script replies per model name.
 */

export type { RecordedRequest } from "./requests.js";
export { Block, Failure, Script, Step, StopReason } from "./script.js";
export type { MockModel, MockModelOptions } from "./server.js";
export { createMockModel } from "./server.js";
