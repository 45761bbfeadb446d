import { Command, Option } from "commander";
import { ApiError, Client } from "./client.js";
import { registerRemoteCommands } from "./remote.js";
import { registerLocalCommands } from "./local.js";
import { registerAdminCommands } from "./admin.js";
import { registerRecipeCommands } from "./recipe.js";
import { registerRunCommands } from "./runs.js";
import { registerClassifierCommands } from "./classifiers.js";
import { loadSavedToken } from "./credentials.js";

/**
 * `tokenmill`: every action of the REST API, plus `curate local` (no services needed) and
 * `admin bootstrap` (first admin token, straight into the database).
 */
export function buildProgram(): Command {
  const program = new Command("tokenmill")
    .description("Curate open datasets into tokenized Arrow shards and manage runs")
    .addOption(new Option("--url <url>", "API base URL").env("TOKENMILL_URL").default("http://127.0.0.1:8080"))
    .addOption(new Option("--token <token>", "API token (else TOKENMILL_TOKEN, else the one saved by `tokenmill login`)").env("TOKENMILL_TOKEN"))
    .option("--json", "print JSON instead of tables", false)
    .showHelpAfterError();
  const client = () => {
    const o = program.opts<{ url: string; token?: string }>();
    return new Client({ url: o.url, token: o.token || loadSavedToken() });
  };
  const json = () => program.opts<{ json: boolean }>().json;
  registerRemoteCommands(program, client, json);
  registerLocalCommands(program, json);
  registerAdminCommands(program, json);
  registerRecipeCommands(program, client, json);
  registerRunCommands(program, client, json);
  registerClassifierCommands(program, client, json);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof ApiError) {
      process.stderr.write(`error: ${err.message}${err.status ? ` (HTTP ${err.status}${err.field ? `, field ${err.field}` : ""})` : ""}\n`);
    } else {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 1;
  }
}
