import type { Command } from "commander";
import { newApiToken } from "@tokenmill/domain";
import { saveToken } from "./credentials.js";

/**
 * `tokenmill admin bootstrap`: creates the first admin token directly in the database (there is
 * no token yet to call the API with) and prints it once. Refuses when an admin token exists,
 * unless --force.
 */
export function registerAdminCommands(program: Command, json: () => boolean): void {
  const admin = program.command("admin").description("operator commands that talk to the database directly");
  admin
    .command("bootstrap")
    .description("create the first admin API token and print it once")
    .option("--database-url <url>", "PostgreSQL URL", process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/tokenmill")
    .option("--name <name>", "token name", "bootstrap-admin")
    .option("--force", "create another admin token even if one exists", false)
    .option("--save", "also save it as this user's token (like `tokenmill login`)", false)
    .action(async (o: { databaseUrl: string; name: string; force: boolean; save: boolean }) => {
      const { createPrisma } = await import("@tokenmill/db");
      const prisma = createPrisma(o.databaseUrl);
      try {
        const existing = await prisma.apiToken.count({ where: { scopes: { has: "admin" }, revokedAt: null } });
        if (existing > 0 && !o.force) {
          throw new Error(`an admin token already exists (${existing}); use --force to create another, or \`tokenmill tokens create\` with it`);
        }
        const secret = newApiToken();
        const row = await prisma.apiToken.create({
          data: { name: o.name, scopes: ["read", "write", "admin"], prefix: secret.prefix, tokenHash: secret.hash },
        });
        const saved = o.save ? saveToken(secret.token) : null;
        if (json()) {
          process.stdout.write(`${JSON.stringify({ id: row.id, token: secret.token, scopes: row.scopes, saved_to: saved })}\n`);
        } else {
          process.stdout.write(`${secret.token}\n`);
          process.stderr.write(`admin token ${row.id} created; it is shown only once${saved ? ` (saved to ${saved})` : ""}\n`);
        }
      } finally {
        await prisma.$disconnect();
      }
    });
}
