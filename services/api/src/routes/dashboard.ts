import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import fastifyStatic from "@fastify/static";
import { Type } from "typebox";
import { scopeAllows, type Scope } from "@tokenmill/domain";
import { errorBody } from "../plugins/errors.js";
import { errors, IdParams } from "../schemas.js";
import { loadRunView, TERMINAL } from "./run-view.js";

export interface DashboardOptions {
  /** The dashboard's Vite build (default: services/dashboard/dist next to this service). */
  distDir?: string;
  /** How often a run's stream re-reads the run, shared by every client of that run (default 1000 ms). */
  pollMs?: number;
  /** Comment line sent to keep idle proxies from closing a stream (default 15000 ms). */
  heartbeatMs?: number;
}

/** SSE tickets live this long; EventSource re-uses its URL on reconnect, so a ticket is not single-use. */
const TICKET_TTL_S = 60;
const DEFAULT_DIST = fileURLToPath(new URL("../../../dashboard/dist", import.meta.url));
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/**
 * The web UI and its live feeds: static files at /ui/, `GET /session`, short-lived SSE tickets and
 * `GET /events/curation-runs/{id}`. EventSource cannot send an Authorization header, so a client
 * trades its bearer token for a ticket (`POST /events/tickets`) and passes `?ticket=` on event
 * streams only; the API token itself never goes into a URL.
 */
export const dashboardRoutes: FastifyPluginAsyncTypebox<DashboardOptions> = async (app, opts) => {
  const dist = opts.distDir ?? DEFAULT_DIST;
  const pollMs = opts.pollMs ?? 1000;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;

  if (existsSync(`${dist}/index.html`)) {
    await app.register(fastifyStatic, {
      root: dist,
      prefix: "/ui/",
      redirect: true,
      decorateReply: false,
      setHeaders(reply, path) {
        // Vite fingerprints everything under assets/, so those never change; index.html always may.
        reply.header("cache-control", path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
        reply.header("content-security-policy", CSP);
        reply.header("x-content-type-options", "nosniff");
      },
    });
  } else {
    app.get("/ui", { schema: { hide: true } }, (_req, reply) => reply.redirect("/ui/"));
    app.get("/ui/*", { schema: { hide: true } }, (_req, reply) =>
      reply.status(503).send({ error: "dashboard_not_built", message: "the dashboard is not built: run `npm run build -w @tokenmill/dashboard` (npm run setup does it)" }),
    );
  }

  app.get(
    "/session",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "The calling token's name and scopes (the dashboard's login check)",
        tags: ["dashboard"],
        response: { 200: Type.Object({ name: Type.String(), scopes: Type.Array(Type.String()) }), ...errors(401, 403) },
      },
    },
    async (req) => ({ name: req.token!.name, scopes: req.token!.scopes }),
  );

  const ticketKey = (ticket: string) => `${app.queues.prefix}:sse-ticket:${createHash("sha256").update(ticket).digest("hex")}`;

  app.post(
    "/events/tickets",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "A ticket for event streams (EventSource cannot send headers): pass it as ?ticket=",
        tags: ["dashboard"],
        response: { 201: Type.Object({ ticket: Type.String(), expires_in: Type.Integer({ description: "Seconds." }) }), ...errors(401, 403) },
      },
    },
    async (req, reply) => {
      const ticket = `tmt_${randomBytes(24).toString("base64url")}`;
      await app.queues.connection.set(ticketKey(ticket), req.token!.id, "EX", TICKET_TTL_S);
      return reply.status(201).send({ ticket, expires_in: TICKET_TTL_S });
    },
  );

  /** onRequest hook for streams: a valid ticket whose token still holds `scope`. */
  const requireTicket = (scope: Scope) => async (req: FastifyRequest, reply: FastifyReply) => {
    // Before validation, the query is as parsed: a repeated ?ticket= is an array, and no ticket.
    const ticket = (req.query as { ticket?: unknown }).ticket;
    const tokenId = typeof ticket === "string" ? await app.queues.connection.get(ticketKey(ticket)) : null;
    const row = tokenId ? await app.prisma.apiToken.findUnique({ where: { id: tokenId } }) : null;
    if (!row || row.revokedAt) {
      return reply.status(401).send(errorBody("unauthorized", "missing, expired or revoked ticket (POST /events/tickets, then ?ticket=)", "query.ticket"));
    }
    const scopes = row.scopes as Scope[];
    if (!scopeAllows(scopes, scope)) return reply.status(403).send(errorBody("forbidden", `this token lacks the "${scope}" scope`, "query.ticket"));
    req.token = { id: row.id, name: row.name, scopes };
  };

  const runs = new Broadcaster(pollMs, heartbeatMs, async (id) => {
    const view = await loadRunView(app.prisma, id);
    return { data: view, done: (TERMINAL as readonly string[]).includes(view.status) };
  });
  app.addHook("preClose", async () => runs.closeAll());

  app.get(
    "/events/curation-runs/:id",
    {
      onRequest: requireTicket("read"),
      schema: {
        summary: "Server-sent events: `run` with the run view (as GET /curation-runs/{id}) on every change, then `end` once it has ended",
        tags: ["dashboard"],
        security: [{ ticket: [] }],
        params: IdParams,
        querystring: Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 200, description: "From POST /events/tickets." })) }),
        produces: ["text/event-stream"],
        response: { 200: Type.String({ description: "text/event-stream" }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const first = await runs.load(req.params.id); // 404 before the stream opens
      reply.hijack();
      runs.subscribe(req.params.id, reply.raw, first);
    },
  );
};

