import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.venv/**", "**/dist/**", ".tmp/**"],
    // Real PostgreSQL, Redis and S3 behind every integration test, on machines that may be busy:
    // tests wait on conditions whose own deadlines follow the work's progress (waitFor in
    // @tokenmill/testkit), so one generous suite-wide limit replaces per-test budgets; it only
    // ends a test that hangs outright. One process per test file so native clients and module
    // state never leak between files.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: "forks",
    globalSetup: ["infra/vitest/global-setup.ts"],
    // The AWS SDK warns on every client that Node 20 support ends in 2027; tests run on Node 20 on purpose.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
