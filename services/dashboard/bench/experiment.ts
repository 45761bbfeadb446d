/**
 * The experiment page on real PostgreSQL and Redis (a throwaway database), with synthetic rows
 * inserted directly for this benchmark only: one experiment whose stage mixes --sources sources over
 * two phases, and one running training run with --points progress reports.
 *
 *   npx tsx services/dashboard/bench/experiment.ts [--points 10000] [--sources 30] [--browser]
 *
 * 1. API payloads: bytes and median latency (7 requests after warm-up) of every call the page makes,
 *    and of the first SSE event (run + ledger);
 * 2. --browser: in Debian's Chromium, cold loads of the experiment page: first contentful paint and
 *    "first meaningful paint" (ledger table, burn-down and loss charts all drawn), median of 5.
 */
import { cpus } from "node:os";
import { existsSync } from "node:fs";
import { startStack } from "../../../test/support/stack.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (!a.startsWith("--")) continue;
  const next = process.argv[i + 1];
  args.set(a.slice(2), next && !next.startsWith("--") ? (i++, next) : "true");
}
const POINTS = Number(args.get("points") ?? 10_000);
const SOURCES = Number(args.get("sources") ?? 30);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

console.log(`# experiment page bench — ${new Date().toISOString()} — ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}`);

const stack = await startStack();
try {
  const base = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  const auth = { authorization: `Bearer ${stack.admin}` };

  // Synthetic plan: SOURCES sources × 2 phases, seq_len 2048, 1M tokens per source and phase.
  const names = Array.from({ length: SOURCES }, (_, i) => `source-${String(i).padStart(2, "0")}`);
  const per = 2048 * 512;
  const phases = ["phase-1", "phase-2"].map((name, p) => ({
    name,
    target_tokens: per * SOURCES,
    tokens: per * SOURCES,
    sequences: 512 * SOURCES,
    start_sequence: p * 512 * SOURCES,
    block_size: SOURCES,
    components: names.map((n, i) => ({
      name: n, dataset: n, form: { weight: 1 }, max_epochs: 4, sequences: 512, tokens: per, share: 1 / SOURCES, available_tokens: per * (i === 0 ? 0.55 : 4),
      epochs: i === 0 ? 1 / 0.55 : 0.25, cumulative_epochs: i === 0 ? (p + 1) / 0.55 : 0.25 * (p + 1), full_passes: 0, partial_pass: 0.25,
    })),
    segments: [],
  }));
  const planned = per * SOURCES * 2;
  const plan = { fingerprint: "bench", seq_len: 2048, tokens: planned, phases };
  const mixture = await stack.prisma.mixture.create({ data: { name: "bench-mix", seed: 1n, seqLen: 2048, tokenizer: "llama3", spec: {}, plan, fingerprint: "bench", tokens: BigInt(planned) } });
  const exp = await stack.prisma.experiment.create({ data: { name: "bench", recipe: {}, recipeHash: "bench", model: {}, training: {}, mixtures: { create: { mixtureId: mixture.id, stage: "pretrain", position: 0 } } } });
  const stepTokens = planned / (POINTS * 2); // the run is half-way
  const consumedAt = (step: number) => Object.fromEntries(names.map((n) => [n, Math.round((step * stepTokens) / SOURCES)]));
  const run = await stack.prisma.trainingRun.create({
    data: {
      experimentId: exp.id, stage: "pretrain", mixtureId: mixture.id, planFingerprint: "bench", backend: "local", resources: {}, retry: {}, overrides: {}, status: "running",
      attempt: 2, preemptions: 1, lastStep: POINTS, totalSteps: POINTS * 2, loss: 2.5, lr: 3e-4, tokensPerS: 50_000, tokensConsumed: consumedAt(POINTS), startedAt: new Date(),
      events: { create: [{ status: "queued", reason: "launched by bench" }, { status: "starting", reason: "launcher picked it up" }, { status: "running", reason: "attempt 1" }, { status: "starting", reason: "retrying after preemption (node lost)" }, { status: "running", reason: "attempt 2" }] },
    },
  });
  const t0 = Date.now();
  for (let i = 1; i <= POINTS; i += 5000) {
    const data = Array.from({ length: Math.min(5000, POINTS - i + 1) }, (_, k) => {
      const step = i + k;
      return { runId: run.id, step, tokensConsumed: consumedAt(step), loss: 2 + 8 / Math.sqrt(step), lr: 3e-4, tokensPerS: 50_000 + (step % 17) * 100, mfu: 0.4 };
    });
    await stack.prisma.runProgress.createMany({ data });
  }
  let position = 0;
  await stack.prisma.ledgerEntry.createMany({
    data: phases.flatMap((ph, p) => ph.components.map((c) => ({ experimentId: exp.id, stage: "pretrain", phase: ph.name, source: c.name, position: position++, planned: BigInt(c.tokens), consumed: BigInt(p === 0 ? c.tokens : 0) }))),
  });
  console.log(`setup: ${POINTS} progress rows, ${SOURCES} sources × 2 phases inserted in ${Date.now() - t0} ms`);

  // 1. API payloads
  const calls = [
    `/experiments?limit=25`,
    `/runs/latest?experiment=${exp.id}`,
    `/experiments/${exp.id}`,
    `/runs?experiment=${exp.id}&limit=50`,
    `/runs/${run.id}`,
    `/experiments/${exp.id}/ledger?stage=pretrain`,
    `/mixtures/${mixture.id}`,
    `/runs/${run.id}/progress?max_points=500`,
    `/runs/${run.id}/progress?max_points=5000`,
  ];
  for (const path of calls) {
    for (let i = 0; i < 2; i++) await fetch(base + path, { headers: auth }).then((r) => r.arrayBuffer());
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 7; i++) {
      const s = performance.now();
      const res = await fetch(base + path, { headers: auth });
      bytes = (await res.arrayBuffer()).byteLength;
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      times.push(performance.now() - s);
    }
    console.log(`api: GET ${path.replace(/[0-9a-f-]{36}/g, "{id}")} → ${kb(bytes)}, median ${median(times).toFixed(1)} ms`);
  }
  {
    const { ticket } = (await stack.app.inject({ method: "POST", url: "/events/tickets", headers: auth })).json();
    const s = performance.now();
    const res = await fetch(`${base}/events/runs/${run.id}?ticket=${ticket}`);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    while (!/event: run\ndata: .*\n\n/.test(text)) text += dec.decode((await reader.read()).value, { stream: true });
    const ev = /event: run\ndata: (.*)\n\n/.exec(text)![1]!;
    console.log(`sse: first \`run\` event (run + ledger of ${SOURCES * 2} rows) → ${kb(Buffer.byteLength(ev))}, ${(performance.now() - s).toFixed(0)} ms`);
    await reader.cancel();
  }

  // 2. browser
  if (args.has("browser") && existsSync("/usr/bin/chromium")) {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const fcp: number[] = [];
    const fmp: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      await page.addInitScript((t) => sessionStorage.setItem("tokenmill.token", t), stack.admin);
      const s = Date.now();
      await page.goto(`${base}/ui/#/experiments/${exp.id}`);
      await page.locator("tr.total[data-consumed]").waitFor();
      await page.getByRole("img", { name: /^Burn-down/ }).locator("canvas").waitFor();
      await page.getByRole("img", { name: /^Loss over steps/ }).locator("canvas").waitFor();
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
      fmp.push(Date.now() - s);
      fcp.push(await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1));
      await ctx.close();
    }
    await browser.close();
    console.log(`browser: experiment page (${POINTS} reports, ${SOURCES} sources), cold: first contentful paint median ${median(fcp).toFixed(0)} ms; ledger + burn-down + loss drawn median ${median(fmp)} ms (5 loads)`);
  }
} finally {
  await stack.close();
}
