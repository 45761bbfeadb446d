import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Worker } from "bullmq";
import type { Browser, Page } from "playwright-core";
import { browserMissing, launchChromium } from "../support/browser.js";
import { parse as parseYaml } from "yaml";
import { savePaletteScreenshot } from "../support/png.js";
import { startStack, waitForRun, type Stack } from "../support/stack.js";
import { PYTHON, TINY, ended, sampleVersion, startLauncher, tinyRecipe, waitRun } from "../launcher/support.js";

/**
 * Every page as a first-time user reads it at 1280 px, on real data: a curated sample (and a second
 * run of it that reuses the version), two experiments whose phases are named differently, and a tiny
 * training run on the local backend. Screenshots go to test-results/screenshots/, or to
 * docs/screenshots/ with TOKENMILL_DOCS_SCREENSHOTS=1 (how the README's images are made).
 */
const ROOT = resolve(import.meta.dirname, "../..");
const DOCS = process.env.TOKENMILL_DOCS_SCREENSHOTS === "1";
const SHOTS = resolve(ROOT, DOCS ? "docs/screenshots" : "test-results/screenshots");
const missing = browserMissing() ?? (!existsSync(PYTHON) ? "the trainer's virtual environment (.venv) is missing (npm run setup)" : null);
if (missing) console.warn(`tokenmill: skipping the first-look browser test: ${missing}`);

const pipeline = { version: 1, name: "first-look", steps: [{ step: "normalize" }, { step: "length", min_words: 50 }, { step: "tokenize" }] };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const nf = new Intl.NumberFormat("en");
const WIDTH = 1280;

