import type { PrismaClient } from "@tokenmill/db";

/**
 * PostgreSQL connection faults: the server ended the session (57P01 admin_shutdown, 57P02, 57P03,
 * class 08 connection exceptions) or the socket broke. A pooled connection can be dead before anyone
 * notices (a restarted or failed-over server, pg_terminate_backend); the next query on it fails
 * while a fresh connection would succeed.
 */
const CODES = new Set(["57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004", "ECONNRESET", "EPIPE", "ECONNREFUSED"]);
const MESSAGES = /Connection terminated|terminating connection|Connection ended|server closed the connection|ECONNRESET|Client has encountered a connection error/i;

export function isConnectionError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 6) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; meta?: unknown; originalCode?: unknown };
  if (typeof e.code === "string" && CODES.has(e.code)) return true;
  if (typeof e.originalCode === "string" && CODES.has(e.originalCode)) return true;
  if (typeof e.message === "string" && MESSAGES.test(e.message)) return true;
  return isConnectionError(e.cause, depth + 1) || isConnectionError(e.meta, depth + 1) || isConnectionError((e.meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError, depth + 1);
}

/**
 * Runs `query` and, if it failed on a connection fault, once more (the pool then hands out a fresh
 * connection). Only for reads: a write whose connection broke may or may not have committed.
 */
export async function retryOnConnectionError<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (!isConnectionError(err)) throw err;
    return query();
  }
}

const READS = new Set(["findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany", "count", "aggregate", "groupBy"]);

/**
 * The client every route uses: model reads that fail on a connection fault are retried once (the
 * token lookup of every authenticated request among them). Writes and raw statements are not: their
 * effect may have committed before the connection broke.
 */
export function withReadRetry(prisma: PrismaClient): PrismaClient {
  return prisma.$extends({
    query: {
      $allModels: {
        $allOperations({ operation, args, query }) {
          return READS.has(operation) ? retryOnConnectionError(() => query(args)) : query(args);
        },
      },
    },
  }) as unknown as PrismaClient;
}
