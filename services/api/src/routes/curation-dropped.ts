import { createGunzip } from "node:zlib";
import { createInterface } from "node:readline";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type, type Static } from "typebox";
import { ConflictError, datasetPrefix, NotFoundError } from "@tokenmill/domain";
import { errors, IdParams } from "../schemas.js";

const DroppedDoc = Type.Object({
  doc_id: Type.String(),
  step: Type.String(),
  reason: Type.String({ description: "`<step>:<reason>`, e.g. length:too_few_words" }),
  detail: Type.Union([Type.String(), Type.Null()]),
  provenance: Type.Object({
    source: Type.Union([Type.String(), Type.Null()]),
    file: Type.Union([Type.String(), Type.Null()]),
    line: Type.Union([Type.Integer(), Type.Null()]),
    byte_offset: Type.Union([Type.Integer(), Type.Null()]),
  }),
  text_head: Type.Union([Type.String(), Type.Null()], { description: "The first 1,000 characters of the text, when there was one." }),
  object_key: Type.String({ description: "The dropped/*.jsonl.gz object the record came from." }),
});

const DroppedQuery = Type.Object({
  reason: Type.Optional(Type.String({ maxLength: 200, description: "Exact reason (`length:too_few_words`), or a step name (`length`) for all of its reasons." })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

interface DroppedLine {
  doc_id?: unknown;
  step?: unknown;
  reason?: unknown;
  detail?: unknown;
  source?: unknown;
  file?: unknown;
  line?: unknown;
  byte_offset?: unknown;
  text_head?: unknown;
}

const str = (v: unknown) => (typeof v === "string" ? v : v === undefined || v === null ? null : String(v));
const int = (v: unknown) => (typeof v === "number" && Number.isInteger(v) ? v : null);

/**
 * Sample dropped documents of a run (registered under /curation-runs). Records are read from the
 * dataset version's `dropped/*.jsonl.gz` objects in key order and streamed, so a page costs only the
 * objects before it; `total` comes from the run's per-step counts, never from a full scan.
 */
export const curationDroppedRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/:id/dropped",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "Sample a run's dropped documents with their reason, detail, provenance and the head of their text",
        tags: ["curation-runs"],
        params: IdParams,
        querystring: DroppedQuery,
        response: {
          200: Type.Object({ items: Type.Array(DroppedDoc), total: Type.Integer({ description: "Documents dropped for this reason (all reasons when none is given)." }) }),
          ...errors(400, 401, 403, 404, 409),
        },
      },
    },
    async (req) => {
      const run = await app.prisma.curationRun.findUnique({
        where: { id: req.params.id },
        include: { datasetVersion: true, stepStats: true, tasks: { select: { result: true, status: true } } },
      });
      if (!run) throw new NotFoundError("curation run", req.params.id);
      const prefix = run.datasetVersion?.prefix ?? (run.fingerprint ? datasetPrefix(run.datasetName, run.fingerprint) : null);
      const storeUri = run.datasetVersion?.storeUri ?? run.storeUri;
      if (!prefix) return { items: [], total: 0 };
      if (storeUri && storeUri.replace(/\/+$/, "") !== app.store.uri.replace(/\/+$/, "")) {
        throw new ConflictError(`run ${run.id} wrote to ${storeUri}, not to this API's store ${app.store.uri}`);
      }
      const { reason, limit = 20, offset = 0 } = req.query;
      const matches = (r: string) => !reason || r === reason || (!reason.includes(":") && r.startsWith(`${reason}:`));
      const total = countDropped(run, matches);

      const items: Array<Static<typeof DroppedDoc>> = [];
      let seen = 0;
      const objects = await app.store.list(`${prefix}dropped/`);
      for (const obj of objects) {
        if (items.length >= limit || !obj.key.endsWith(".jsonl.gz")) continue;
        const raw = await app.store.getStream(obj.key);
        const gunzip = raw.pipe(createGunzip());
        const lines = createInterface({ input: gunzip, crlfDelay: Infinity });
        try {
          for await (const line of lines) {
            if (!line) continue;
            const rec = JSON.parse(line) as DroppedLine;
            const r = str(rec.reason) ?? "";
            if (!matches(r)) continue;
            if (seen++ < offset) continue;
            items.push({
              doc_id: str(rec.doc_id) ?? "",
              step: str(rec.step) ?? r.slice(0, r.indexOf(":")),
              reason: r,
              detail: str(rec.detail),
              provenance: { source: str(rec.source), file: str(rec.file), line: int(rec.line), byte_offset: int(rec.byte_offset) },
              text_head: str(rec.text_head),
              object_key: obj.key,
            });
            if (items.length >= limit) break;
          }
        } finally {
          // A page usually ends mid-object: release the object's stream instead of draining it.
          lines.close();
          gunzip.destroy();
          raw.destroy();
        }
      }
      return { items, total: Math.max(total, seen) };
    },
  );
};

type RunWithStats = {
  stepStats: Array<{ dropped: unknown }>;
  tasks: Array<{ result: unknown; status: string }>;
};

/** Dropped documents matching a reason filter, from the finalized step stats or the finished tasks so far. */
function countDropped(run: RunWithStats, matches: (reason: string) => boolean): number {
  const maps: unknown[] =
    run.stepStats.length > 0
      ? run.stepStats.map((s) => s.dropped)
      : run.tasks
          .filter((t) => t.status === "succeeded")
          .flatMap((t) => ((t.result as { steps?: Array<{ dropped?: unknown }> } | null)?.steps ?? []).map((s) => s.dropped));
  let n = 0;
  for (const m of maps) {
    for (const [reason, count] of Object.entries((m ?? {}) as Record<string, number>)) if (matches(reason)) n += Number(count) || 0;
  }
  return n;
}
