import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

// One graphql for everything. Vite resolves a package's "module" field, so our sources would get
// graphql's ESM build while Apollo and Prisma (loaded by Node) get its CommonJS build, and
// graphql's `instanceof` checks fail across the two. Node itself (npm start, tsx) loads only the
// CommonJS build; the tests now do the same.
const graphqlMain = createRequire(import.meta.url).resolve("graphql");

// Two projects: `unit` exercises one subgraph or module at a time (still on real PostgreSQL);
// `integration` starts real subgraphs and the real gateway over HTTP. Both share one global setup
// that creates this run's databases and drops them at the end.
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlMain }] },
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    reporters: ["default", ["json", { outputFile: ".test-results/vitest.json" }]],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: files run in parallel, two at a time, each against its own rows.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "subgraphs/*/test/**/*.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["gateway/test/**/*.test.ts", "test/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
