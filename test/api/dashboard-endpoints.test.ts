import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { Worker, QueueEvents } from "bullmq";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

/** The endpoints behind the dashboard: queues, session and SSE tickets, run event streams, dropped documents. */
const ROOT = resolve(import.meta.dirname, "../..");
const BAD = resolve(ROOT, "test/fixtures/bad");
const pipeline = { version: 1, name: "dash", steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "tokenize" }] };

let stack: Stack;
let read: string;
let write: string;
let url: string;
const auth = (t: string) => ({ authorization: `Bearer ${t}` });
/** Connection options (not a client) so BullMQ owns and closes the connections it opens. */
const redisOptions = () => {
  const u = new URL(stack.redisUrl);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
};

beforeAll(async () => {
  stack = await startStack({ worker: true });
  read = await stack.token(["read"]);
  write = await stack.token(["write"]);
  // Fastify resolves listen() with the address it bound, e.g. http://127.0.0.1:43123.
  url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => stack?.close());

async function startRun(sourceName: string, uri: string) {
  expect([201, 409]).toContain((await stack.app.inject({ method: "POST", url: "/sources", headers: auth(write), payload: { name: sourceName, uri } })).statusCode);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(write), payload: pipeline })).statusCode).toBeLessThan(300);
  const res = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(write), payload: { source: sourceName, pipeline: "dash" } });
  expect(res.statusCode).toBe(202);
  return res.json().id as string;
}

describe("queues", () => {
  it("lists the curation queue with counts per state and the live worker", async () => {
    expect((await stack.app.inject({ method: "GET", url: "/queues" })).statusCode).toBe(401);
    const res = await stack.app.inject({ method: "GET", url: "/queues", headers: auth(read) });
    expect(res.statusCode).toBe(200);
    const q = res.json().items.find((x: any) => x.name === "curation");
    expect(q.counts).toMatchObject({ waiting: expect.any(Number), active: expect.any(Number), failed: expect.any(Number) });
    expect(q.workers.length).toBeGreaterThanOrEqual(1);
    // The launcher's queue is opened by its own plugin, outside app.queues, and is listed all the same.
    const launch = res.json().items.find((x: any) => x.name === "launch");
    expect(launch, JSON.stringify(res.json().items.map((x: any) => x.name))).toMatchObject({ paused: false, counts: expect.objectContaining({ waiting: expect.any(Number) }), workers: expect.any(Array) });
    expect((await stack.app.inject({ method: "GET", url: "/queues/launch", headers: auth(read) })).json().name).toBe("launch");
    expect((await stack.app.inject({ method: "GET", url: "/queues/nope", headers: auth(read) })).statusCode).toBe(404);
    const bad = await stack.app.inject({ method: "GET", url: "/queues/curation/jobs?state=exploded", headers: auth(read) });
    expect(bad.statusCode).toBe(400);
  });

  it("lists a failed job, retries it and removes it (admin only)", async () => {
    // The job must be in a queue the API holds, so it goes into `curation`, processed by a worker
    // that always throws (the real curator is paused for this test).
    const jobId = `dash-fail-${Date.now()}`;
    await stack.worker!.close(); // the curator would take the job; a throwing worker stands in for it
    const failing = new Worker(
      "curation",
      async () => {
        throw new Error("disk on fire");
      },
      { connection: redisOptions(), prefix: stack.queuePrefix },
    );
    const events = new QueueEvents("curation", { connection: redisOptions(), prefix: stack.queuePrefix });
    await events.waitUntilReady();
    const failed = new Promise<void>((ok) => events.on("failed", ({ jobId: id }) => id === jobId && ok()));
    await stack.app.queues.curation.add("dashboard-test", { note: "x" }, { jobId, attempts: 1 });
    await failed;
    await failing.close();
    await events.close();

    const list = await stack.app.inject({ method: "GET", url: "/queues/curation/jobs?state=failed&limit=10", headers: auth(read) });
    expect(list.statusCode).toBe(200);
    const job = list.json().items.find((j: any) => j.id === jobId);
    expect(job).toMatchObject({ name: "dashboard-test", state: "failed", failed_reason: "disk on fire", attempts_made: 1 });
    expect(list.json().total).toBeGreaterThanOrEqual(1);

    expect((await stack.app.inject({ method: "POST", url: `/queues/curation/jobs/${jobId}/retry`, headers: auth(write) })).statusCode).toBe(403);
    const retried = await stack.app.inject({ method: "POST", url: `/queues/curation/jobs/${jobId}/retry`, headers: auth(stack.admin) });
    expect(retried.statusCode).toBe(200);
    expect(["waiting", "prioritized"]).toContain(retried.json().state);
    expect((await stack.app.inject({ method: "POST", url: `/queues/curation/jobs/${jobId}/retry`, headers: auth(stack.admin) })).statusCode).toBe(409);

    expect((await stack.app.inject({ method: "DELETE", url: `/queues/curation/jobs/${jobId}`, headers: auth(write) })).statusCode).toBe(403);
    const removed = await stack.app.inject({ method: "DELETE", url: `/queues/curation/jobs/${jobId}`, headers: auth(stack.admin) });
    expect(removed.statusCode).toBe(200);
    expect((await stack.app.inject({ method: "DELETE", url: `/queues/curation/jobs/${jobId}`, headers: auth(stack.admin) })).statusCode).toBe(404);
    stack.worker = await stack.startWorker();
  });
});

