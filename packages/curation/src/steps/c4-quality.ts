import type { StepConfig } from "@tokenmill/domain";
import { c4Quality, type C4Params } from "../filters/c4.js";
import type { Doc, Drop } from "../types.js";
import { dropOf, type Step } from "./step.js";

/**
 * datatrove's C4QualityFilter (`c4_quality:<rule>`). A filter that also rewrites: kept documents
 * keep only their kept lines (stripped, joined with "\n"), as in datatrove. Lines removed are
 * counted by rule in the step's counters (`lines_dropped:<rule>`, plus `lines_total`).
 */
export function createC4QualityStep(config: StepConfig): Step {
  const p = config as unknown as C4Params;
  return {
    name: "c4_quality",
    async processBatch(docs) {
      const kept: Doc[] = [];
      const dropped: Drop[] = [];
      const counters: Record<string, number> = {};
      for (const doc of docs) {
        const r = c4Quality(doc.text, p);
        for (const [rule, n] of Object.entries(r.linesDropped)) counters[`lines_dropped:${rule}`] = (counters[`lines_dropped:${rule}`] ?? 0) + n;
        if (r.verdict) dropped.push(dropOf(doc, `c4_quality:${r.verdict[0]}`, r.verdict[1]));
        else {
          if (r.text !== doc.text) counters.docs_rewritten = (counters.docs_rewritten ?? 0) + 1;
          doc.text = r.text;
          kept.push(doc);
        }
      }
      return { kept, dropped, counters };
    },
  };
}
