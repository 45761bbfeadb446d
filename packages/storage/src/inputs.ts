import { createHash } from "node:crypto";
import { resolve as resolvePath } from "node:path";
import type { InputIdentity } from "@tokenmill/domain";
import type { Readable } from "node:stream";
import { TokenmillError, UnreachableError, ValidationError } from "@tokenmill/domain";
import { type ByteRange, describeError, type InputFile, type InputOptions } from "./input-common.js";
import { listFileInputs, openFileInput } from "./input-file.js";
import { listHttpInputs, openHttpInput } from "./input-http.js";
import { listS3Inputs, openS3Input } from "./input-s3.js";
import { checkS3Bucket, DEFAULT_SOURCE_POLICY } from "./guard/policy.js";
import { checkRange, parseS3Uri, schemeOf } from "./uri.js";

/**
 * Input sources: where users' datasets live. listInputs expands a URI into files; openInput streams
 * one. Anything that cannot be read — missing path, nothing matching, refused connection, HTTP or
 * S3 error, timeout — is an UnreachableError naming the URI and the cause.
 *
 * - `file:///dir/` or `/dir`: every *.jsonl and *.jsonl.gz below it; `file:///f.jsonl`: that file;
 *   `file:///data/**\/shard-?.jsonl.gz`: a glob (`*`, `?`, `**`).
 * - `s3://bucket/prefix/`: *.jsonl and *.jsonl.gz objects under the prefix; `s3://bucket/key`: one
 *   object; globs as for files.
 * - `http(s)://…`: one file.
 *
 * Every call goes through the source guard with `opts.policy` (default: no file://, public
 * addresses only): file paths must be in its roots, http(s) connections to non-public addresses
 * need an allowlist entry, s3 buckets may be limited. A refusal is a ValidationError that does not
 * say whether the path or port exists.
 */
export async function listInputs(uri: string, opts: InputOptions = {}): Promise<InputFile[]> {
  switch (schemeFor(uri)) {
    case "file:":
      return listFileInputs(uri, opts.policy);
    case "s3:":
      checkS3Bucket(opts.policy ?? DEFAULT_SOURCE_POLICY, uri, parseS3Uri(uri).bucket);
      return listS3Inputs(uri, opts);
    default:
      return listHttpInputs(uri, opts);
  }
}

/** Streams one input, or bytes [range.start, range.end) of it. */
export async function openInput(uri: string, opts: InputOptions = {}, range?: ByteRange): Promise<Readable> {
  if (range) checkRange(range.start, range.end);
  switch (schemeFor(uri)) {
    case "file:":
      return openFileInput(uri, range, opts.policy);
    case "s3:":
      checkS3Bucket(opts.policy ?? DEFAULT_SOURCE_POLICY, uri, parseS3Uri(uri).bucket);
      return openS3Input(uri, opts, range);
    default:
      return openHttpInput(uri, opts, range);
  }
}

/** Hex SHA-256 of an input's bytes, streamed (for file identities). */
export async function sha256OfInput(uri: string, opts: InputOptions = {}): Promise<string> {
  const stream = await openInput(uri, opts);
  const hash = createHash("sha256");
  try {
    for await (const chunk of stream) hash.update(chunk as Buffer);
  } catch (err) {
    if (err instanceof TokenmillError) throw err;
    throw new UnreachableError(uri, describeError(err));
  }
  return hash.digest("hex");
}

function schemeFor(uri: string): "file:" | "s3:" | "http:" {
  const scheme = schemeOf(uri);
  if (scheme === "file:" || scheme === "s3:") return scheme;
  if (scheme === "http:" || scheme === "https:") return "http:";
  throw new ValidationError(
    `unsupported input URI ${JSON.stringify(uri)}: use file:///path, an absolute path, s3://bucket/key or http(s)://`,
  );
}

/**
 * The identity of an input as it enters a dataset fingerprint: local files by the sha256 of their
 * bytes (stable across copies and touches), remote objects by their ETag (no full read).
 */
export async function inputIdentity(file: InputFile, opts: InputOptions = {}): Promise<InputIdentity> {
  const id = file.uri.startsWith("file:") ? `sha256:${await sha256OfInput(file.uri, opts)}` : `etag:${file.etag ?? "none"}`;
  return { uri: file.uri, size: file.size, id };
}

/**
 * Expands several local paths, file:// / s3:// / http(s):// URIs or globs into one list of inputs
 * (in argument order, each expansion sorted, duplicates dropped). Relative paths resolve from `cwd`.
 */
export async function listManyInputs(refs: string[], opts: InputOptions = {}, cwd = process.cwd()): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const seen = new Set<string>();
  for (const ref of refs) {
    const uri = /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) ? ref : resolvePath(cwd, ref);
    for (const f of await listInputs(uri, opts)) {
      if (!seen.has(f.uri)) {
        seen.add(f.uri);
        out.push(f);
      }
    }
  }
  return out;
}
