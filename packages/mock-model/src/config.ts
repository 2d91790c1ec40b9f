/**
 * Mock model process configuration: the only file that reads the environment.
 */
import { z } from "zod";

/** Unset and empty mean "not given". */
const blankToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const Env = z.object({
  MOCK_MODEL_PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(65535).default(0)),
  MOCK_MODEL_HOST: z.preprocess(blankToUndefined, z.string().default("127.0.0.1")),
  MOCK_MODEL_FIRST_TOKEN_MS: z.preprocess(blankToUndefined, z.coerce.number().min(0).optional()),
  MOCK_MODEL_PER_TOKEN_MS: z.preprocess(blankToUndefined, z.coerce.number().min(0).optional()),
  MOCK_MODEL_API_KEY: z.preprocess(blankToUndefined, z.string().optional()),
});
export type MockModelEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): MockModelEnv {
  return Env.parse(env);
}
