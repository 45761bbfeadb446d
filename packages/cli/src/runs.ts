import type { Command } from "commander";
import type { Client } from "./client.js";
import { table } from "./format.js";
import { all, resolveId } from "./resolve.js";

type Ctx = () => Client;
type Json = () => boolean;
const out = (v: unknown): void => void process.stdout.write(`${typeof v === "string" ? v : JSON.stringify(v, null, 2)}\n`);
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

const eta = (s: number | null) => (s === null ? "-" : s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

export function runLine(r: any): string {
  const p = r.progress;
  return `run ${r.id}: ${r.status}${r.reason && TERMINAL.has(r.status) ? ` (${r.reason})` : ""} | step ${p.step}/${p.total_steps ?? "?"} | loss ${p.loss === null ? "-" : p.loss.toFixed(3)} | ${p.tokens_per_s === null ? "-" : Math.round(p.tokens_per_s).toLocaleString("en-US")} tok/s | ETA ${eta(p.eta_s)}`;
}

export function ledgerTable(rows: any[]): string {
  return table(
    ["stage", "phase", "source", "planned", "consumed", "remaining", "done"],
    rows.map((l) => [l.stage, l.phase, l.source, l.planned, l.consumed, l.remaining, `${(l.fraction * 100).toFixed(1)}%`]),
  );
}

/** Follows a run over its SSE stream until it ends, redrawing the status line and the ledger table. */
export async function watchTrainingRun(c: Client, id: string, opts: { json: boolean; write?: (s: string) => void }): Promise<any> {
  const write = opts.write ?? ((s: string) => void process.stdout.write(s));
  const tty = process.stdout.isTTY && !opts.json && !opts.write;
  const { ticket } = await c.post("/events/tickets");
  const res = await fetch(`${c.opts.url.replace(/\/+$/, "")}/events/runs/${id}?ticket=${encodeURIComponent(ticket)}`);
  if (!res.ok || !res.body) throw new Error(`GET /events/runs/${id}: HTTP ${res.status} ${await res.text()}`);
  let last: any = null;
  let drawn = 0;
  let lastLine = "";
  const decoder = new TextDecoder();
  let buf = "";
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const msg = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(msg)?.[1];
      const data = /^data: (.*)$/m.exec(msg)?.[1];
      if (event !== "run" || !data) continue;
      last = JSON.parse(data);
      if (opts.json) continue;
      if (tty) {
        const text = `${runLine(last.run)}\n\n${ledgerTable(last.ledger)}\n`;
        if (drawn) write(`\x1b[${drawn}A\x1b[J`);
        write(text);
        drawn = text.split("\n").length - 1;
      } else {
        const line = runLine(last.run);
        if (line !== lastLine) write(`${line}\n`);
        lastLine = line;
      }
    }
  }
  if (!last) throw new Error(`run ${id}: the event stream closed before the first event`);
  if (opts.json) write(`${JSON.stringify(last, null, 2)}\n`);
  else if (!tty) write(`\n${ledgerTable(last.ledger)}\n`);
  if (!TERMINAL.has(last.run.status)) return watchTrainingRun(c, id, opts); // the stream dropped; resume it
  return last;
}

