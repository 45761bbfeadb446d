import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const ROOT = resolve(import.meta.dirname, "../..");
export const CLI_BIN = join(ROOT, "packages/cli/bin/tokenmill.js");
const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `tokenmill` CLI in a child process; a non-zero exit comes back as a result, not an error. */
export async function runCli(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [CLI_BIN, ...args], { cwd: o.cwd, env: { ...process.env, ...o.env }, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
