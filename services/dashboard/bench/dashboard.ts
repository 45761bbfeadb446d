/**
 * Dashboard figures on real PostgreSQL and Redis (a throwaway database and queue prefix):
 *
 *   npx tsx services/dashboard/bench/dashboard.ts [--runs 5000] [--clients 100] [--browser]
 *
 * 1. bundle: the built assets' bytes and gzip bytes (build first: npm run build -w @tokenmill/dashboard);
 * 2. runs list: payload bytes and median latency of GET /curation-runs?limit=25 at offset 0 and near
 *    the end, with --runs runs in the table (inserted directly; each with 4 step rows);
 * 3. SSE fan-out: --clients EventSource-like readers on one run; the time from a change (a cancel) to
 *    the last client receiving it (one shared poller per run reads the database once a second);
 * 4. --browser: in Debian's Chromium, first contentful paint and the time until a run's funnel table
 *    shows, median of 5 cold loads.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { startStack } from "../../../test/support/stack.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (!a.startsWith("--")) continue;
  const next = process.argv[i + 1];
  args.set(a.slice(2), next && !next.startsWith("--") ? (i++, next) : "true");
}
const N_RUNS = Number(args.get("runs") ?? 5000);
const CLIENTS = Number(args.get("clients") ?? 100);
const ROOT = resolve(import.meta.dirname, "../../..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

console.log(`# dashboard bench — ${new Date().toISOString()} — ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}`);

// 1. bundle
const assets = join(ROOT, "services/dashboard/dist/assets");
if (existsSync(assets)) {
  for (const f of readdirSync(assets).filter((f) => !f.endsWith(".map"))) {
    const b = readFileSync(join(assets, f));
    console.log(`bundle  ${f.replace(/-[\w-]{8}\./, ".")}: ${kb(b.length)} (gzip ${kb(gzipSync(b).length)})`);
  }
}

const stack = await startStack();
try {
  // Fastify resolves listen() with the address it bound, e.g. http://127.0.0.1:43123.
  const base = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  const auth = { authorization: `Bearer ${stack.admin}` };
  await stack.app.inject({ method: "POST", url: "/sources", headers: auth, payload: { name: "bad", uri: `file://${ROOT}/test/fixtures/bad` } });
  const pipeline = { version: 1, name: "bench", steps: [{ step: "normalize" }, { step: "length" }, { step: "tokenize" }] };
  await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth, payload: pipeline });

  // 2. runs list with many runs
  const source = await stack.prisma.source.findFirstOrThrow();
  const pipe = await stack.prisma.pipeline.findFirstOrThrow();
  const t0 = Date.now();
  for (let i = 0; i < N_RUNS; i += 1000) {
    const n = Math.min(1000, N_RUNS - i);
    const rows = Array.from({ length: n }, (_, k) => ({
      sourceId: source.id,
      pipelineId: pipe.id,
      datasetName: `bench-${i + k}`,
      status: "succeeded" as const,
      docsIn: 1000n,
      docsKept: 900n,
      tokensKept: 123456n,
      tasksTotal: 4,
      createdAt: new Date(Date.now() - (i + k) * 1000),
    }));
    await stack.prisma.curationRun.createMany({ data: rows });
  }
  const ids = await stack.prisma.curationRun.findMany({ select: { id: true } });
  const steps = ["read", "normalize", "length", "tokenize"];
  for (let i = 0; i < ids.length; i += 2000) {
    await stack.prisma.stepStat.createMany({
      data: ids.slice(i, i + 2000).flatMap((r) => steps.map((step, position) => ({ runId: r.id, step, position, docsIn: 1000n, docsOut: 950n, dropped: { [`${step}:x`]: 50 } }))),
    });
  }
  console.log(`runs list: ${N_RUNS} runs inserted in ${Date.now() - t0} ms`);
  for (let i = 0; i < 3; i++) await fetch(`${base}/curation-runs?limit=25`, { headers: auth }).then((r) => r.arrayBuffer()); // warm-up
  for (const offset of [0, Math.max(0, N_RUNS - 25)]) {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 7; i++) {
      const s = performance.now();
      const res = await fetch(`${base}/curation-runs?limit=25&offset=${offset}`, { headers: auth });
      bytes = (await res.arrayBuffer()).byteLength;
      times.push(performance.now() - s);
    }
    console.log(`runs list: GET /curation-runs?limit=25&offset=${offset} → ${kb(bytes)}, median ${median(times).toFixed(1)} ms (7 requests)`);
  }

  // 3. SSE fan-out
  const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth, payload: { source: "bad", pipeline: "bench" } });
  const runId = started.json().id as string;
  const tConnect = performance.now();
  const readers = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const { ticket } = (await stack.app.inject({ method: "POST", url: "/events/tickets", headers: auth })).json();
      const res = await fetch(`${base}/events/curation-runs/${runId}?ticket=${ticket}`);
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let text = "";
      while (!text.includes("event: run")) text += dec.decode((await reader.read()).value, { stream: true });
      return { reader, dec, text };
    }),
  );
  const connectMs = performance.now() - tConnect;
  const tChange = performance.now();
  await stack.app.inject({ method: "POST", url: `/curation-runs/${runId}/cancel`, headers: auth });
  const arrivals = await Promise.all(
    readers.map(async (r) => {
      while (!r.text.includes('"status":"cancelled"')) {
        const { value, done } = await r.reader.read();
        if (done) break;
        r.text += r.dec.decode(value, { stream: true });
      }
      return performance.now() - tChange;
    }),
  );
  console.log(
    `sse: ${CLIENTS} clients connected in ${connectMs.toFixed(0)} ms; change → received: median ${median(arrivals).toFixed(0)} ms, last ${Math.max(...arrivals).toFixed(0)} ms (one shared poller, interval 1000 ms)`,
  );

  // 4. browser
  if (args.has("browser") && existsSync("/usr/bin/chromium")) {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const fcp: number[] = [];
    const funnel: number[] = [];
    const id = ids[0]!.id;
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.addInitScript((t) => sessionStorage.setItem("tokenmill.token", t), stack.admin);
      const s = Date.now();
      await page.goto(`${base}/ui/#/runs/${id}`);
      await page.getByRole("rowheader", { name: "tokenize" }).waitFor();
      funnel.push(Date.now() - s);
      fcp.push(await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1));
      await ctx.close();
    }
    await browser.close();
    console.log(`browser: run page, cold: first contentful paint median ${median(fcp).toFixed(0)} ms; funnel table visible median ${median(funnel)} ms (5 loads)`);
  }
} finally {
  await stack.close();
}
