import { parsePipeline, type StepConfig } from "@tokenmill/domain";
import { describe, expect, it } from "vitest";
import { maskPii } from "../filters/pii.js";
import type { Doc } from "../types.js";
import { createSteps } from "./registry.js";

const all = { emails: true, ipv4: true, ipv6: true, only_public_ips: true };

describe("pii", () => {
  it("masks e-mails with datatrove's replacements in turn", () => {
    const r = maskPii("Write to jane.doe@uni.edu or bob+x@mail.example.co.uk, not to @handle or a@b.", all);
    expect(r.text).toBe("Write to email@example.com or firstname.lastname@example.org, not to @handle or a@b.");
    expect(r.emails).toBe(2);
  });

  it("masks public IPv4 only, as Python's ipaddress.is_global decides, and no leading zeros", () => {
    const r = maskPii("hosts 8.8.8.8, 10.0.0.1, 192.168.1.20, 127.0.0.1, 100.64.1.1, 93.184.216.34 and 01.2.3.4", all);
    expect(r.text).toBe("hosts 22.214.171.124, 10.0.0.1, 192.168.1.20, 127.0.0.1, 100.64.1.1, 126.96.36.199 and 01.2.3.4");
    expect(r.ipv4).toBe(2);
    expect(maskPii("10.0.0.1", { ...all, only_public_ips: false }).text).toBe("22.214.171.124");
    // Version strings that are not addresses stay (300 is no octet).
    expect(maskPii("version 1.2.300.4", all).ipv4).toBe(0);
  });

  it("masks IPv6 addresses and leaves times and non-global addresses", () => {
    const r = maskPii("v6 2606:4700:4700::1111 and [2a00:1450:4001:81b::200e]:443; lo ::1, fe80::1, at 12:30:45", all);
    expect(r.text).toBe("v6 2001:db8::1 and [2001:db8::1]:443; lo ::1, fe80::1, at 12:30:45");
    expect(r.ipv6).toBe(2);
    expect(maskPii("fd00::1", { ...all, only_public_ips: false }).ipv6).toBe(1);
  });

  it("counts masks per kind in the step's counters and never drops", async () => {
    const spec = parsePipeline({ version: 1, name: "t", steps: [{ step: "pii", ipv6: false }, { step: "tokenize" }] });
    const [step] = await createSteps({ ...spec, steps: [spec.steps[0] as StepConfig] });
    const docs: Doc[] = ["mail a@example.org from 8.8.4.4", "nothing here", "::1 2606:4700::1111"].map((text, i) => ({ doc_id: `d${i}`, text, line: i + 1, byte_offset: 0, fields: {} }));
    const out = await step!.processBatch(docs);
    expect(out.kept).toHaveLength(3);
    expect(out.dropped).toHaveLength(0);
    expect(out.counters).toEqual({ emails_masked: 1, ipv4_masked: 1, ipv6_masked: 0, docs_changed: 1 });
    expect(out.kept[0]!.text).toBe("mail email@example.com from 22.214.171.124");
  });
});
