import { Type, type Static } from "typebox";
import type { PrismaClient } from "@tokenmill/db";
import { NotFoundError, type MixturePlan } from "@tokenmill/domain";

export const RUN_TERMINAL = ["succeeded", "failed", "cancelled"] as const;

export const LedgerRow = Type.Object({
  stage: Type.String(),
  phase: Type.String(),
  source: Type.String(),
  planned: Type.Integer({ description: "Tokens the plan budgets (whole sequences × seq_len)." }),
  consumed: Type.Integer({ description: "Tokens trained on, as the trainer reported them." }),
  remaining: Type.Integer(),
  fraction: Type.Number(),
});

export const TrainingRunView = Type.Object({
  id: Type.String(),
  experiment_id: Type.String(),
  stage: Type.String(),
  mixture_id: Type.String(),
  plan_fingerprint: Type.String(),
  backend: Type.String(),
  resources: Type.Unknown(),
  retry: Type.Unknown(),
  overrides: Type.Unknown(),
  status: Type.String({ description: "queued | starting | running | succeeded | failed | cancelled" }),
  reason: Type.Union([Type.String(), Type.Null()]),
  attempt: Type.Integer(),
  failures: Type.Integer(),
  preemptions: Type.Integer(),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  external_id: Type.Union([Type.String(), Type.Null()]),
  work_dir: Type.Union([Type.String(), Type.Null()]),
  log_path: Type.Union([Type.String(), Type.Null()]),
  checkpoint_dir: Type.Union([Type.String(), Type.Null()]),
  progress: Type.Object({
    step: Type.Integer(),
    total_steps: Type.Union([Type.Integer(), Type.Null()]),
    fraction: Type.Number(),
    loss: Type.Union([Type.Number(), Type.Null()]),
    lr: Type.Union([Type.Number(), Type.Null()]),
    tokens_per_s: Type.Union([Type.Number(), Type.Null()]),
    mfu: Type.Union([Type.Number(), Type.Null()]),
    tokens_consumed: Type.Record(Type.String(), Type.Integer()),
    tokens_planned: Type.Integer(),
    eta_s: Type.Union([Type.Number(), Type.Null()]),
  }),
  events: Type.Array(Type.Object({ at: Type.String(), status: Type.String(), reason: Type.Union([Type.String(), Type.Null()]) })),
  created_at: Type.String({ format: "date-time" }),
  started_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});
export type TrainingRunView = Static<typeof TrainingRunView>;

/** Plans are immutable, so their (large) JSON is read once per mixture and kept. */
const plans = new Map<string, MixturePlan>();
export async function mixturePlan(prisma: PrismaClient, mixtureId: string): Promise<MixturePlan> {
  let p = plans.get(mixtureId);
  if (!p) {
    const m = await prisma.mixture.findUnique({ where: { id: mixtureId }, select: { plan: true } });
    if (!m) throw new NotFoundError("mixture", mixtureId);
    p = m.plan as unknown as MixturePlan;
    if (plans.size > 1000) plans.clear();
    plans.set(mixtureId, p);
  }
  return p;
}

/**
 * Splits cumulative tokens per source over the plan's phases. Phases are consecutive ranges of the
 * global sequence index, so a source's tokens fill phase 1's budget before any reach phase 2: the
 * split is exact, not an estimate.
 */
export function splitByPhase(plan: MixturePlan, consumed: Record<string, number>): { phase: string; source: string; consumed: number }[] {
  const left = { ...consumed };
  const out = [];
  for (const ph of plan.phases) {
    for (const c of ph.components) {
      const n = Math.min(left[c.name] ?? 0, c.tokens);
      left[c.name] = (left[c.name] ?? 0) - n;
      out.push({ phase: ph.name, source: c.name, consumed: n });
    }
  }
  return out;
}

type Row = NonNullable<Awaited<ReturnType<typeof findRun>>>;
const findRun = (prisma: PrismaClient, id: string) => prisma.trainingRun.findUnique({ where: { id }, include: { events: { orderBy: { at: "asc" } } } });

function toView(r: Row, planned: number): TrainingRunView {
  const consumed = r.tokensConsumed as Record<string, number>;
  const done = Object.values(consumed).reduce((a, b) => a + b, 0);
  const fraction = r.status === "succeeded" ? 1 : r.totalSteps ? Math.min(1, r.lastStep / r.totalSteps) : planned ? Math.min(1, done / planned) : 0;
  const running = r.status === "running" || r.status === "starting";
  const eta = running && r.tokensPerS && r.tokensPerS > 0 && planned > done ? (planned - done) / r.tokensPerS : null;
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    experiment_id: r.experimentId,
    stage: r.stage,
    mixture_id: r.mixtureId,
    plan_fingerprint: r.planFingerprint,
    backend: r.backend,
    resources: r.resources,
    retry: r.retry,
    overrides: r.overrides,
    status: r.status,
    reason: r.reason,
    attempt: r.attempt,
    failures: r.failures,
    preemptions: r.preemptions,
    exit_code: r.exitCode,
    external_id: r.externalId,
    work_dir: r.workDir,
    log_path: r.logPath,
    checkpoint_dir: r.checkpointDir,
    progress: { step: r.lastStep, total_steps: r.totalSteps, fraction, loss: r.loss, lr: r.lr, tokens_per_s: r.tokensPerS, mfu: r.mfu, tokens_consumed: consumed, tokens_planned: planned, eta_s: eta },
    events: r.events.map((e) => ({ at: e.at.toISOString(), status: e.status, reason: e.reason })),
    created_at: r.createdAt.toISOString(),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
  };
}

export async function loadTrainingRunView(prisma: PrismaClient, id: string): Promise<TrainingRunView> {
  const r = await findRun(prisma, id);
  if (!r) throw new NotFoundError("run", id);
  const plan = await mixturePlan(prisma, r.mixtureId);
  return toView(r, plan.tokens);
}

export async function loadLedger(prisma: PrismaClient, experimentId: string, stage?: string): Promise<Static<typeof LedgerRow>[]> {
  const rows = await prisma.ledgerEntry.findMany({ where: { experimentId, ...(stage ? { stage } : {}) }, orderBy: [{ stage: "asc" }, { position: "asc" }] });
  return rows.map((r) => {
    const planned = Number(r.planned);
    const consumed = Number(r.consumed);
    return { stage: r.stage, phase: r.phase, source: r.source, planned, consumed, remaining: Math.max(0, planned - consumed), fraction: planned ? consumed / planned : 1 };
  });
}
