import type { PrismaClient } from "@tokenmill/db";
import { ConflictError, NotFoundError } from "@tokenmill/domain";

/**
 * Names wherever ids: a resource with a unique name (experiment, source, pipeline, mixture, dataset
 * version) can be given by id or by name in a path or query parameter. The rules match the CLI's
 * (packages/cli/src/resolve.ts) so a name means the same thing on both sides:
 * - a UUID is looked up as an id first (a name shaped like a UUID still resolves when no id matches);
 * - pipelines: `name` is the newest version, `name@version` that version;
 * - dataset versions: `name` is the newest version, `name@<fingerprint prefix>` the one version
 *   whose fingerprint starts so (several → 409, give more of the fingerprint or the id).
 * Misses are 404 and ambiguities 409, both naming `field` (e.g. `params.id`, `query.experiment`).
 */
export type Named = "experiment" | "source" | "pipeline" | "mixture" | "dataset version";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string): boolean => UUID.test(value);

/** `name@qualifier` → [name, qualifier]; a leading `@` is part of the name, as in the CLI. */
export function splitAt(value: string): [string, string | undefined] {
  const i = value.lastIndexOf("@");
  return i > 0 ? [value.slice(0, i), value.slice(i + 1)] : [value, undefined];
}

type Db = Pick<PrismaClient, "experiment" | "source" | "pipeline" | "mixture" | "datasetVersion">;

async function byId(db: Db, kind: Named, id: string): Promise<string | null> {
  const where = { where: { id }, select: { id: true } };
  const row =
    kind === "experiment"
      ? await db.experiment.findUnique(where)
      : kind === "source"
        ? await db.source.findUnique(where)
        : kind === "pipeline"
          ? await db.pipeline.findUnique(where)
          : kind === "mixture"
            ? await db.mixture.findUnique(where)
            : await db.datasetVersion.findUnique(where);
  return row?.id ?? null;
}

async function byName(db: Db, kind: Named, value: string, field: string): Promise<string | null> {
  const select = { id: true };
  if (kind === "experiment") return (await db.experiment.findUnique({ where: { name: value }, select }))?.id ?? null;
  if (kind === "source") return (await db.source.findUnique({ where: { name: value }, select }))?.id ?? null;
  if (kind === "mixture") return (await db.mixture.findUnique({ where: { name: value }, select }))?.id ?? null;
  const [name, qualifier] = splitAt(value);
  if (kind === "pipeline") {
    if (qualifier === undefined) return (await db.pipeline.findFirst({ where: { name }, orderBy: { version: "desc" }, select }))?.id ?? null;
    if (!/^[1-9]\d{0,8}$/.test(qualifier)) return null;
    return (await db.pipeline.findUnique({ where: { name_version: { name, version: Number(qualifier) } }, select }))?.id ?? null;
  }
  if (qualifier === undefined) return (await db.datasetVersion.findFirst({ where: { name }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], select }))?.id ?? null;
  // Fingerprints are lower-case hex; anything else matches nothing (and never reaches LIKE as a wildcard).
  if (!/^[0-9a-f]{1,64}$/.test(qualifier)) return null;
  const hits = await db.datasetVersion.findMany({ where: { name, fingerprint: { startsWith: qualifier } }, select, take: 2 });
  if (hits.length > 1) throw new ConflictError(`"${value}" matches several dataset versions; give more of the fingerprint, or the id`, field);
  return hits[0]?.id ?? null;
}

/** The id of the `kind` given by id or name in `value`; NotFoundError/ConflictError naming `field`. */
export async function resolveId(db: Db, kind: Named, value: string, field: string): Promise<string> {
  const id = (isUuid(value) ? await byId(db, kind, value.toLowerCase()) : null) ?? (await byName(db, kind, value, field));
  if (id === null) throw new NotFoundError(kind, value, field);
  return id;
}
