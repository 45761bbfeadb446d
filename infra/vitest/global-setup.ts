// Runs once per `vitest run`, before the test workers start: names the run (so its databases
// can be dropped together at the end), clears databases left by crashed runs, and builds the
// template database once instead of racing to build it in every worker.
// Imported by path, not through @tokenmill/testkit's index, so that the S3 and HTTP helpers
// are not loaded (nor able to break) every test run.
import { dropTestDatabases, ensureTemplateDatabase, newTestRunId, testServerUrl } from "../../packages/testkit/src/db.js";

export async function setup(): Promise<() => Promise<void>> {
  // Inherited by the forked workers, where createTestDatabase puts it into database names.
  process.env.TOKENMILL_TEST_RUN ??= newTestRunId();
  const runId = process.env.TOKENMILL_TEST_RUN;
  try {
    await dropTestDatabases(runId);
    await ensureTemplateDatabase();
  } catch (err) {
    if ((err as { code?: string }).code !== "ECONNREFUSED") throw err;
    // Tests that need no database still run; the others fail on their own with this cause.
    console.warn(`tokenmill: PostgreSQL is not reachable at ${testServerUrl()} (run infra/scripts/deps.sh)`);
    return async () => {};
  }
  return async () => {
    await dropTestDatabases(runId);
  };
}
