import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Worker } from "bullmq";
import type { Browser, Page } from "playwright-core";
import { browserMissing, launchChromium } from "../support/browser.js";
import { startStack, type Stack } from "../support/stack.js";
import { PYTHON, startLauncher } from "../launcher/support.js";

/**
 * The experiment pages on real data: `tokenmill recipe apply recipes/demo.yaml --scale 0.01` through
 * the CLI (curator worker, plan, experiment), then training runs of the tiny model on the local
 * backend (launcher worker, CPU trainer) followed in Debian's headless Chromium over SSE.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "packages/cli/bin/tokenmill.js");
const SHOTS = resolve(ROOT, "test-results/screenshots");
const missing = browserMissing() ?? (!existsSync(PYTHON) ? "the trainer's virtual environment (.venv) is missing (npm run setup)" : null);
if (missing) console.warn(`tokenmill: skipping the experiment browser test: ${missing}`);
const exec = promisify(execFile);
/** Reports every step, so the ledger moves several times during the run. */
const OVERRIDES = { model: { recipe: "tiny", max_seq_len: 512 }, micro_batch_size: 2, progress_every_steps: 1, device: "cpu" };

describe.skipIf(missing !== null)("the experiment pages in headless Chromium, with a real training run", () => {
  let stack: Stack;
  let browser: Browser;
  let launcher: Worker;
  let page: Page;
  let base: string;
  let tmp: string;
  let experimentId: string;
  let firstRun: string;
  const consoleErrors: string[] = [];
  const auth = () => ({ authorization: `Bearer ${stack.admin}` });
  const launch = async (overrides: Record<string, unknown>) => {
    const res = await stack.app.inject({ method: "POST", url: `/experiments/${experimentId}/runs`, headers: auth(), payload: { backend: "local", overrides } });
    expect(res.statusCode, res.body).toBe(202);
    return res.json().id as string;
  };
  /** The ledger's total row: consumed and planned tokens as the page shows them. */
  const totals = () =>
    page.evaluate(() => {
      const tr = document.querySelector<HTMLElement>("tr.total[data-consumed]");
      return tr ? { consumed: Number(tr.dataset.consumed), planned: Number(tr.dataset.planned) } : null;
    });

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), "tokenmill-browser-exp-"));
    const [s, b] = await Promise.all([
      startStack({ worker: true }),
      launchChromium(),
    ]);
    stack = s;
    browser = b;
    const url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
    base = url;
    launcher = await startLauncher(stack, url, join(tmp, "runs"));
    const env = { ...process.env, TOKENMILL_URL: url, TOKENMILL_TOKEN: stack.admin, TOKENMILL_CONFIG_DIR: join(tmp, "config") };
    const { stdout } = await exec(process.execPath, [BIN, "--json", "recipe", "apply", "recipes/demo.yaml", "--scale", "0.01"], { cwd: ROOT, env, maxBuffer: 16 << 20 });
    experimentId = JSON.parse(stdout).experiment.id;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  });
  afterAll(async () => {
    await browser?.close();
    await launcher?.close(true);
    await stack?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("logs in and lists the experiment with no runs yet", async () => {
    await page.goto(`${base}/ui/#/experiments`);
    await page.getByLabel("API token").fill(stack.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Experiments" }).waitFor();
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "demo" }) });
    await row.getByText("no runs").waitFor();
  });

  it("follows a training run live: the consumed bar moves without a reload and ends at consumed = planned", async () => {
    const runId = (firstRun = await launch(OVERRIDES));
    await page.getByRole("link", { name: "demo" }).click();
    await page.getByRole("heading", { name: new RegExp(`Run ${runId.slice(0, 8)}`) }).waitFor();
    await page.getByText("● Live").waitFor();
    await page.evaluate(() => ((window as unknown as { noReload: boolean }).noReload = true));
    // Sample the ledger's consumed total as the page shows it until the run ends.
    const seen: number[] = [];
    // Eight CPU steps took 98 s, then 123 s, on the shared 2-core machine at a load average of 14:
    // a wide margin, since waiting costs nothing when the run is quick.
    const deadline = Date.now() + 400_000;
    for (;;) {
      const t = await totals();
      if (t && seen.at(-1) !== t.consumed) seen.push(t.consumed);
      if (t && t.planned > 0 && t.consumed === t.planned) break;
      if (Date.now() > deadline) throw new Error(`the run did not finish on the page: consumed ${seen.join(" → ")}`);
      await page.waitForTimeout(100);
    }
    expect(seen.length, `consumed over time: ${seen.join(" → ")}`).toBeGreaterThanOrEqual(3); // at least two increases seen live
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.some((v) => v > 0 && v < seen.at(-1)!)).toBe(true);

    const heading = page.getByRole("heading", { name: new RegExp(`Run ${runId.slice(0, 8)}`) });
    await heading.getByText("succeeded").waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    // Every phase × source: consumed = planned, in the table and the API.
    const rows = await page.locator("tr[data-consumed]").evaluateAll((trs) => trs.map((tr) => [(tr as HTMLElement).dataset.consumed, (tr as HTMLElement).dataset.planned]));
    expect(rows.length).toBe(9); // 8 phase × source rows and the total
    for (const [c, p] of rows) expect(c).toBe(p);
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${experimentId}/ledger`, headers: auth() })).json();
    expect(ledger.every((l: any) => l.consumed === l.planned)).toBe(true);
    await page.getByRole("img", { name: /Planned vs consumed tokens/ }).locator("canvas").waitFor();
    await page.getByRole("img", { name: /^Burn-down: 0 of/ }).waitFor();
    await page.getByRole("img", { name: /^Loss over steps/ }).waitFor();
    await page.getByRole("img", { name: /^Throughput over steps/ }).waitFor();
    await page.getByRole("table", { name: "Implied epochs per source against the max_epochs cap" }).getByRole("rowheader", { name: "web" }).waitFor();
    const events = page.getByRole("table", { name: "Lifecycle events of the run with reasons" });
    await events.getByText("succeeded").waitFor();
    await page.getByRole("table", { name: /Training runs of this experiment/ }).getByRole("row").nth(1).waitFor();
    await page.screenshot({ path: `${SHOTS}/experiment.png`, fullPage: true });

    await page.goto(`${base}/ui/#/experiments`);
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "demo" }) });
    await row.getByText("succeeded").waitFor();
    await row.getByText("100%").waitFor();
  });

  it("switches planned vs consumed to stacked bars with the keyboard: a bar per phase, a labelled segment per source", async () => {
    const nf = new Intl.NumberFormat("en");
    const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;
    const ledger: Array<{ phase: string; source: string; planned: number; consumed: number; fraction: number }> = (
      await stack.app.inject({ method: "GET", url: `/experiments/${experimentId}/ledger`, headers: auth() })
    ).json();
    await page.goto(`${base}/ui/#/experiments/${experimentId}?run=${firstRun}`);
    const grouped = page.getByRole("radio", { name: /^Grouped/ });
    const stacked = page.getByRole("radio", { name: /^Stacked/ });
    await grouped.waitFor();
    await expect.poll(() => grouped.isChecked()).toBe(true);
    await page.getByRole("img", { name: /Planned vs consumed tokens per phase and source/ }).locator("canvas").waitFor();
    // Keyboard only: focus the checked radio, the arrow key moves to the next one and selects it.
    await grouped.focus();
    await page.keyboard.press("ArrowRight");
    const figure = page.getByRole("figure", { name: "Planned vs consumed tokens per phase, stacked by source" });
    await figure.waitFor();
    await page.waitForFunction(() => document.activeElement instanceof HTMLInputElement && document.activeElement.value === "stacked" && document.activeElement.checked);
    expect(await page.getByRole("img", { name: /Planned vs consumed tokens per phase and source/ }).count()).toBe(0);

    const phases = [...new Set(ledger.map((l) => l.phase))];
    expect(phases.length).toBe(2);
    for (const phase of phases) {
      const rows = ledger.filter((l) => l.phase === phase);
      const sum = (k: "planned" | "consumed") => nf.format(rows.reduce((s, l) => s + l[k], 0));
      const bar = figure.getByRole("group", { name: `Phase ${phase}: ${sum("consumed")} of ${sum("planned")} planned tokens consumed` });
      await bar.waitFor();
      // One segment per source of the phase, each labelled with its own ledger numbers.
      const labels = await bar.getByRole("img").evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
      expect(labels).toEqual(rows.map((l) => `${phase} · ${l.source}: ${nf.format(l.consumed)} of ${nf.format(l.planned)} planned tokens consumed (${pct(l.fraction)})`));
    }
    // The numbers stay available as a table under either chart.
    await page.getByRole("table", { name: /Token ledger/ }).getByRole("row", { name: /^total/ }).waitFor();
    await page.screenshot({ path: `${SHOTS}/experiment-stacked.png`, fullPage: true });

    // Back to grouped bars, again from the keyboard.
    await page.keyboard.press("ArrowLeft");
    await page.getByRole("img", { name: /Planned vs consumed tokens per phase and source/ }).locator("canvas").waitFor();
    await figure.waitFor({ state: "detached" });
    await expect.poll(() => stacked.isChecked()).toBe(false);
  });

  it("cancels a second run from the experiment page", async () => {
    // A slower model, so the run is still going when the button is pressed.
    const runId = await launch({ ...OVERRIDES, model: { recipe: "tiny", max_seq_len: 512, dim: 256, n_layers: 4 }, micro_batch_size: 1 });
    await page.goto(`${base}/ui/#/experiments/${experimentId}?run=${runId}`);
    const heading = page.getByRole("heading", { name: new RegExp(`Run ${runId.slice(0, 8)}`) });
    await heading.waitFor();
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("button", { name: "Yes, cancel run" }).click();
    await heading.getByText("cancelled").waitFor();
    const run = (await stack.app.inject({ method: "GET", url: `/runs/${runId}`, headers: auth() })).json();
    expect(run.status).toBe("cancelled");
    expect(run.reason).toContain("cancelled by");
    await page.getByRole("table", { name: "Lifecycle events of the run with reasons" }).getByText(/cancelled by/).waitFor();
  });

  it("compares the recipe with another experiment's: the path whose value differs, both values", async () => {
    const exp = (await stack.app.inject({ method: "GET", url: `/experiments/${experimentId}`, headers: auth() })).json();
    // A second experiment from the same recipe with more web in the first phase, over the same versions.
    const recipe = structuredClone(exp.recipe);
    const [stage, phase] = [recipe.stages[0], recipe.stages[0].phases[0]];
    const web = phase.mix.find((m: { source: string }) => m.source === "web");
    const before = web.weight as number;
    web.weight = before + 5;
    const spec = (await stack.app.inject({ method: "GET", url: `/mixtures/${exp.mixtures[0].mixture_id}`, headers: auth() })).json().spec;
    const datasets = Object.fromEntries(spec.phases[0].components.map((c: { name: string; dataset: string }) => [c.name, c.dataset]));
    const created = await stack.app.inject({ method: "POST", url: "/experiments", headers: auth(), payload: { name: "demo-more-web", recipe, datasets } });
    expect(created.statusCode, created.body).toBe(201);
    const otherId = created.json().id as string;

    // A fresh load: only the hash would change otherwise, and the mounted page keeps its list of experiments.
    await page.goto(`${base}/ui/#/experiments/${experimentId}`);
    await page.reload();
    const select = page.getByRole("combobox", { name: "Compare the recipe with" });
    await select.locator(`option[value="${otherId}"]`).waitFor({ state: "attached" });
    await select.selectOption(otherId);
    const table = page.getByRole("table", { name: `Recipe: 1 difference between ${exp.name} and demo-more-web` });
    await expect
      .poll(() => table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim()))), { timeout: 10_000 })
      .toEqual([[`stages[name=${stage.name}].phases[name=${phase.name}].mix[source=web].weight`, String(before), String(before + 5)]]);
    expect(new URL(page.url()).hash).toContain(`vs=${otherId}`);
  });

  it("logged no console errors", () => {
    expect(consoleErrors).toEqual([]);
  });
});
