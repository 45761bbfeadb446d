import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { ConflictError, hashApiToken, NotFoundError, scopeAllows, type Scope } from "@tokenmill/domain";
import { errorBody } from "../plugins/errors.js";
import { bearer } from "../plugins/auth.js";
import { errors, IdParams, ListQuery, page } from "../schemas.js";
import { isUuid, resolveId } from "../resolve.js";
import { Broadcaster } from "./dashboard.js";
import { ProgressIngest } from "./progress-ingest.js";
import { loadLedger, loadTrainingRunView, mixturePlan, RUN_TERMINAL, splitByPhase, TrainingRunView } from "./training-run-view.js";

const ProgressBody = Type.Object(
  {
    // int4 in the database: a larger step must be refused here, not fail the whole batch it is written in.
    step: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
    tokens_consumed: Type.Record(Type.String({ maxLength: 200 }), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), { description: "Cumulative tokens per source since the run began." }),
    loss: Type.Union([Type.Number(), Type.Null()]),
    lr: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    tokens_per_s: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    mfu: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  },
  { additionalProperties: true, description: "Contract 6: a progress report from the trainer." },
);

declare module "fastify" {
  interface FastifyRequest {
    /** The run a progress report's token belongs to (set by the progress route's onRequest hook). */
    runIdentity?: { tokenHash: string; experimentId: string; stage: string; mixtureId: string; given: string };
  }
}

const RUN_STATUSES = ["queued", "starting", "running", "succeeded", "failed", "cancelled"] as const;
const RunStatus = Type.Unsafe<(typeof RUN_STATUSES)[number]>({ type: "string", enum: [...RUN_STATUSES] });

export interface RunRoutesOptions {
  /** How often a run's event stream re-reads the run (default 1000 ms). */
  pollMs?: number;
  heartbeatMs?: number;
}

/**
 * Training runs: read, list, cancel, the trainer's progress reports (authenticated by the run's own
 * token, which is good for nothing else), and the run's live event stream.
 */
