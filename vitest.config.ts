import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.venv/**", "**/dist/**", ".tmp/**"],
    // Real PostgreSQL, Redis and S3 behind every integration test: generous limits, and one
    // process per test file so native clients and module state never leak between files.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["infra/vitest/global-setup.ts"],
    // The AWS SDK warns on every client that Node 20 support ends in 2027; tests run on Node 20 on purpose.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
