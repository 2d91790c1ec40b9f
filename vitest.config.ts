import { defineConfig } from "vitest/config";

// Vitest 5 targets Node 22; its reporters call Map.groupBy (Node 21+). Polyfill it for Node 20 in
// the main process, which is where this file is evaluated.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    value<K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, V[]> {
      const out = new Map<K, V[]>();
      let i = 0;
      for (const item of items) {
        const k = key(item, i++);
        const list = out.get(k);
        if (list) list.push(item);
        else out.set(k, [item]);
      }
      return out;
    },
  });
}

// Workspace packages export `@tendon/source` pointing at their TypeScript sources, so tests run
// against `src/` without a build. Processes that tests spawn run the built `dist/` instead.
// `import` must not be listed for SSR: vitest turns these into Node --conditions for its workers,
// and CommonJS packages (pg) would then require() their ESM entries.
export default defineConfig({
  resolve: { conditions: ["@tendon/source", "node", "import", "default"] },
  ssr: { resolve: { conditions: ["@tendon/source", "node"], externalConditions: ["@tendon/source"] } },
  test: {
    allowOnly: false,
    retry: 0,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [
            "test/integration/**/*.int.test.ts",
            "services/*/test/**/*.int.test.ts",
            "packages/*/test/**/*.int.test.ts",
          ],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: "conformance",
          include: ["test/conformance/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Property-based fuzzing of the gateway, a soak of SSE streams, and the chaos run: CI runs
        // bounded sizes; `pnpm chaos` / `pnpm soak` run them at full size by hand.
        extends: true,
        test: {
          name: "resilience",
          include: ["test/fuzz/**/*.test.ts", "test/soak/**/*.test.ts", "test/chaos/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
