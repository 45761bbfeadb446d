import { afterAll, describe, expect, it } from "vitest";
import { startS3Server, type TestS3Server } from "./s3.js";

describe("startS3Server", () => {
  const servers: TestS3Server[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => {});
  });

  it("starts on a random loopback port with a fresh bucket, and records requests", async () => {
    const a = await startS3Server();
    const b = await startS3Server();
    servers.push(a, b);
    expect(a.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.endpoint).not.toBe(b.endpoint);
    expect(a.bucket).not.toBe(b.bucket);
    expect(a.options).toMatchObject({ bucket: a.bucket, endpoint: a.endpoint, forcePathStyle: true });
    const res = await fetch(`${a.endpoint}/${a.bucket}/?list-type=2`); // s3rver allows anonymous reads
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<Name>${a.bucket}</Name>`);
    expect(a.requests).toEqual([{ method: "GET", url: `/${a.bucket}/?list-type=2` }]);
  });

  it("close() frees the port", async () => {
    const s = await startS3Server();
    await s.close();
    await expect(fetch(`${s.endpoint}/${s.bucket}/`)).rejects.toThrow("fetch failed");
  });
});
