import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

/** Registered eval sets: name → file under the eval folder (data/eval/ at the repository root). */
export const EVAL_SETS: Record<string, string> = {
  gsm8k_test: "gsm8k_test.jsonl.gz",
  math500: "math500.jsonl.gz",
  humaneval: "humaneval.jsonl.gz",
};

export const BUNDLED_EVAL_DIR = fileURLToPath(new URL("../../../../data/eval/", import.meta.url));

export interface EvalItem {
  id: string;
  text: string;
}

/**
 * Reads one registered eval set. Fails loudly when the set is unknown, missing, unreadable or has
 * no items: a decontamination step that silently checks against nothing is worse than none.
 */
export async function loadEvalSet(name: string, dir = BUNDLED_EVAL_DIR): Promise<EvalItem[]> {
  const file = EVAL_SETS[name];
  if (!file) throw new Error(`decontaminate: unknown eval set "${name}"; registered: ${Object.keys(EVAL_SETS).join(", ")}`);
  const path = `${dir.replace(/\/?$/, "/")}${file}`;
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new Error(`decontaminate: eval set "${name}" is missing: cannot read ${path} (${(err as Error).message})`);
  }
  let body: string;
  try {
    body = gunzipSync(raw).toString("utf8");
  } catch (err) {
    throw new Error(`decontaminate: eval set "${name}" at ${path} is not valid gzip (${(err as Error).message})`);
  }
  const items: EvalItem[] = [];
  body.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const rec = JSON.parse(line) as { id?: unknown; text?: unknown };
    if (typeof rec.text !== "string") throw new Error(`decontaminate: eval set "${name}" line ${i + 1} has no text field`);
    items.push({ id: typeof rec.id === "string" ? rec.id : `${name}:${i + 1}`, text: rec.text });
  });
  if (items.length === 0) throw new Error(`decontaminate: eval set "${name}" at ${path} is empty`);
  return items;
}
