#!/usr/bin/env node
/**
 * mock model process: config → createMockModel().start() → one stdout line
 * `{"event":"listening","url":"http://..."}` → stops cleanly on SIGTERM/SIGINT (a second signal
 * exits at once).
 */
import { loadConfig } from "./config.js";
import { createMockModel } from "./server.js";

const cfg = loadConfig(process.env);
const mock = createMockModel({
  port: cfg.MOCK_MODEL_PORT,
  host: cfg.MOCK_MODEL_HOST,
  ...(cfg.MOCK_MODEL_API_KEY !== undefined ? { apiKey: cfg.MOCK_MODEL_API_KEY } : {}),
  ...(cfg.MOCK_MODEL_FIRST_TOKEN_MS !== undefined ? { firstTokenMs: cfg.MOCK_MODEL_FIRST_TOKEN_MS } : {}),
  ...(cfg.MOCK_MODEL_PER_TOKEN_MS !== undefined ? { perTokenMs: cfg.MOCK_MODEL_PER_TOKEN_MS } : {}),
});

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

// Handlers go in before start(), so a signal during start-up also stops cleanly.
const started = mock.start();
let stopping = false;
const onSignal = () => {
  if (stopping) process.exit(1);
  stopping = true;
  started
    .catch(() => undefined)
    .then(() => mock.stop())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`mock model failed to stop: ${message(err)}\n`);
        process.exit(1);
      },
    );
};
process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);

try {
  await started;
} catch (err) {
  process.stderr.write(`mock model failed to start: ${message(err)}\n`);
  process.exit(1);
}
if (!stopping) process.stdout.write(`${JSON.stringify({ event: "listening", url: mock.url })}\n`);
