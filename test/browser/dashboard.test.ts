import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { browserMissing, launchChromium } from "../support/browser.js";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

/**
 * The dashboard in Debian's headless Chromium (playwright-core, never a downloaded browser) against
 * the API on real PostgreSQL, Redis and a curator worker. Screenshots go to test-results/screenshots/.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const SHOTS = resolve(ROOT, "test-results/screenshots");
const missing = browserMissing();
if (missing) console.warn(`tokenmill: skipping the browser tests: ${missing}`);

const pipeline = { version: 1, name: "browser", steps: [{ step: "normalize" }, { step: "length", min_words: 50 }, { step: "tokenize" }] };

describe.skipIf(missing !== null)("the dashboard in headless Chromium", () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let base: string;
  let badRun: any;
  const consoleErrors: string[] = [];
  /** While set, the browser's own log line for the one expected 401 (a wrong token) is not an error. */
  let expect401 = false;
  const auth = () => ({ authorization: `Bearer ${stack.admin}` });

  const startRun = async (source: string) => {
    const res = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(), payload: { source, pipeline: pipeline.name } });
    expect(res.statusCode).toBe(202);
    return res.json().id as string;
  };
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    const [s, b] = await Promise.all([
      startStack({ worker: true }),
      launchChromium(),
    ]);
    stack = s;
    browser = b;
    // Fastify resolves listen() with the address it bound, e.g. http://127.0.0.1:43123.
    base = await stack.app.listen({ host: "127.0.0.1", port: 0 });
    for (const [name, uri] of [
      ["samples", `file://${ROOT}/data/samples`],
      ["bad", `file://${ROOT}/test/fixtures/bad`],
    ]) {
      expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth(), payload: { name, uri } })).statusCode).toBe(201);
    }
    expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(), payload: pipeline })).statusCode).toBe(201);
    const [samplesId, badId] = [await startRun("samples"), await startRun("bad")];
    await waitForRun(stack, samplesId);
    badRun = await waitForRun(stack, badId);
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      if (expect401 && m.text().includes("401")) return void (expect401 = false);
      consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("logs in with a token and lists the runs", async () => {
    await page.goto(`${base}/ui/`);
    await page.getByLabel("API token").fill("tm_wrong");
    expect401 = true;
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("not valid").waitFor();
    await page.getByLabel("API token").fill(stack.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Curation runs" }).waitFor();
    await expect.poll(() => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Curation runs" }).getAttribute("aria-current")).toBe("page");
    await page.getByRole("row").filter({ hasText: "samples" }).getByText("succeeded").waitFor();
    await expect.poll(() => page.getByRole("row").filter({ hasText: "bad" }).count()).toBe(1);
    await shot("runs");
  });

  it("opens a run's funnel and a dropped document with its reason and provenance", async () => {
    await page.getByRole("link", { name: new RegExp(`^Run ${badRun.id.slice(0, 8)}`) }).click();
    await page.getByRole("heading", { name: /Run .* bad/ }).waitFor();
    const funnel = page.getByRole("table", { name: "Documents per step, dropped by reason" });
    await funnel.getByRole("rowheader", { name: "tokenize" }).waitFor();
    // uPlot draws in an effect after the table renders: wait for its canvas rather than count it once.
    await page.getByRole("img", { name: /Documents in and out per step/ }).locator("canvas").waitFor();
    expect(await page.getByRole("img", { name: /Documents in and out per step/ }).locator("canvas").count()).toBe(1);
    await shot("run-funnel");

    await funnel.getByRole("link", { name: /read:malformed_json/ }).click();
    await page.getByRole("heading", { name: "Dropped documents · read:malformed_json" }).waitFor();
    await page.getByRole("table", { name: "Dropped documents" }).getByRole("button").first().click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await dialog.getByText("read:malformed_json").first().waitFor();
    await dialog.getByText(/malformed\.jsonl$/).waitFor();
    await shot("dropped-document");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    // Focus returns to the row's button that opened the dialog.
    await page.waitForFunction(() => document.activeElement?.tagName === "BUTTON" && document.activeElement.closest("table")?.querySelector("caption")?.textContent === "Dropped documents");
  });

  it("cancels a queued run from its page", async () => {
    await stack.worker!.close(); // nothing takes the run, so it stays queued
    const id = await startRun("bad");
    await page.goto(`${base}/ui/#/runs/${id}`);
    await page.getByText("queued", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.getByRole("button", { name: "Yes, cancel run" }).click();
    await page.getByRole("heading").getByText("cancelled").waitFor();
    expect((await stack.app.inject({ method: "GET", url: `/curation-runs/${id}`, headers: auth() })).json().status).toBe("cancelled");
  });

  it("follows a run live over SSE from queued to succeeded without a reload", async () => {
    const id = await startRun("bad");
    await page.goto(`${base}/ui/#/runs/${id}`);
    await page.getByText("queued", { exact: true }).waitFor();
    await page.getByText("● Live").waitFor();
    stack.worker = await stack.startWorker();
    await page.getByRole("heading").getByText("succeeded").waitFor({ timeout: 30_000 });
    await page.getByRole("rowheader", { name: "tokenize" }).waitFor();
  });

  it("shows the queues with workers and the dataset versions with shards and manifest", async () => {
    await page.goto(`${base}/ui/#/queues`);
    await page.getByRole("heading", { name: "Queues and workers" }).waitFor();
    await page.getByRole("heading", { name: /Workers alive: 1/ }).waitFor();
    await page.getByLabel("State").selectOption("completed");
    await page.getByRole("table", { name: "completed jobs in curation" }).waitFor();
    await shot("queues");

    await page.goto(`${base}/ui/#/datasets`);
    await page.getByRole("link", { name: "samples" }).click();
    await page.getByRole("table", { name: "Arrow shards" }).getByRole("row").nth(1).waitFor();
    await page.getByText("manifest.json").click();
    await page.getByText('"fingerprint"').first().waitFor();
    await shot("dataset");
  });

  it("opens the mixtures and experiments pages (empty until plans exist)", async () => {
    await page.goto(`${base}/ui/#/mixtures`);
    await page.getByText("No mixtures yet").waitFor();
    await page.goto(`${base}/ui/#/experiments`);
    await page.getByText("No experiments yet").waitFor();
  });

  it("navigates the main nav with the keyboard", async () => {
    await page.goto(`${base}/ui/#/runs`);
    await page.reload(); // a fresh load: focus starts at the top of the document
    await page.getByRole("heading", { name: "Curation runs" }).waitFor();
    // Each Tab is followed by a wait for the focus to land, not a single read right after the key.
    const focusIs = (text: string) => page.waitForFunction((t) => document.activeElement?.textContent === t, text, { timeout: 5_000 });
    await page.keyboard.press("Tab");
    await focusIs("Skip to content");
    for (const label of ["Curation runs", "Datasets", "Mixtures", "Experiments", "Queues"]) {
      await page.keyboard.press("Tab");
      await focusIs(label);
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Queues and workers" }).waitFor();
    expect(new URL(page.url()).hash).toBe("#/queues");
    // The page heading takes focus so the next Tab starts in the content.
    // Wait for it rather than read it once: the render may land a frame after the heading is visible.
    await page.waitForFunction(() => document.activeElement?.tagName === "H1", undefined, { timeout: 5_000 });
  });

  it("logged no console errors", () => {
    expect(consoleErrors).toEqual([]);
  });
});
