/** Plain-text tables for terminals; every command also has --json for scripts. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === "number" ? c.toLocaleString("en-US") : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
  const line = (r: (string | number)[]) =>
    r.map((c, i) => (numeric[i] ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export interface StepLike {
  step: string;
  docs_in: number;
  docs_out: number;
  dropped: Record<string, number>;
}

/** The per-step funnel: documents in and out of each step and what was dropped, by reason. */
export function funnel(steps: StepLike[]): string {
  return table(
    ["step", "docs in", "docs out", "dropped", "by reason"],
    steps.map((s) => [
      s.step,
      s.docs_in,
      s.docs_out,
      s.docs_in - s.docs_out,
      Object.entries(s.dropped)
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${r}=${n}`)
        .join(" ") || "-",
    ]),
  );
}

export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
