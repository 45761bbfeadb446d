import type { StepConfig } from "@tokenmill/domain";
import { maskPii, type PiiOptions } from "../filters/pii.js";
import type { Step } from "./step.js";

/**
 * Masks e-mail and public IP addresses (datatrove's PIIFormatter, plus IPv6). Never drops; counts
 * go to the step's counters: `emails_masked`, `ipv4_masked`, `ipv6_masked`, `docs_changed`.
 */
export function createPiiStep(config: StepConfig): Step {
  const o = config as unknown as PiiOptions;
  return {
    name: "pii",
    async processBatch(docs) {
      const counters = { emails_masked: 0, ipv4_masked: 0, ipv6_masked: 0, docs_changed: 0 };
      for (const doc of docs) {
        const r = maskPii(doc.text, o);
        if (r.text !== doc.text) counters.docs_changed++;
        counters.emails_masked += r.emails;
        counters.ipv4_masked += r.ipv4;
        counters.ipv6_masked += r.ipv6;
        doc.text = r.text;
      }
      return { kept: docs, dropped: [], counters };
    },
  };
}
