import { open, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { UnreachableError } from "@tokenmill/domain";
import { walk } from "./file-store.js";
import { globBase, globToRegExp, hasGlob } from "./glob.js";
import { guardListed, guardPath } from "./guard/file-guard.js";
import { DEFAULT_SOURCE_POLICY, type SourcePolicy } from "./guard/policy.js";
import { type ByteRange, describeError, emptyStream, type InputFile, isDataFileName } from "./input-common.js";
import { fileUriToPath, pathToFileUri } from "./uri.js";

/**
 * A file, every *.jsonl / *.jsonl.gz below a directory, or every file a glob matches; sorted. The
 * path (for a glob, its literal base) must lie in the policy's roots before anything is stat-ed, and
 * every file listed must too after symlinks.
 */
export async function listFileInputs(uri: string, policy: SourcePolicy = DEFAULT_SOURCE_POLICY): Promise<InputFile[]> {
  const raw = fileUriToPath(uri);
  if (hasGlob(raw)) {
    const base = await guardPath(globBase(raw), policy, uri);
    // The pattern is matched with its `..` resolved, against the paths walk() yields under `base`.
    const pattern = base.replace(/\/?$/, "/") + raw.slice(globBase(raw).length);
    await statOrUnreachable(uri, base);
    const re = globToRegExp(pattern);
    const files = await collect(uri, policy, base, (p) => re.test(p));
    if (files.length === 0) throw new UnreachableError(uri, "no files match the pattern");
    return files;
  }
  const path = await guardPath(raw, policy, uri);
  const info = await statOrUnreachable(uri, path);
  if (info.isFile()) return [{ uri: pathToFileUri(path), size: info.size, etag: etagOf(info) }];
  if (!info.isDirectory()) throw new UnreachableError(uri, "neither a file nor a directory");
  const files = await collect(uri, policy, path, isDataFileName);
  if (files.length === 0) throw new UnreachableError(uri, "no data files (*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet, *.arrow) in the directory");
  return files;
}

/** Opens one file, checked against the roots again: the policy may have changed since it was listed. */
export async function openFileInput(uri: string, range?: ByteRange, policy: SourcePolicy = DEFAULT_SOURCE_POLICY): Promise<Readable> {
  const path = await guardPath(fileUriToPath(uri), policy, uri);
  let fh;
  try {
    fh = await open(path, "r");
    if (!(await fh.stat()).isFile()) throw new Error("EISDIR: not a file");
  } catch (err) {
    await fh?.close();
    throw new UnreachableError(uri, describeError(err));
  }
  if (range && range.end <= range.start) {
    await fh.close();
    return emptyStream();
  }
  return fh.createReadStream(range ? { start: range.start, end: range.end - 1 } : {});
}

async function collect(uri: string, policy: SourcePolicy, dir: string, keep: (path: string) => boolean): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for await (const path of walk(dir)) {
    if (!keep(path)) continue;
    await guardListed(path, policy, uri);
    const info = await stat(path).catch(() => null);
    if (info?.isFile()) out.push({ uri: pathToFileUri(path), size: info.size, etag: etagOf(info) });
  }
  return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}

async function statOrUnreachable(uri: string, path: string) {
  try {
    return await stat(path);
  } catch (err) {
    throw new UnreachableError(uri, describeError(err));
  }
}

function etagOf(info: { size: number; mtimeMs: number }): string {
  return `${info.size}-${info.mtimeMs}`;
}
