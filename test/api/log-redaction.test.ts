import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQueues, type Queues } from "@tokenmill/queues";
import { buildApp, loadApiConfig, type App } from "@tokenmill/api";
import { createApiLogger, redactUrl } from "../../services/api/src/plugins/logging.js";
import { startStack, type Stack } from "../support/stack.js";

/**
 * Credentials never reach the log: event-stream tickets and tokens in query strings are redacted from
 * logged URLs, and the Authorization header is not logged. Checked on the API's own logger (the one
 * server.ts uses), at info level, by reading what it wrote.
 */
let stack: Stack;
let queues: Queues;
let app: App;
const lines: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  queues = createQueues({ redisUrl: stack.redisUrl, prefix: stack.queuePrefix });
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const config = loadApiConfig(stack.workerEnv);
  app = await buildApp({ prisma: stack.prisma, queues, store: stack.store, config }, { loggerInstance: createApiLogger("info", sink) });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await queues?.close();
  await stack?.close();
});

describe("redactUrl", () => {
  it.each([
    ["/events/runs/1?ticket=tmt_abc", "/events/runs/1?ticket=[REDACTED]"],
    ["/x?limit=5&token=tm_s3cret&offset=0", "/x?limit=5&token=[REDACTED]&offset=0"],
    ["/x?access_token=a&api_key=b&client_secret=c&password=d", "/x?access_token=[REDACTED]&api_key=[REDACTED]&client_secret=[REDACTED]&password=[REDACTED]"],
    ["/x?%74oken=encoded-name", "/x?%74oken=[REDACTED]"],
    ["/x?Ticket=upper", "/x?Ticket=[REDACTED]"],
    ["/x?status=running&name=tokenizer", "/x?status=running&name=tokenizer"],
    ["/x", "/x"],
  ])("%s → %s", (url, want) => {
    expect(redactUrl(url)).toBe(want);
  });
});

describe("request logs", () => {
  it("never contain a ticket, a token in the query string or the Authorization header", async () => {
    const ticket = (await app.inject({ method: "POST", url: "/events/tickets", headers: { authorization: `Bearer ${stack.admin}` } })).json().ticket as string;
    expect(ticket).toMatch(/^tmt_/);
    const secretQuery = "tm_query_secret_0123456789";
    const requests = [
      { url: `/events/runs/00000000-0000-4000-8000-000000000000?ticket=${ticket}` },
      { url: `/events/curation-runs/00000000-0000-4000-8000-000000000000?ticket=${ticket}` },
      { url: `/sources?limit=5&token=${secretQuery}&access_token=${secretQuery}`, headers: { authorization: `Bearer ${stack.admin}` } },
      { url: `/no-such-route?ticket=${ticket}` },
      { url: `/sources?offset=-1&ticket=${ticket}`, headers: { authorization: `Bearer ${stack.admin}` } },
    ];
    for (const r of requests) {
      const res = await app.inject({ method: "GET", ...r });
      expect(res.body).not.toContain(ticket);
      expect(res.body).not.toContain(secretQuery);
    }
    const log = lines.join("\n");
    // The requests were logged (so the check below reads real log lines), with their URLs redacted.
    expect(log).toContain("ticket=[REDACTED]");
    expect(log).toContain("/sources?limit=5&token=[REDACTED]&access_token=[REDACTED]");
    expect(log).not.toContain(ticket);
    expect(log).not.toContain(secretQuery);
    expect(log).not.toContain(stack.admin);
    expect(log.toLowerCase()).not.toContain("bearer");
  });

  it("redacts credentials if a request's headers or a config object are ever logged whole", () => {
    const out: string[] = [];
    const logger = createApiLogger("info", new Writable({ write: (c, _e, done) => (out.push(c.toString()), done()) }));
    logger.info({ req: { method: "GET", url: "/x?ticket=tmt_zz", headers: { authorization: "Bearer tm_header_secret" } } }, "whole request");
    logger.info({ databaseUrl: "postgresql://u:pw@127.0.0.1/db", redisUrl: "redis://:pw@127.0.0.1", s3: { secretAccessKey: "sk", accessKeyId: "ak" } }, "config");
    const text = out.join("");
    expect(text).not.toContain("tm_header_secret");
    expect(text).not.toContain("tmt_zz");
    expect(text).not.toContain("pw@");
    expect(text).not.toContain('"sk"');
  });
});
