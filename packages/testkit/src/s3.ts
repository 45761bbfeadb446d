import crypto, { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The slice of s3rver's (untyped, CommonJS) API this file uses. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor;

/**
 * s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 17+)
 * only has in its legacy provider: every truncated listing answered 500 InternalError
 * ("digital envelope routines::unsupported"), so paginated listing could not be tested. Two-key
 * triple DES with both keys equal computes exactly single DES (E_k∘D_k∘E_k = E_k), and DES-EDE-CBC is
 * still in OpenSSL's default provider, so 'des' is mapped onto it. Only the name 'des' is touched.
 */
function patchDesForS3rver(): void {
  const c = crypto as unknown as Record<string, unknown> & { __s3rverDes?: true };
  if (c.__s3rverDes) return;
  const wrap = (original: (...args: never[]) => unknown) =>
    function (this: unknown, algorithm: string, key: Buffer, ...rest: unknown[]) {
      const args =
        algorithm.toLowerCase() === "des" ? ["des-ede-cbc", Buffer.concat([key, key]), ...rest] : [algorithm, key, ...rest];
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  c.createCipheriv = wrap(crypto.createCipheriv as never);
  c.createDecipheriv = wrap(crypto.createDecipheriv as never);
  c.__s3rverDes = true;
}

/**
 * Connection options for an S3Store pointing at the test server; structurally an
 * `S3StoreOptions` from @tokenmill/storage (kept structural so testkit does not import storage).
 */
export interface TestS3Options {
  bucket: string;
  endpoint: string;
  region: string;
  forcePathStyle: true;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface TestS3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** A fresh bucket, unique to this server. */
  bucket: string;
  options: TestS3Options;
  /**
   * Every request the server received, in arrival order (method and path with query), so tests can
   * check which S3 operations ran — e.g. that a large put went through `?uploads` and `?partNumber=`.
   */
  requests: { method: string; url: string }[];
  close(): Promise<void>;
}

/**
 * Starts s3rver on a random loopback port with a fresh bucket. Data lives in `dir` when given,
 * otherwise in a temporary directory removed on close.
 */
export async function startS3Server(opts: { dir?: string } = {}): Promise<TestS3Server> {
  patchDesForS3rver();
  const ownDir = opts.dir === undefined;
  const directory = opts.dir ?? (await mkdtemp(join(tmpdir(), "tokenmill-s3rver-")));
  const bucket = `test-${randomBytes(6).toString("hex")}`;
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const requests: { method: string; url: string }[] = [];
  // A second 'request' listener only observes; s3rver's own listener still answers.
  server.httpServer?.on("request", (req: IncomingMessage) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" });
  });
  return {
    endpoint,
    bucket,
    requests,
    options: {
      bucket,
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    },
    async close() {
      // The SDK keeps sockets alive; without this, close() waits for them to time out.
      server.httpServer?.closeAllConnections();
      await server.close();
      if (ownDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