interface Snapshot {
  data: unknown;
  done: boolean;
}

interface Channel {
  clients: Set<ServerResponse>;
  last: string;
  timer: NodeJS.Timeout;
  busy: boolean;
}

/**
 * One poller per key, shared by every subscriber: 100 clients watching a run cost one database read
 * per interval, and a message is serialized once and written to each socket only when it changed.
 */
export class Broadcaster {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly pollMs: number,
    private readonly heartbeatMs: number,
    readonly load: (key: string) => Promise<Snapshot>,
  ) {}

  subscribe(key: string, res: ServerResponse, first: Snapshot): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(`retry: 3000\n`);
    const body = JSON.stringify(first.data);
    res.write(`event: run\ndata: ${body}\n\n`);
    if (first.done) {
      res.end("event: end\ndata: {}\n\n");
      return;
    }
    let ch = this.channels.get(key);
    if (!ch) {
      const channel: Channel = { clients: new Set(), last: body, busy: false, timer: setInterval(() => void this.tick(key, channel), this.pollMs) };
      this.channels.set(key, channel);
      ch = channel;
    }
    ch.clients.add(res);
    const heartbeat = setInterval(() => res.write(": ping\n\n"), this.heartbeatMs);
    const channel = ch;
    res.on("close", () => {
      clearInterval(heartbeat);
      channel.clients.delete(res);
      if (channel.clients.size === 0) this.stop(key, channel);
    });
  }

  private async tick(key: string, ch: Channel): Promise<void> {
    if (ch.busy) return; // a slow read never piles up behind itself
    ch.busy = true;
    try {
      const snap = await this.load(key);
      const body = JSON.stringify(snap.data);
      if (body !== ch.last) {
        ch.last = body;
        const msg = `event: run\ndata: ${body}\n\n`;
        for (const c of ch.clients) c.write(msg);
      }
      if (snap.done) {
        for (const c of ch.clients) c.end("event: end\ndata: {}\n\n");
        this.stop(key, ch);
      }
    } catch {
      // The row vanished or the database blinked: clients keep the last view and EventSource retries.
      for (const c of ch.clients) c.end();
      this.stop(key, ch);
    } finally {
      ch.busy = false;
    }
  }

  private stop(key: string, ch: Channel): void {
    clearInterval(ch.timer);
    if (this.channels.get(key) === ch) this.channels.delete(key);
  }

  closeAll(): void {
    for (const [key, ch] of this.channels) {
      for (const c of ch.clients) c.end();
      this.stop(key, ch);
    }
  }
}
