import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { Queue, type Job } from "bullmq";
import { ConflictError, NotFoundError } from "@tokenmill/domain";
import { errors } from "../schemas.js";

/** Job states a list can ask for, as BullMQ names them. */
const STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "paused", "failed", "completed"] as const;
type State = (typeof STATES)[number];

const QueueView = Type.Object({
  name: Type.String(),
  paused: Type.Boolean(),
  counts: Type.Record(Type.String(), Type.Integer(), { description: `Jobs per state: ${STATES.join(", ")}.` }),
  workers: Type.Array(
    Type.Object({
      name: Type.String({ description: "The BullMQ client name of the worker's connection." }),
      addr: Type.String(),
      age_s: Type.Integer({ description: "Seconds since the worker connected." }),
      idle_s: Type.Integer({ description: "Seconds since the worker's last command." }),
    }),
  ),
});

const JobView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  state: Type.String(),
  data: Type.Unknown({ description: "The payload: ids and object keys, never bulk data." }),
  attempts_made: Type.Integer(),
  attempts: Type.Integer(),
  failed_reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: "date-time" }),
  processed_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
const JobParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), id: Type.String({ minLength: 1, maxLength: 512 }) });

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

/**
 * Queues and workers: counts per state, live workers, failed jobs with retry and remove (admin).
 * Every BullMQ Queue the API holds in `app.queues` is listed, so queues added to the job catalog
 * show up without changes here, and so is the launcher's queue, which its own plugin opens.
 */
export const queueRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Read at request time: the launch-queue plugin decorates the app after these routes register.
  const all = (): Queue[] => {
    const held = Object.values(app.queues).filter((q): q is Queue => q instanceof Queue);
    const launch = app.hasDecorator("launchQueue") ? app.launchQueue : undefined;
    return launch && !held.some((q) => q.name === launch.name) ? [...held, launch] : held;
  };
  const byName = (name: string) => {
    const q = all().find((x) => x.name === name);
    if (!q) throw new NotFoundError("queue", name);
    return q;
  };
  const view = async (q: Queue) => {
    const [counts, paused, workers] = await Promise.all([q.getJobCounts(...STATES), q.isPaused(), q.getWorkers()]);
    return {
      name: q.name,
      paused,
      counts,
      workers: workers.map((w) => ({ name: w.name ?? "", addr: w.addr ?? "", age_s: Number(w.age ?? 0), idle_s: Number(w.idle ?? 0) })),
    };
  };
  const jobView = async (job: Job, state?: string) => ({
    id: String(job.id),
    name: job.name,
    state: state ?? (await job.getState()),
    data: job.data,
    attempts_made: job.attemptsMade,
    attempts: job.opts.attempts ?? 1,
    failed_reason: job.failedReason || null,
    created_at: new Date(job.timestamp).toISOString(),
    processed_at: iso(job.processedOn),
    finished_at: iso(job.finishedOn),
  });
  const findJob = async (name: string, id: string) => {
    const job = await byName(name).getJob(id);
    if (!job) throw new NotFoundError("job", id);
    return job;
  };

  app.get(
    "",
    {
      onRequest: app.requireScope("read"),
      schema: { summary: "Queues with job counts per state and the workers alive on each", tags: ["queues"], response: { 200: Type.Object({ items: Type.Array(QueueView) }), ...errors(401, 403) } },
    },
    async () => ({ items: await Promise.all(all().map(view)) }),
  );

  app.get(
    "/:name",
    {
      onRequest: app.requireScope("read"),
      schema: { summary: "One queue's counts and workers", tags: ["queues"], params: NameParams, response: { 200: QueueView, ...errors(401, 403, 404) } },
    },
    async (req) => view(byName(req.params.name)),
  );

  app.get(
    "/:name/jobs",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "Jobs of a queue in one state, newest first",
        tags: ["queues"],
        params: NameParams,
        querystring: Type.Object({
          state: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)), { default: "failed" })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(JobView), total: Type.Integer() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const q = byName(req.params.name);
      const state: State = req.query.state ?? "failed";
      const limit = req.query.limit ?? 50;
      const offset = req.query.offset ?? 0;
      const [jobs, total] = await Promise.all([q.getJobs([state], offset, offset + limit - 1, false), q.getJobCountByTypes(state)]);
      return { items: await Promise.all(jobs.filter(Boolean).map((j) => jobView(j as Job, state))), total };
    },
  );

  app.post(
    "/:name/jobs/:id/retry",
    {
      onRequest: app.requireScope("admin"),
      schema: { summary: "Retry a failed job", tags: ["queues"], params: JobParams, response: { 200: JobView, ...errors(401, 403, 404, 409) } },
    },
    async (req) => {
      const job = await findJob(req.params.name, req.params.id);
      const state = await job.getState();
      if (state !== "failed") throw new ConflictError(`job ${job.id} is ${state}, only failed jobs can be retried`);
      await job.retry("failed");
      return jobView(job);
    },
  );

  app.delete(
    "/:name/jobs/:id",
    {
      onRequest: app.requireScope("admin"),
      schema: {
        summary: "Remove a job that is not running",
        tags: ["queues"],
        params: JobParams,
        response: { 200: Type.Object({ id: Type.String(), removed: Type.Boolean() }), ...errors(401, 403, 404, 409) },
      },
    },
    async (req) => {
      const job = await findJob(req.params.name, req.params.id);
      const state = await job.getState();
      if (state === "active") throw new ConflictError(`job ${job.id} is running; cancel its run instead`);
      try {
        await job.remove();
      } catch (err) {
        // BullMQ refuses to remove a job that is locked by a worker or is a parent with pending children.
        throw new ConflictError(`job ${job.id} cannot be removed: ${(err as Error).message}`);
      }
      return { id: String(job.id), removed: true };
    },
  );
};
