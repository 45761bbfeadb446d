/**
 * Writes our verdicts for each document of a JSONL corpus (id, text) — one line per document with
 * the rule each of the four heuristic steps fires (null = kept), the word-token count and a hash of
 * the tokens — for comparison with datatrove's filters (see BENCHMARKS.md, "Curation steps").
 *
 *   npx tsx bench/curation-verdicts.ts corpus.jsonl out.jsonl
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { parsePipeline } from "@tokenmill/domain";
import { c4Quality, type C4Params } from "../packages/curation/src/filters/c4.js";
import { fineWebQuality, type FineWebParams } from "../packages/curation/src/filters/fineweb.js";
import { gopherQuality, gopherRepetition, type GopherQualityParams } from "../packages/curation/src/filters/gopher.js";
import { wordTokenize } from "../packages/curation/src/filters/spacy-tokenizer.js";

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error("usage: curation-verdicts.ts corpus.jsonl out.jsonl");
const spec = parsePipeline({
  version: 1,
  name: "compare",
  steps: [{ step: "gopher_repetition" }, { step: "gopher_quality" }, { step: "c4_quality" }, { step: "fineweb_quality" }, { step: "tokenize" }],
});
const [rep, q, c4, fw] = spec.steps as unknown as Record<string, number>[];
const repParams = {
  ...(rep as object),
  top_n_grams: [2, 3, 4].map((n) => [n, rep![`top_${n}_gram_frac`]!] as [number, number]),
  dup_n_grams: [5, 6, 7, 8, 9, 10].map((n) => [n, rep![`dup_${n}_gram_frac`]!] as [number, number]),
} as Parameters<typeof gopherRepetition>[2];
const qParams = { ...(q as object), stop_words: new Set(spec.steps[1]!.stop_words as string[]) } as unknown as GopherQualityParams;
const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

const out = createWriteStream(output);
for await (const line of createInterface({ input: createReadStream(input) })) {
  const d = JSON.parse(line) as { id: string; text: string };
  const w = wordTokenize(d.text);
  const r = c4Quality(d.text, c4 as unknown as C4Params);
  out.write(
    JSON.stringify({
      id: d.id,
      n_tokens: w.length,
      tokens_sha: sha1(w.join("\x00")),
      gopher_repetition: gopherRepetition(d.text, () => w, repParams)?.[0] ?? null,
      gopher_quality: gopherQuality(d.text, w, qParams)?.[0] ?? null,
      c4_quality: r.verdict?.[0] ?? null,
      c4_text_sha: r.verdict ? null : sha1(r.text),
      fineweb_quality: fineWebQuality(d.text, () => w, fw as unknown as FineWebParams)?.[0] ?? null,
    }) + "\n",
  );
}
out.end();
