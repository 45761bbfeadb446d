import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import fp from "fastify-plugin";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { TokenmillError } from "@tokenmill/domain";
import { redactUrl } from "./logging.js";

/** Longest message a 4xx carries: an error names what is wrong, it never echoes a large input back. */
export const MAX_MESSAGE = 300;
/** Longest request target accepted (the path and query); longer ones are answered 414. */
export const MAX_URL = 8192;

export interface ErrorPayload {
  error: string;
  message: string;
  field: string;
}

export function errorBody(error: string, message: string, field: string): ErrorPayload {
  return { error, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message, field };
}

const contexts: Record<string, string> = { querystring: "query", body: "body", params: "params", headers: "headers" };

/** Fastify's own 4xx (content-type parsing, body size, poisoned JSON) as stable codes and fields. */
function frameworkFault(err: FastifyError): { error: string; field: string } {
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { error: "unsupported_media_type", field: "headers.content-type" };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { error: "bad_request", field: "headers.content-length" };
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { error: "body_too_large", field: "body" };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { error: "invalid_json", field: "body" };
    default:
      // JSON.parse errors and secure-json-parse's __proto__ / constructor.prototype refusals carry no code.
      return err instanceof SyntaxError ? { error: "invalid_json", field: "body" } : { error: "bad_request", field: "request" };
  }
}

/** Where an error points when its thrower named nothing: the resource's id for a missing or conflicting one. */
function defaultField(status: number, req: FastifyRequest): string {
  if (status === 401 || status === 403) return "headers.authorization";
  if (status === 400 || status === 422) return "body";
  return (req.params as { id?: unknown } | undefined)?.id !== undefined ? "params.id" : "url";
}

/** Errors Fastify raises while routing, before any hook: a malformed %-escape, an over-long parameter. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  const status = err.code === "FST_ERR_MAX_PARAM_LENGTH" ? 414 : 400;
  void reply.status(status).send(errorBody(status === 414 ? "uri_too_long" : "bad_url", err.message, "url"));
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers or request line over
 * --max-http-header-size, malformed requests): answered in the same JSON shape, then the socket closes.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, body] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, errorBody("headers_too_large", "the request line and headers exceed the server's limit", "headers")]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, errorBody("request_timeout", "the request was not received in time", "request")]
        : [400, errorBody("bad_request", "malformed HTTP request", "request")];
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}

/**
 * The one place errors become HTTP responses: typed domain errors map to their 4xx, request
 * validation to 400 naming the field, and anything unexpected to a 500 whose details stay in the log.
 * Every 4xx is `{error, message, field}`.
 */
export const errorsPlugin = fp(
  async (app) => {
    app.addHook("onRequest", async (req, reply) => {
      if (req.url.length > MAX_URL) return reply.status(414).send(errorBody("uri_too_long", `the request target exceeds ${MAX_URL} characters`, "url"));
    });
    app.setErrorHandler((err: FastifyError & { field?: string }, req, reply) => {
      if (err instanceof TokenmillError) {
        const field = (err as { field?: string }).field ?? defaultField(err.statusCode, req);
        return reply.status(err.statusCode).send(errorBody(err.code, err.message, field));
      }
      if (err.validation) {
        const first = err.validation[0];
        const where = contexts[err.validationContext ?? "body"] ?? "body";
        const path = first?.instancePath ? first.instancePath.replace(/^\//, "").replaceAll("/", ".") : "";
        const params = (first?.params ?? {}) as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
        const key = params.missingProperty ?? params.additionalProperty;
        const field = [where, path, key].filter(Boolean).join(".");
        let message = first?.message ?? "invalid";
        if (params.additionalProperty) message = "is not a known property";
        if (params.allowedValues) message += `: ${params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
        return reply.status(400).send(errorBody("validation_error", `${field}: ${message}`, field));
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        const { error, field } = frameworkFault(err);
        return reply.status(status).send(errorBody(error, err.message, field));
      }
      req.log.error({ err }, "unhandled error");
      return reply.status(500).send({ error: "internal_error", message: "internal error" });
    });
    app.setNotFoundHandler((req, reply) => {
      reply.status(404).send(errorBody("not_found", `no route ${req.method} ${redactUrl(req.url.split("?")[0] ?? "")}`, "url"));
    });
  },
  { name: "errors" },
);
