import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize, sep } from "node:path";

export interface TestFileServer {
  /** `http://127.0.0.1:<port>`; a file `rootDir/a/b.jsonl` is at `${url}/a/b.jsonl`. */
  url: string;
  /** Every request received, in order, e.g. to check that a HEAD came before the GET. */
  requests: { method: string; url: string }[];
  close(): Promise<void>;
}

export interface FileServerOptions {
  /** Answer HEAD with 405, like servers that only allow GET. Default false. */
  refuseHead?: boolean;
  /** Ignore Range headers and always send the whole file with 200. Default false. */
  ignoreRange?: boolean;
}

/**
 * Serves files under `rootDir` on a random loopback port: GET and HEAD with Content-Length and
 * ETag, single `Range: bytes=a-b` requests, 404 for anything missing, 405 for other methods.
 * Two synthetic routes serve error-path tests: `/redirect/<path>` answers 302 to `/<path>`, and
 * `/status/<code>` answers with that status.
 */
export async function startFileServer(rootDir: string, opts: FileServerOptions = {}): Promise<TestFileServer> {
  const root = normalize(rootDir);
  const requests: { method: string; url: string }[] = [];
  const server = createServer((req, res) => {
    const method = req.method ?? "GET";
    requests.push({ method, url: req.url ?? "" });
    void (async () => {
      const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      if (pathname.startsWith("/redirect/")) {
        res.writeHead(302, { Location: pathname.slice("/redirect".length) }).end();
        return;
      }
      const status = /^\/status\/(\d{3})$/.exec(pathname);
      if (status) {
        res.writeHead(Number(status[1]), { "Content-Type": "text/plain" }).end("synthetic status");
        return;
      }
      if ((method === "HEAD" && opts.refuseHead) || (method !== "GET" && method !== "HEAD")) {
        res.writeHead(405, { Allow: "GET, HEAD" }).end();
        return;
      }
      const path = join(root, pathname);
      if (path !== root && !path.startsWith(root + sep)) {
        res.writeHead(404).end();
        return;
      }
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) {
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
        return;
      }
      const etag = `"${info.size}-${Math.trunc(info.mtimeMs)}"`;
      const range = opts.ignoreRange ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      let start = 0;
      let end = info.size; // exclusive
      if (range) {
        start = Number(range[1]);
        end = range[2] ? Math.min(Number(range[2]) + 1, info.size) : info.size;
        if (start >= info.size || start >= end) {
          res.writeHead(416, { "Content-Range": `bytes */${info.size}` }).end();
          return;
        }
      }
      const headers: Record<string, string | number> = {
        "Content-Length": end - start,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        ETag: etag,
      };
      if (range) headers["Content-Range"] = `bytes ${start}-${end - 1}/${info.size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (method === "HEAD" || end === start) {
        res.end();
        return;
      }
      createReadStream(path, { start, end: end - 1 }).pipe(res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
    },
  };
}