export const runRoutes: FastifyPluginAsyncTypebox<RunRoutesOptions> = async (app, opts) => {
  app.get(
    "/runs",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "List training runs, newest first",
        tags: ["runs"],
        querystring: Type.Intersect([ListQuery, Type.Object({ experiment: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "The id or name of the experiment." })), status: Type.Optional(RunStatus) })]),
        response: { 200: page(TrainingRunView), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      // An id filters as given (an unknown one lists nothing); a name must name an experiment.
      const ref = req.query.experiment;
      const experimentId = ref === undefined || isUuid(ref) ? ref : await resolveId(app.prisma, "experiment", ref, "query.experiment");
      const where = { ...(experimentId ? { experimentId } : {}), ...(req.query.status ? { status: req.query.status as never } : {}) };
      const [rows, total] = await Promise.all([
        app.prisma.trainingRun.findMany({ where, select: { id: true }, orderBy: { createdAt: "desc" }, take: req.query.limit ?? 50, skip: req.query.offset ?? 0 }),
        app.prisma.trainingRun.count({ where }),
      ]);
      return { items: await Promise.all(rows.map((r) => loadTrainingRunView(app.prisma, r.id))), total };
    },
  );

  app.get(
    "/runs/:id",
    {
      onRequest: app.requireScope("read"),
      schema: { summary: "Get a training run: lifecycle with reasons, progress, ETA, backend handle, logs", tags: ["runs"], params: IdParams, response: { 200: TrainingRunView, ...errors(401, 403, 404) } },
    },
    async (req) => loadTrainingRunView(app.prisma, req.params.id),
  );

  app.post(
    "/runs/:id/cancel",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Cancel a run: a queued run never starts; a running one is stopped by its launcher (SIGTERM, then SIGKILL / scancel / Job deletion)",
        tags: ["runs"],
        params: IdParams,
        response: { 200: TrainingRunView, ...errors(401, 403, 404, 409) },
      },
    },
    async (req) => {
      const id = req.params.id;
      const reason = `cancelled by ${req.token?.name ?? "a user"}`;
      const updated = await app.prisma.trainingRun.updateMany({ where: { id, status: { notIn: [...RUN_TERMINAL] } }, data: { status: "cancelled", reason, finishedAt: new Date() } });
      if (updated.count === 0) {
        const run = await app.prisma.trainingRun.findUnique({ where: { id }, select: { status: true, reason: true } });
        if (!run) throw new NotFoundError("run", id);
        throw new ConflictError(`run ${id} already ended: ${run.status}${run.reason ? ` (${run.reason})` : ""}`);
      }
      await app.prisma.runEvent.create({ data: { runId: id, status: "cancelled", reason } });
      // A waiting job is removed; an active one belongs to a launcher, which sees the status and stops the job.
      await app.launchQueue.remove(`launch-${id}`).catch(() => 0);
      return loadTrainingRunView(app.prisma, id);
    },
  );

  const ingest = new ProgressIngest(app.prisma);
  /**
   * A run's identity by id, checked against the token's hash. Cached: a run's experiment, stage and
   * mixture never change, and the write itself checks the run's current token and whether the run has
   * ended (a replaced token is refused there and evicted here; a new one misses the cache).
   */
  const identities = new Map<string, { tokenHash: string; experimentId: string; stage: string; mixtureId: string }>();
  async function runIdentity(id: string, hash: string) {
    const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
    const hit = identities.get(id);
    if (hit && same(hit.tokenHash, hash)) return hit;
    const row = await app.prisma.trainingRun.findUnique({ where: { id }, select: { tokenHash: true, experimentId: true, stage: true, mixtureId: true } });
    if (!row?.tokenHash || !same(row.tokenHash, hash)) return null;
    if (identities.size > 10_000) identities.clear();
    const v = { tokenHash: row.tokenHash, experimentId: row.experimentId, stage: row.stage, mixtureId: row.mixtureId };
    identities.set(id, v);
    return v;
  }

  const bad = (reply: FastifyReply, status: number, error: string, message: string, field: string) => reply.status(status).send(errorBody(error, message, field));
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  /**
   * The run token is checked before the body is parsed or validated: a caller without this run's
   * token learns nothing about the request's shape. An id that is not a UUID names no run, so it is
   * answered like a wrong token.
   */
  const requireRunToken = async (req: FastifyRequest, reply: FastifyReply) => {
    const secret = bearer(req);
    if (!secret) return bad(reply, 401, "unauthorized", "missing run token (Authorization: Bearer <run token>)", "headers.authorization");
    const id = (req.params as { id?: string }).id ?? "";
    const given = hashApiToken(secret);
    const run = UUID.test(id) ? await runIdentity(id, given) : null;
    // The same answer for an unknown run and a wrong token: a token tells nothing about other runs.
    if (!run) return bad(reply, 401, "unauthorized", "invalid run token for this run", "headers.authorization");
    req.runIdentity = { ...run, given };
  };

  app.post(
    "/runs/:id/progress",
    {
      // Every trainer reports every few steps: the two info lines per request would be most of the
      // log and cost CPU on the hottest route. Failures (5xx) still log at error.
      logLevel: "warn",
      onRequest: requireRunToken,
      schema: {
        summary: "A trainer's progress report (contract 6), idempotent per (run, step); Authorization: Bearer <run token>",
        tags: ["runs"],
        security: [{ runToken: [] }],
        params: IdParams,
        headers: Type.Object({ "idempotency-key": Type.Optional(Type.String({ maxLength: 128, description: "<run>:<step>" })) }),
        body: ProgressBody,
        response: {
          200: Type.Object({ accepted: Type.Boolean({ description: "false: this step was already recorded (a retry)" }), step: Type.Integer() }),
          ...errors(400, 401, 404, 410),
        },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const body = req.body;
      const run = req.runIdentity!;
      const given = run.given;
      const key = req.headers["idempotency-key"];
      if (key !== undefined && key !== `${id}:${body.step}`) return bad(reply, 400, "validation_error", `Idempotency-Key must be "${id}:${body.step}"`, "headers.idempotency-key");
      const outcome = await ingest.submit({
        runId: id,
        tokenHash: given,
        experimentId: run.experimentId,
        stage: run.stage,
        step: body.step,
        consumed: body.tokens_consumed,
        shares: splitByPhase(await mixturePlan(app.prisma, run.mixtureId), body.tokens_consumed),
        loss: body.loss,
        lr: body.lr ?? null,
        tokensPerS: body.tokens_per_s ?? null,
        mfu: body.mfu ?? null,
      });
      if (outcome === "unauthorized") {
        identities.delete(id);
        return bad(reply, 401, "unauthorized", "invalid run token for this run", "headers.authorization");
      }
      if (outcome === "finished") {
        const r = await app.prisma.trainingRun.findUnique({ where: { id }, select: { status: true, reason: true } });
        return bad(reply, 410, "run_finished", `run ${id} already ended: ${r?.status}${r?.reason ? ` (${r.reason})` : ""}; report not recorded`, "url");
      }
      return { accepted: outcome === "accepted", step: body.step };
    },
  );

  // -- live stream: the run view and its stage's ledger, on every change ----------------------------
  const ticketKey = (ticket: string) => `${app.queues.prefix}:sse-ticket:${createHash("sha256").update(ticket).digest("hex")}`;
  const requireTicket = (scope: Scope) => async (req: FastifyRequest, reply: FastifyReply) => {
    // Before validation, the query is as parsed: a repeated ?ticket= is an array, and no ticket.
    const ticket = (req.query as { ticket?: unknown }).ticket;
    const tokenId = typeof ticket === "string" ? await app.queues.connection.get(ticketKey(ticket)) : null;
    const row = tokenId ? await app.prisma.apiToken.findUnique({ where: { id: tokenId } }) : null;
    if (!row || row.revokedAt) return reply.status(401).send(errorBody("unauthorized", "missing, expired or revoked ticket (POST /events/tickets, then ?ticket=)", "query.ticket"));
    if (!scopeAllows(row.scopes as Scope[], scope)) return reply.status(403).send(errorBody("forbidden", `this token lacks the "${scope}" scope`, "query.ticket"));
  };
  const streams = new Broadcaster(opts.pollMs ?? 1000, opts.heartbeatMs ?? 15_000, async (id) => {
    const run = await loadTrainingRunView(app.prisma, id);
    const ledger = await loadLedger(app.prisma, run.experiment_id, run.stage);
    return { data: { run, ledger }, done: (RUN_TERMINAL as readonly string[]).includes(run.status) };
  });
  app.addHook("preClose", async () => streams.closeAll());

  app.get(
    "/events/runs/:id",
    {
      onRequest: requireTicket("read"),
      schema: {
        summary: "Server-sent events: `run` with {run, ledger} on every change, then `end` once the run has ended",
        tags: ["runs"],
        security: [{ ticket: [] }],
        params: IdParams,
        querystring: Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 200, description: "From POST /events/tickets." })) }),
        produces: ["text/event-stream"],
        response: { 200: Type.String({ description: "text/event-stream" }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const first = await streams.load(req.params.id);
      reply.hijack();
      streams.subscribe(req.params.id, reply.raw, first);
    },
  );
};