/** `tokenmill runs ...`: training runs of experiments (curation runs are under `tokenmill curate`). */
export function registerRunCommands(program: Command, client: Ctx, json: Json): void {
  const runs = program.command("runs").description("training runs: launch an experiment on a backend, watch progress and the token ledger");
  runs
    .command("launch <experiment>")
    .description("launch a training run of an experiment (id or name) on a backend")
    .option("--stage <name>", "recipe stage (default: the first)")
    .option("--backend <name>", "local | slurm | kubernetes", "local")
    .option("--nodes <n>", "nodes", "1")
    .option("--gpus <n>", "GPUs per node (0: CPU)", "0")
    .option("--procs <n>", "trainer processes per node (default: one per GPU; on CPU 1, several train data-parallel)")
    .option("--time-limit <s>", "wall-clock limit of each attempt in seconds (slurm, kubernetes); the trainer checkpoints before it")
    .option("--signal-lead <s>", "seconds the trainer gets to checkpoint when it must stop (default: the backend's)")
    .option("--max-preemptions <n>", "re-dispatches after preemption or node loss", "3")
    .option("--max-failures <n>", "re-dispatches after the trainer failed", "0")
    .option("--model <recipe>", "trainer model recipe instead of the recipe's model (tiny, micro, mobilellm-r1-140m, ...)")
    .option("--overrides <json>", 'training overrides as JSON, e.g. {"micro_batch_size": 2, "max_steps": 10}')
    .option("--watch", "follow the run until it ends", false)
    .action(async (experiment: string, o: any) => {
      const overrides: Record<string, unknown> = o.overrides ? JSON.parse(o.overrides) : {};
      if (o.model) overrides.model = { recipe: o.model, ...(overrides.model as object | undefined) };
      const resources = {
        nodes: Number(o.nodes),
        gpus_per_node: Number(o.gpus),
        ...(o.procs ? { procs_per_node: Number(o.procs) } : {}),
        ...(o.timeLimit ? { time_limit_s: Number(o.timeLimit) } : {}),
        ...(o.signalLead ? { signal_lead_s: Number(o.signalLead) } : {}),
      };
      const c = client();
      const id = await resolveId(c, "experiment", experiment, "<experiment>");
      const run = await c.post(`/experiments/${id}/runs`, {
        ...(o.stage ? { stage: o.stage } : {}),
        backend: o.backend,
        resources,
        retry: { max_preemptions: Number(o.maxPreemptions), max_failures: Number(o.maxFailures) },
        overrides,
      });
      if (!o.watch) return json() ? out(run) : out(`run ${run.id} queued on ${run.backend} (tokenmill runs watch ${run.id})`);
      if (!json()) out(`run ${run.id} queued on ${run.backend}`);
      const end = await watchTrainingRun(client(), run.id, { json: json() });
      if (end.run.status !== "succeeded") process.exitCode = 1;
    });
  runs
    .command("list")
    .description("list training runs, newest first")
    .option("--experiment <experiment>", "only this experiment's runs (id or name)")
    .action(async (o: { experiment?: string }) => {
      const c = client();
      const only = o.experiment ? await resolveId(c, "experiment", o.experiment, "--experiment") : undefined;
      const page = await c.get(`/runs?limit=100${only ? `&experiment=${only}` : ""}`);
      if (json()) return out(page);
      const names = new Map((await all(c, "/experiments")).map((e) => [e.id, e.name]));
      out(
        table(
          ["id", "experiment", "status", "backend", "stage", "step", "attempt", "created", "reason"],
          page.items.map((r: any) => [r.id, names.get(r.experiment_id) ?? r.experiment_id, r.status, r.backend, r.stage, `${r.progress.step}/${r.progress.total_steps ?? "?"}`, r.attempt, r.created_at, r.reason ?? ""]),
        ),
      );
    });
  runs
    .command("get <id>")
    .description("show a run: lifecycle with reasons, progress, backend handle, logs")
    .action(async (id: string) => {
      const r = await client().get(`/runs/${id}`);
      if (json()) return out(r);
      out(runLine(r));
      out(`backend ${r.backend} ${r.external_id ?? ""} | attempt ${r.attempt} (failures ${r.failures}, preemptions ${r.preemptions}) | plan ${r.plan_fingerprint}`);
      if (r.log_path) out(`log: ${r.log_path}\ncheckpoints: ${r.checkpoint_dir}`);
      out(table(["at", "status", "reason"], r.events.map((e: any) => [e.at, e.status, e.reason ?? ""])));
    });
  runs
    .command("watch <id>")
    .description("follow a run live (SSE): status, loss, throughput, ETA and the token ledger")
    .action(async (id: string) => {
      const end = await watchTrainingRun(client(), id, { json: json() });
      if (end.run.status !== "succeeded") process.exitCode = 1;
    });
  runs
    .command("cancel <id>")
    .description("cancel a run (a running trainer gets SIGTERM, then SIGKILL)")
    .action(async (id: string) => {
      const r = await client().post(`/runs/${id}/cancel`);
      json() ? out(r) : out(runLine(r));
    });
  runs
    .command("ledger <experiment>")
    .description("planned vs consumed tokens per stage × phase × source (experiment id or name)")
    .action(async (experiment: string) => {
      const c = client();
      const rows = await c.get(`/experiments/${await resolveId(c, "experiment", experiment, "<experiment>")}/ledger`);
      json() ? out(rows) : out(ledgerTable(rows));
    });
}
