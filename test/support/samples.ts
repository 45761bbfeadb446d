import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";

const SAMPLES = resolve(import.meta.dirname, "../../data/samples");

/** Every bundled sample (data/samples/*.jsonl.gz) in file-name order, with its non-blank JSONL lines. */
export async function sampleFiles(): Promise<{ name: string; lines: string[] }[]> {
  const names = (await readdir(SAMPLES)).filter((f) => f.endsWith(".jsonl.gz")).sort();
  return Promise.all(names.map(async (name) => ({ name, lines: gunzipSync(await readFile(join(SAMPLES, name))).toString("utf8").split("\n").filter((l) => l.trim()) })));
}

/** The non-blank lines of all bundled samples, one file after another. */
export async function sampleLines(): Promise<string[]> {
  return (await sampleFiles()).flatMap((f) => f.lines);
}
