import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { ValidationError } from "@tokenmill/domain";
import type { SourcePolicy } from "./policy.js";

/**
 * The one answer for any path outside the configured roots. It is the same whether the path
 * exists, is a dangling link or a folder, so the guard cannot be used to probe the disk.
 */
export function fileNotAllowed(what: string): ValidationError {
  return new ValidationError(`${what}: file paths are limited to the configured roots (FILE_SOURCE_ROOTS)`);
}

/**
 * Checks a decoded absolute path (or glob base) against the policy's roots and returns it with
 * `.`/`..` resolved. Containment is checked twice: lexically (before touching the disk, so nothing
 * outside a root is ever stat-ed) and on the real path after symlinks, on path boundaries (`/data2`
 * is not inside `/data`). `what` names the input in the error (the URI as the user gave it).
 */
export async function guardPath(path: string, policy: SourcePolicy, what: string): Promise<string> {
  if (path.includes("\0") || !isAbsolute(path)) throw fileNotAllowed(what);
  const lexical = resolve(path);
  if (!policy.fileRoots.some((root) => inside(lexical, resolve(root)))) throw fileNotAllowed(what);
  const real = await realpathLoose(lexical);
  const roots = await realRoots(policy);
  if (real === null || !roots.some((root) => inside(real, root))) throw fileNotAllowed(what);
  return lexical;
}

/**
 * For a file found by listing a folder or glob inside a root: refused when its real path (after
 * symlinks) leaves the roots, and when it is a dangling link (whose target could be anywhere).
 */
export async function guardListed(path: string, policy: SourcePolicy, what: string): Promise<void> {
  const real = await realpath(path).catch(() => null);
  const roots = await realRoots(policy);
  if (real === null || !roots.some((root) => inside(real, root))) throw fileNotAllowed(`${what} (${basename(path)})`);
}

function inside(path: string, root: string): boolean {
  if (root === sep) return true;
  const r = root.endsWith(sep) ? root.slice(0, -1) : root;
  return path === r || path.startsWith(r + sep);
}

async function realRoots(policy: SourcePolicy): Promise<string[]> {
  const out: string[] = [];
  for (const root of policy.fileRoots) {
    const real = await realpathLoose(resolve(root));
    if (real !== null) out.push(real);
  }
  return out;
}

/**
 * realpath for paths that may not exist yet: the real path of the deepest existing ancestor plus
 * the rest. Null when a component is a dangling symbolic link (its target is unknown here).
 */
async function realpathLoose(path: string): Promise<string | null> {
  const rest: string[] = [];
  let cur = path;
  for (;;) {
    try {
      return join(await realpath(cur), ...rest.reverse());
    } catch {
      const link = await lstat(cur).then(
        (s) => s.isSymbolicLink(),
        () => false,
      );
      if (link) return null;
      const parent = dirname(cur);
      if (parent === cur) return path;
      rest.push(basename(cur));
      cur = parent;
    }
  }
}
