// `npm run db:migrate`: applies pending migrations to DATABASE_URL (created when missing).
import { migrate } from "./migrate.js";
import { redact } from "./pg-url.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/tokenmill";
const logger = {
  info: (obj: object, msg: string) => console.error(`tokenmill: ${msg}`, JSON.stringify(obj)),
  warn: (obj: object, msg: string) => console.error(`tokenmill: warning: ${msg}`, JSON.stringify(obj)),
};
try {
  const { applied } = await migrate(databaseUrl, { logger });
  console.error(
    applied.length === 0
      ? `tokenmill: ${redact(databaseUrl)} is up to date`
      : `tokenmill: applied ${applied.length} migration(s) to ${redact(databaseUrl)}`,
  );
} catch (err) {
  console.error(`tokenmill: migration failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
