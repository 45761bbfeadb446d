import { defineConfig } from "prisma/config";

// DATABASE_URL is read only by the Prisma CLI (migrate deploy/diff for users with internet access);
// services receive their URL through their own env schema.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/tokenmill" },
});
