import { UnrecoverableError } from "bullmq";
import { TokenmillError, UnreachableError } from "@tokenmill/domain";

/**
 * Whether retrying cannot help: BullMQ's UnrecoverableError, bad input (validation, missing rows,
 * a file whose bytes are not its format: BadInputError) and unreachable local files. A network source that cannot be reached may come back, so it is
 * retried with the catalog's backoff.
 */
export function isPermanent(err: unknown): boolean {
  if (err instanceof UnrecoverableError) return true;
  if (!(err instanceof TokenmillError)) return false;
  if (err instanceof UnreachableError) return err.uri.startsWith("file:") || err.uri.startsWith("/");
  return true;
}
