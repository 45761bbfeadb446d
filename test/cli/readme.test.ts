import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Worker } from "bullmq";
import { buildProgram } from "../../packages/cli/src/main.js";
import { runCli } from "../support/cli.js";
import { startStack, type Stack } from "../support/stack.js";
import { startLauncher } from "../launcher/support.js";

/**
 * Every `tokenmill …` command the README shows works as written: the concrete ones run, in the
 * README's order, against a real API, curator and launcher (the training one on the tiny model on
 * CPU); the synopses of the CLI table name commands and options that exist.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const LABELS = join(ROOT, "test/fixtures/data/dedup_quality/dclm_human_quality_labels.jsonl.gz");
const GLOBAL = ["--url", "--token", "--json", "--help"];
/** The CLI's own commander (the repository root resolves another major version). */
type Command = ReturnType<typeof buildProgram>;

/** `tokenmill …` spans and code lines, in order, as argument lists (README commands use no quoting). */
export function readmeCommands(text: string): string[][] {
  const found: string[][] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) {
      fenced = !fenced;
      continue;
    }
    const candidates = fenced ? [line.replace(/#.*$/, "").trim()] : [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const c of candidates) {
      const m = /^(?:npx )?tokenmill (.+)$/.exec(c.trim());
      if (m) found.push(m[1]!.trim().split(/\s+/));
    }
  }
  return found;
}

/** The synopses in the first column of the CLI section's table, e.g. "runs list [--experiment E]". */
export function cliTableSynopses(text: string): string[] {
  const section = text.slice(text.indexOf("\n## CLI\n"), text.indexOf("\n## REST API\n"));
  return section
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .flatMap((l) => [...l.split(/(?<!\\)\|/)[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\\\|/g, "|")));
}

const isPlaceholder = (args: string[]) => args.some((a) => /[<>[\]|…]|\.\.\./.test(a));

/** The command an argument list names (the longest run of subcommand words) and the words used. */
function find(program: Command, args: string[]): { cmd: Command; depth: number } {
  let cmd = program;
  let depth = 0;
  for (const a of args) {
    const sub = cmd.commands.find((c) => c.name() === a) as Command | undefined;
    if (!sub) break;
    cmd = sub;
    depth++;
  }
  return { cmd, depth };
}

/** A mention of a command by name only ("trained with `tokenmill classifiers train`") when it cannot run bare. */
function isMention(program: Command, args: string[]): boolean {
  const { cmd, depth } = find(program, args);
  const needs = cmd.registeredArguments.some((a) => a.required) || cmd.options.some((o) => o.mandatory);
  return depth === args.length && depth > 0 && needs;
}

function checkSynopsis(program: Command, synopsis: string): void {
  const words = synopsis.split(/\s+/);
  const { cmd, depth } = find(program, words);
  const path = words.slice(0, words.findIndex((w) => /^[<[\-…]/.test(w)) >>> 0);
  expect(depth, `"${synopsis}": no command "${path.join(" ")}"`).toBe(path.length);
  expect(cmd.commands.length, `"${synopsis}" names a command group, not a command`).toBe(0);
  const known = new Set([...cmd.options.map((o) => o.long), ...GLOBAL]);
  for (const opt of synopsis.match(/--[a-z][a-z-]*/g) ?? []) expect(known.has(opt), `"${synopsis}": tokenmill ${path.join(" ")} has no ${opt}`).toBe(true);
}

describe("the README's commands (parsing)", () => {
  it("finds the concrete commands, and every CLI table synopsis names a command with those options", () => {
    const program = buildProgram();
    const commands = readmeCommands(README);
    expect(commands.map((c) => c.join(" "))).toEqual(expect.arrayContaining(["recipe apply recipes/demo.yaml --scale 0.01", "runs launch demo-x0.01 --model tiny --watch"]));
    const synopses = cliTableSynopses(README);
    expect(synopses.length).toBeGreaterThan(30);
    for (const s of synopses) checkSynopsis(program, s);
    // "npx tokenmill <command>" names no command; "runs launch <experiment> …" does.
    for (const c of commands.filter((c) => isPlaceholder(c) && !isPlaceholder(c.slice(0, 1)))) checkSynopsis(program, c.join(" "));
    // The parser sees through the table's escaped pipes and tells mentions from commands.
    expect(synopses).toContain("sources add <name> <uri> [--format auto|jsonl|jsonl.gz|jsonl.zst|parquet|arrow] [--text-field F] [--id-field F]");
    expect(isMention(program, ["classifiers", "train"])).toBe(true);
    expect(isMention(program, ["pipelines", "steps"])).toBe(false);
    expect(() => checkSynopsis(program, "runs list [--no-such-option]")).toThrow(/has no --no-such-option/);
  });
});

let stack: Stack;
let launcher: Worker;
let url: string;
let tmp: string;

const tm = (args: string[]) =>
  runCli(args, { cwd: ROOT, env: { TOKENMILL_URL: url, TOKENMILL_TOKEN: stack.admin, TOKENMILL_CONFIG_DIR: join(tmp, "config") } });

beforeAll(async () => {
  // The trainer the launcher starts is this checkout's, whatever the venv's editable install points at.
  process.env.PYTHONPATH = join(ROOT, "workers/trainer");
  stack = await startStack({ worker: true });
  url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-readme-"));
  launcher = await startLauncher(stack, url, join(tmp, "runs"));
});
afterAll(async () => {
  await launcher?.close(true);
  await stack?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("the README's commands (run)", () => {
  // Two curated recipes, a 16-sequence CPU training and a classifier: minutes on a busy 2-core machine.
  it("every concrete `tokenmill …` command exits 0, in the README's order", { timeout: 1_200_000 }, async () => {
    const program = buildProgram();
    const concrete = readmeCommands(README).filter((c) => !isPlaceholder(c) && !isMention(program, c));
    expect(concrete.length).toBeGreaterThanOrEqual(6);
    // What the README's text presupposes: the labelled source `classifiers train` names.
    expect((await tm(["sources", "add", "labels", `file://${LABELS}`])).code).toBe(0);
    for (const args of concrete) {
      const r = await tm(args);
      expect(r.code, `tokenmill ${args.join(" ")}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`).toBe(0);
      if (args[0] === "runs" && args[1] === "launch") {
        expect(r.stdout).toMatch(/: succeeded .*\| step (\d+)\/\1 /);
        expect(r.stdout).toMatch(/pretrain\s+phase-1\s+web\s.*100\.0%/);
      }
    }
    // The run is listed with its experiment's name, and the ledger is reachable by that name.
    const runs = await tm(["runs", "list", "--experiment", "demo-x0.01"]);
    expect(runs.stdout).toMatch(/^id\s+experiment\s+status/);
    expect(runs.stdout).toMatch(/demo-x0\.01\s+succeeded/);
    expect((await tm(["runs", "ledger", "demo-x0.01"])).stdout).toContain("100.0%");
    expect((await tm(["experiments", "list"])).stdout).toMatch(/demo-x0\.01\s+demo-36m-scaled/);
    const missing = await tm(["runs", "ledger", "no-such-experiment"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('<experiment>: no experiment with id or name "no-such-experiment"');
  });
});