describe("session and event streams", () => {
  it("reports the token's name and scopes", async () => {
    expect((await stack.app.inject({ method: "GET", url: "/session" })).statusCode).toBe(401);
    const res = await stack.app.inject({ method: "GET", url: "/session", headers: auth(read) });
    expect(res.json()).toEqual({ name: "test-read", scopes: ["read"] });
  });

  it("streams a run over SSE with a ticket, pushes its change and ends", async () => {
    await stack.worker!.close(); // keep the run queued so the stream sees the cancel
    const runId = await startRun("bad-queued", `file://${BAD}`);
    expect((await fetch(`${url}/events/curation-runs/${runId}`)).status).toBe(401);
    expect((await fetch(`${url}/events/curation-runs/${runId}?ticket=tmt_forged`)).status).toBe(401);
    expect((await stack.app.inject({ method: "POST", url: "/events/tickets" })).statusCode).toBe(401);
    const { ticket, expires_in } = (await stack.app.inject({ method: "POST", url: "/events/tickets", headers: auth(read) })).json();
    expect(expires_in).toBe(60);
    expect((await fetch(`${url}/events/curation-runs/00000000-0000-0000-0000-000000000000?ticket=${ticket}`)).status).toBe(404);

    const res = await fetch(`${url}/events/curation-runs/${runId}?ticket=${ticket}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (pred: (t: string) => boolean) => {
      while (!pred(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil((t) => t.includes("event: run"));
    expect(text).toContain('"status":"queued"');
    expect((await stack.app.inject({ method: "POST", url: `/curation-runs/${runId}/cancel`, headers: auth(write) })).statusCode).toBe(200);
    await readUntil((t) => t.includes("event: end"));
    expect(text).toContain('"status":"cancelled"');
    expect(text.indexOf('"status":"cancelled"')).toBeLessThan(text.indexOf("event: end"));
    stack.worker = await stack.startWorker();
  });
});

describe("dropped documents", () => {
  let run: any;
  beforeAll(async () => {
    run = await waitForRun(stack, await startRun("bad", `file://${BAD}`));
  });

  it("samples dropped documents with reason, detail, provenance and text head", async () => {
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.totals.docs_dropped).toBeGreaterThan(0);
    expect((await stack.app.inject({ method: "GET", url: `/curation-runs/${run.id}/dropped` })).statusCode).toBe(401);
    const all = (await stack.app.inject({ method: "GET", url: `/curation-runs/${run.id}/dropped?limit=200`, headers: auth(read) })).json();
    expect(all.total).toBe(run.totals.docs_dropped);
    expect(all.items).toHaveLength(run.totals.docs_dropped);
    for (const d of all.items) {
      expect(d.reason.startsWith(`${d.step}:`)).toBe(true);
      expect(d.provenance.source).toBe("bad");
      expect(d.provenance.file).toMatch(/^file:\/\/.*test\/fixtures\/bad\//);
      expect(d.object_key).toMatch(/dropped\/task-\d{5}\.jsonl\.gz$/);
    }
    const malformed = all.items.find((d: any) => d.reason === "read:malformed_json");
    expect(malformed.provenance.line).toBeGreaterThan(0);
    expect(malformed.detail).toBeTruthy();
  });

  it("filters by reason or step and pages with limit and offset", async () => {
    const byReason: Record<string, number> = Object.assign({}, ...run.steps.map((s: any) => s.dropped));
    const [reason, count] = Object.entries(byReason).find(([, n]) => n > 1)!;
    const page = (q: string) => stack.app.inject({ method: "GET", url: `/curation-runs/${run.id}/dropped?${q}`, headers: auth(read) }).then((r) => r.json());
    const one = await page(`reason=${encodeURIComponent(reason)}&limit=1`);
    expect(one.total).toBe(count);
    expect(one.items).toHaveLength(1);
    expect(one.items[0].reason).toBe(reason);
    const two = await page(`reason=${encodeURIComponent(reason)}&limit=1&offset=1`);
    expect(two.items[0].doc_id).not.toBe(one.items[0].doc_id);
    const step = reason.slice(0, reason.indexOf(":"));
    const byStep = await page(`reason=${step}&limit=200`);
    expect(byStep.items.every((d: any) => d.step === step)).toBe(true);
    expect(byStep.total).toBe(Object.entries(byReason).filter(([r]) => r.startsWith(`${step}:`)).reduce((a, [, n]) => a + n, 0));
    expect((await page("reason=nothing:like_this")).items).toEqual([]);
    const missing = await stack.app.inject({ method: "GET", url: "/curation-runs/00000000-0000-0000-0000-000000000000/dropped", headers: auth(read) });
    expect(missing.statusCode).toBe(404);
  });

  it("pages the runs list on the server", async () => {
    const res = (await stack.app.inject({ method: "GET", url: "/curation-runs?limit=1&offset=1", headers: auth(read) })).json();
    expect(res.items).toHaveLength(1);
    expect(res.total).toBeGreaterThanOrEqual(2);
  });
});
