import type { Readable } from "node:stream";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { TokenmillError, UnreachableError } from "@tokenmill/domain";
import { globBase, globToRegExp, hasGlob } from "./glob.js";
import {
  type ByteRange,
  DEFAULT_TIMEOUT_MS,
  describeError,
  emptyStream,
  type InputFile,
  type InputOptions,
  isDataFileName,
} from "./input-common.js";
import { createS3Client, S3Store } from "./s3-store.js";
import { parseS3Uri } from "./uri.js";

/** One client per options object, so listing then opening many files reuses connections. */
const clients = new WeakMap<InputOptions, S3Client>();

function storeFor(bucket: string, opts: InputOptions): S3Store {
  let client = clients.get(opts);
  if (!client) {
    client = createS3Client({ ...opts.s3, timeoutMs: opts.timeoutMs ?? opts.s3?.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    clients.set(opts, client);
  }
  return new S3Store({ ...opts.s3, bucket }, client);
}

/**
 * `s3://bucket/key` is one object — or, when no such object exists, the "directory" `key/`;
 * `s3://bucket/prefix/` is every *.jsonl / *.jsonl.gz object under the prefix; a key with `*`/`?`
 * is a glob over keys.
 */
export async function listS3Inputs(uri: string, opts: InputOptions): Promise<InputFile[]> {
  const { bucket, key } = parseS3Uri(uri);
  const store = storeFor(bucket, opts);
  const entry = (o: { key: string; size: number; etag?: string }): InputFile => ({
    uri: `s3://${bucket}/${o.key}`,
    size: o.size,
    ...(o.etag ? { etag: o.etag } : {}),
  });
  try {
    if (hasGlob(key)) {
      const re = globToRegExp(key);
      const files = (await store.list(globBase(key))).filter((o) => re.test(o.key));
      if (files.length === 0) throw new UnreachableError(uri, "no objects match the pattern");
      return files.map(entry);
    }
    if (key !== "" && !key.endsWith("/")) {
      const one = await store.head(key);
      if (one) return [entry(one)];
    }
    const prefix = key === "" || key.endsWith("/") ? key : `${key}/`;
    const files = (await store.list(prefix)).filter((o) => isDataFileName(o.key));
    if (files.length === 0) {
      throw new UnreachableError(
        uri,
        key === prefix
          ? "no data objects (*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet, *.arrow) under the prefix"
          : "NoSuchKey: no such object, and no data objects (*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet, *.arrow) under it",
      );
    }
    return files.map(entry);
  } catch (err) {
    if (err instanceof TokenmillError) throw err;
    throw new UnreachableError(uri, describeError(err));
  }
}

export async function openS3Input(uri: string, opts: InputOptions, range?: ByteRange): Promise<Readable> {
  const { bucket, key } = parseS3Uri(uri);
  const store = storeFor(bucket, opts);
  try {
    if (range && range.end <= range.start) {
      if (!(await store.head(key))) throw new UnreachableError(uri, "NoSuchKey: no such object");
      return emptyStream();
    }
    const res = await store.client.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
      }),
    );
    return (res.Body as Readable | undefined) ?? emptyStream();
  } catch (err) {
    if (err instanceof TokenmillError) throw err;
    if ((err as { name?: string }).name === "InvalidRange") return emptyStream();
    throw new UnreachableError(uri, describeError(err));
  }
}