describe.skipIf(missing !== null)("what a first-time user sees on each page, in headless Chromium", () => {
  let stack: Stack;
  let browser: Browser;
  let launcher: Worker;
  let page: Page;
  let base: string;
  let tmp: string;
  let run: any;
  let reused: any;
  let expA: any;
  let expB: any;
  let exp140: any;
  let trainingRun: string;
  const consoleErrors: string[] = [];
  const auth = () => ({ authorization: `Bearer ${stack.admin}` });
  const shot = async (name: string) => {
    if (!DOCS) return void (await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true }));
    await savePaletteScreenshot(browser, page, `${SHOTS}/${name}.png`);
  };
  const post = async (url: string, payload: unknown, status: number) => {
    const res = await stack.app.inject({ method: "POST", url, headers: auth(), payload: payload as object });
    expect(res.statusCode, res.body).toBe(status);
    return res.json();
  };
  /** How far the page scrolls sideways: a page that fits has nothing beyond the viewport. */
  const scrollWidth = () => page.evaluate(() => document.documentElement.scrollWidth);

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), "tokenmill-first-look-"));
    const [s, b] = await Promise.all([
      startStack({ worker: true }),
      launchChromium(),
    ]);
    stack = s;
    browser = b;
    base = await stack.app.listen({ host: "127.0.0.1", port: 0 });
    launcher = await startLauncher(stack, base, join(tmp, "runs"));

    await post("/sources", { name: "samples", uri: `file://${ROOT}/data/samples` }, 201);
    await post("/pipelines", pipeline, 201);
    run = await waitForRun(stack, (await post("/curation-runs", { source: "samples", pipeline: pipeline.name }, 202)).id);
    expect(run.status).toBe("succeeded");
    // The same source through the same pipeline again: an identical version exists and is reused.
    reused = await waitForRun(stack, (await post("/curation-runs", { source: "samples", pipeline: pipeline.name }, 202)).id);
    expect(reused).toMatchObject({ status: "succeeded", reused_version: true, dataset_version_id: run.dataset_version_id });

    const web = await sampleVersion(stack, "web", "c4_redpajama_cc_samples.jsonl.gz");
    const code = await sampleVersion(stack, "code", "thealgorithms_python_first200.jsonl.gz");
    expA = await post("/experiments", { name: "tiny", recipe: tinyRecipe("tiny"), datasets: { web, code } }, 201);
    // The same recipe with its phases named differently and web taken from the curated samples.
    const renamed = tinyRecipe("tiny-renamed");
    const [p1, p2] = renamed.stages[0]!.phases as Array<{ name: string; init?: string }>;
    [p1!.name, p2!.name, p2!.init] = ["warm", "main", "warm"];
    expB = await post("/experiments", { name: "tiny-renamed", recipe: renamed, datasets: { web: run.dataset_version_id, code } }, 201);
    // The published 140M recipe over the samples: a large recipe and plan to compare with.
    // Its budgets shrunk to one block of sequences per phase so the samples can feed it; everything
    // else (sources, mixes, schedules, training settings, model) is as published.
    const big = parseYaml(readFileSync(join(ROOT, "recipes/mobilellm-r1-140m.yaml"), "utf8"));
    for (const st of big.stages) {
      st.block_size = 8;
      for (const ph of st.phases) {
        if (ph.tokens !== undefined) ph.tokens = st.seq_len * 8;
        for (const m of ph.mix) if (m.tokens !== undefined) m.tokens = st.seq_len;
      }
    }
    const pool = [web, code, run.dataset_version_id];
    const bigDatasets = Object.fromEntries(big.sources.map((src: { name: string }, i: number) => [src.name, pool[i % pool.length]]));
    exp140 = await post("/experiments", { name: "mobilellm-r1-140m", recipe: big, datasets: bigDatasets }, 201);

    trainingRun = (await post(`/experiments/${expA.id}/runs`, { backend: "local", overrides: { ...TINY, progress_every_steps: 1 } }, 202)).id;
    // A few CPU steps of the tiny model; minutes on a busy machine, so a wide deadline.
    expect((await waitRun(stack, trainingRun, ended, 400_000)).status).toBe("succeeded");

    page = await browser.newPage({ viewport: { width: WIDTH, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await launcher?.close(true);
    await stack?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("signs in and lists the runs", async () => {
    await page.goto(`${base}/ui/#/runs`);
    await page.getByLabel("API token").fill(stack.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Curation runs" }).waitFor();
    await expect.poll(() => page.getByRole("row").filter({ hasText: "succeeded" }).count()).toBe(2);
    await shot("runs");
  });

  it("shows a run's drops on their own scale, its totals under the right columns and names instead of ids", async () => {
    await page.goto(`${base}/ui/#/runs/${run.id}`);
    const funnel = page.getByRole("table", { name: "Documents per step, dropped by reason" });
    await funnel.getByRole("rowheader", { name: "tokenize" }).waitFor();
    await page.getByRole("img", { name: /Documents in and out per step/ }).locator("canvas").waitFor();

    // Every step that dropped something has a bar a reader can see, the largest fills its track.
    const bars = await funnel.locator("tbody tr").evaluateAll((trs) =>
      trs.map((tr) => ({ step: tr.querySelector("th")?.textContent ?? "", bar: tr.querySelector(".drop-bar")?.getBoundingClientRect().width ?? 0, track: tr.querySelector(".drop-track")?.getBoundingClientRect().width ?? 0 })),
    );
    const steps: Array<{ step: string; docs_in: number; docs_out: number }> = run.steps;
    const dropping = steps.filter((s) => s.docs_in > s.docs_out);
    expect(dropping.length).toBeGreaterThan(0);
    const most = Math.max(...dropping.map((s) => s.docs_in - s.docs_out));
    for (const s of steps) {
      const b = bars.find((x) => x.step === s.step)!;
      const d = s.docs_in - s.docs_out;
      if (d === 0) expect(b.bar, s.step).toBe(0);
      else expect(b.bar, `${s.step}: ${d} of ${s.docs_in} dropped`).toBeGreaterThanOrEqual(Math.max(3, (0.9 * b.track * d) / most));
    }
    // A step dropping a sliver of its documents still shows: on the documents' scale it would not.
    const sliver = dropping.find((s) => (s.docs_in - s.docs_out) / s.docs_in < 0.05);
    if (sliver) expect(bars.find((x) => x.step === sliver.step)!.bar).toBeGreaterThanOrEqual(3);

    // The total row: documents under the document columns, the tokens kept named as such.
    const total = await funnel.locator("tr.total").evaluate((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim()));
    expect(total.slice(0, 4)).toEqual(["total", nf.format(run.totals.docs_in), nf.format(run.totals.docs_kept), nf.format(run.totals.docs_dropped)]);
    expect(total[5]).toBe(`tokens kept ${nf.format(run.totals.tokens_kept)}`);

    const details = page.locator("dl.details");
    expect(await details.textContent()).not.toMatch(UUID);
    await details.getByText("samples", { exact: true }).waitFor();
    await details.getByText(`${pipeline.name} v1`, { exact: true }).waitFor();
    await shot("run-funnel");

    // The version links back to the run that made it.
    await details.getByRole("link", { name: run.dataset_version_id.slice(0, 8) }).click();
    await page.getByRole("table", { name: "Arrow shards" }).getByRole("row").nth(1).waitFor();
    await page.getByRole("link", { name: `Run ${run.id.slice(0, 8)}` }).waitFor();
    expect(await page.getByRole("link", { name: `Run ${run.id.slice(0, 8)}` }).getAttribute("href")).toBe(`#/runs/${run.id}`);
    await shot("dataset");
    await page.goto(`${base}/ui/#/datasets`);
    await page.getByRole("link", { name: "samples" }).waitFor();
    await shot("datasets");
  });

  it("says a reused run processed nothing instead of showing tasks 0/0", async () => {
    await page.goto(`${base}/ui/#/runs/${reused.id}`);
    await page.getByText(/an identical dataset version already existed/).waitFor();
    expect(await page.locator(".progress-row").textContent()).not.toMatch(/tasks 0\/0/);
    await page.locator("dl.details").getByRole("link", { name: /\(reused\)/ }).waitFor();
  });

  it("lists the launch queue and its worker beside the curation queue", async () => {
    await page.goto(`${base}/ui/#/queues`);
    const launch = page.getByRole("article", { name: "launch" });
    await launch.getByRole("heading", { name: "Workers alive: 1" }).waitFor();
    await page.getByRole("article", { name: "curation" }).getByRole("heading", { name: "Workers alive: 1" }).waitFor();
    await shot("queues");
  });

  it("shows the weights a mixture gave beside the shares, and compares mixtures with different phase names within 1280 px", async () => {
    const [mixA, mixB] = [expA.mixtures[0].mixture_id, expB.mixtures[0].mixture_id];
    await page.goto(`${base}/ui/#/mixtures?a=${mixA}`);
    const budget = page.getByRole("table", { name: /^Budget of / });
    await budget.locator("tbody tr").first().waitFor();
    const rows = () => budget.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));
    // tinyRecipe: web 3 and code 1 in phase-1, 1 and 1 in phase-2.
    await expect.poll(async () => (await rows()).map((r) => r.slice(0, 3))).toEqual([
      ["phase-1", "web", "3"],
      ["phase-1", "code", "1"],
      ["phase-2", "web", "1"],
      ["phase-2", "code", "1"],
    ]);
    await shot("mixture-budget");

    await page.goto(`${base}/ui/#/mixtures?a=${mixA}&b=${mixB}`);
    const diff = page.getByRole("table", { name: /^Budget: / });
    await diff.locator("tbody tr").first().waitFor();
    const diffRows = await diff.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));
    expect(diffRows.map((r) => r.slice(0, 2))).toEqual([
      ["phase-1 / warm", "web"],
      ["phase-1 / warm", "code"],
      ["phase-2 / main", "web"],
      ["phase-2 / main", "code"],
    ]);
    expect(diffRows.flat()).not.toContain("absent");
    const spec = page.getByRole("table", { name: /^Specification: / });
    await spec.getByText(/samples · /).first().waitFor();
    expect(await spec.textContent()).not.toMatch(UUID);
    expect(await scrollWidth()).toBeLessThanOrEqual(WIDTH);
    await shot("mixture-diff");

    // Against the 140M recipe's first mixture: many more differences, still within the page.
    await page.goto(`${base}/ui/#/mixtures?a=${mixA}&b=${exp140.mixtures[0].mixture_id}`);
    await page.getByRole("table", { name: /^Specification: \d+ differences between tiny\.pretrain and mobilellm-r1-140m/ }).waitFor();
    await page.getByRole("table", { name: /^Budget: / }).locator("tbody tr").first().waitFor();
    expect(await page.getByRole("table", { name: /^Specification: / }).textContent()).not.toMatch(UUID);
    expect(await scrollWidth()).toBeLessThanOrEqual(WIDTH);
  });

  it("draws the burn-down's schedule visibly over the reported line, steps as whole numbers, and fits the comparison with the 140M recipe", async () => {
    await page.goto(`${base}/ui/#/experiments/${expA.id}?run=${trainingRun}&vs=${expB.id}`);
    const burn = page.getByRole("img", { name: /^Burn-down: 0 of/ }).locator("canvas");
    await burn.waitFor();
    // Pixels of each line's colour on the canvas: the schedule (drawn last, dashed) and the report.
    const colours = () =>
      burn.evaluate((c: HTMLCanvasElement) => {
        const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        const near = (i: number, [r, g, b]: number[]) => Math.abs(px[i]! - r!) + Math.abs(px[i + 1]! - g!) + Math.abs(px[i + 2]! - b!) < 40 && px[i + 3]! > 200;
        let schedule = 0;
        let reported = 0;
        for (let i = 0; i < px.length; i += 4) {
          if (near(i, [0xe8, 0x59, 0x0c])) schedule++;
          if (near(i, [0x3b, 0x6f, 0xb6])) reported++;
        }
        return { schedule, reported };
      });
    await expect.poll(async () => (await colours()).schedule).toBeGreaterThan(100);
    expect((await colours()).reported).toBeGreaterThan(100);

    for (const name of [/^Throughput over steps/, /^Loss over steps/, /^Burn-down/]) {
      const chart = page.getByRole("img", { name });
      await chart.locator("canvas").waitFor();
      const ticks = (await chart.getAttribute("data-x-ticks")) ?? "";
      expect(ticks.split(" ").length, String(name)).toBeGreaterThan(1);
      for (const t of ticks.split(" ")) expect(Number.isInteger(Number(t)), `${name} tick ${t}`).toBe(true);
    }

    await page.getByRole("table", { name: /^Recipe: \d+ differences between tiny and tiny-renamed$/ }).waitFor();
    await shot("experiment");

    // The recipe against the published 140M one: dozens of paths, long values, within the page.
    await page.getByRole("combobox", { name: "Compare the recipe with" }).selectOption(exp140.id);
    const recipe = page.getByRole("table", { name: /^Recipe: \d+ differences between tiny and mobilellm-r1-140m$/ });
    await recipe.locator("tbody tr").nth(9).waitFor();
    expect(await recipe.textContent()).not.toMatch(UUID);
    expect(await scrollWidth()).toBeLessThanOrEqual(WIDTH);
    await page.goto(`${base}/ui/#/experiments`);
    await page.getByRole("link", { name: "tiny-renamed" }).waitFor();
    await shot("experiments");
  });

  it("logged no console errors", () => {
    expect(consoleErrors).toEqual([]);
  });
});
