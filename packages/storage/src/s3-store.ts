import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NotFoundError, ValidationError } from "@tokenmill/domain";
import type { ObjectInfo, ObjectStore } from "./store.js";
import { checkKey, checkRange } from "./uri.js";

const MiB = 1024 * 1024;

/**
 * How to reach an S3-compatible service; the bucket comes from the store config or an s3:// URI.
 *
 * Checked against s3rver 3.7.1 with @aws-sdk/client-s3 3.1169: the SDK's default flexible checksums
 * (CRC32 on every PutObject/UploadPart) are accepted, so no `requestChecksumCalculation` override is
 * needed; the one s3rver defect (truncated ListObjectsV2 pages) is worked around in testkit's s3.ts.
 */
export interface S3ConnectionOptions {
  /** e.g. `http://127.0.0.1:9000` for MinIO or s3rver; default: AWS for `region`. */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. Default false. */
  forcePathStyle?: boolean;
  /** Static credentials; both or neither. Default: the SDK's provider chain (env, profile, IMDS…). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** SDK attempts per request, including the first, for throttling/5xx/network errors. Default 3. */
  maxAttempts?: number;
  /** Connect timeout, and how long a socket may sit idle mid-request, in ms. Default 30000. */
  timeoutMs?: number;
  /** put() bodies of at least this many bytes go through multipart upload. Default 16 MiB. */
  multipartThreshold?: number;
  /** Multipart part size in bytes; at least 5 MiB (S3's minimum). Default 8 MiB. */
  partSize?: number;
  /** Parts uploaded concurrently. Default 4. */
  queueSize?: number;
  /** Keys per ListObjectsV2 page (1–1000). Default 1000. */
  listPageSize?: number;
}

export interface S3StoreOptions extends S3ConnectionOptions {
  bucket: string;
  /** Key prefix under which this store lives, without leading or trailing `/`. Default: none. */
  prefix?: string;
}

export function createS3Client(opts: S3ConnectionOptions): S3Client {
  if ((opts.accessKeyId === undefined) !== (opts.secretAccessKey === undefined)) {
    throw new ValidationError("give both accessKeyId and secretAccessKey, or neither", "s3");
  }
  const timeout = opts.timeoutMs ?? 30_000;
  return new S3Client({
    region: opts.region ?? "us-east-1",
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.accessKeyId && opts.secretAccessKey
      ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } }
      : {}),
    maxAttempts: opts.maxAttempts ?? 3,
    // An idle-socket timeout rather than `requestTimeout`: the latter only logs a warning unless
    // throwOnRequestTimeout is set, and as a deadline it would cut off slow but progressing
    // multi-MiB part uploads. A server that accepts and never answers is idle, so this catches it.
    requestHandler: { connectionTimeout: timeout, socketTimeout: timeout },
  });
}

/** True for a missing key (GetObject's NoSuchKey, HeadObject's bare 404), not for a missing bucket. */
export function isS3NotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === "NoSuchBucket") return false;
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

export class S3Store implements ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  readonly client: S3Client;
  private readonly keyPrefix: string;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly listPageSize: number;

  constructor(opts: S3StoreOptions, client?: S3Client) {
    const prefix = (opts.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.bucket = opts.bucket;
    this.keyPrefix = prefix ? `${prefix}/` : "";
    this.uri = `s3://${opts.bucket}${prefix ? `/${prefix}` : ""}`;
    this.partSize = opts.partSize ?? 8 * MiB;
    if (this.partSize < 5 * MiB) throw new ValidationError("must be at least 5 MiB", "s3.partSize");
    this.multipartThreshold = opts.multipartThreshold ?? 16 * MiB;
    this.queueSize = opts.queueSize ?? 4;
    this.listPageSize = opts.listPageSize ?? 1000;
    this.client = client ?? createS3Client(opts);
  }

  url(key: string): string {
    return `s3://${this.bucket}/${this.fullKey(key)}`;
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    if (bytes.byteLength < this.multipartThreshold) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Body: bytes }));
    } else {
      await this.upload(key, bytes);
    }
  }

  /** Upload buffers `partSize` bytes at a time; a body smaller than one part is a single PutObject. */
  async putStream(key: string, body: Readable): Promise<void> {
    await this.upload(key, body);
  }

  async get(key: string): Promise<Buffer> {
    const res = await this.getObject(key);
    return Buffer.from(await res.transformToByteArray());
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    checkRange(start, end);
    // `bytes=5-4` is not a valid Range, and S3 answers an invalid Range with the whole object.
    if (end === start) {
      if (!(await this.head(key))) throw new NotFoundError("object", this.url(key));
      return Buffer.alloc(0);
    }
    try {
      const res = await this.getObject(key, `bytes=${start}-${end - 1}`);
      return Buffer.from(await res.transformToByteArray());
    } catch (err) {
      if (isInvalidRange(err)) return Buffer.alloc(0); // start at or past the end, like a file
      throw err;
    }
  }

  async getStream(key: string): Promise<Readable> {
    return (await this.getObject(key)) as unknown as Readable;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return { key, size: res.ContentLength ?? 0, ...(res.ETag ? { etag: unquote(res.ETag) } : {}) };
    } catch (err) {
      if (isS3NotFound(err)) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxKeys: this.listPageSize,
          ContinuationToken: token,
        }),
      );
      for (const obj of res.Contents ?? []) {
        if (!obj.Key) continue;
        out.push({
          key: obj.Key.slice(this.keyPrefix.length),
          size: obj.Size ?? 0,
          ...(obj.ETag ? { etag: unquote(obj.ETag) } : {}),
        });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.keyPrefix + key;
  }

  private async upload(key: string, body: Uint8Array | Readable): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.fullKey(key), Body: body },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false, // abort the multipart upload so no orphaned parts are billed
    });
    await upload.done();
  }

  private async getObject(key: string, range?: string) {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), ...(range ? { Range: range } : {}) }),
      );
      if (!res.Body) throw new Error(`GetObject ${this.url(key)} returned no body`);
      return res.Body;
    } catch (err) {
      if (isS3NotFound(err)) throw new NotFoundError("object", this.url(key));
      throw err;
    }
  }
}

function isInvalidRange(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "InvalidRange" || e.$metadata?.httpStatusCode === 416;
}

export function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}
