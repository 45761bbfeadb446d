import { pino, type DestinationStream, type Logger } from "pino";

/**
 * Query parameters whose value is a credential: event-stream tickets (good for 60 s), tokens passed in
 * a URL, and anything named like a secret. Their values never reach a log line.
 */
const SECRET_PARAM = /^(ticket|token|access_token|api_key|apikey|key|secret|password|passwd|signature|sig|auth|authorization|session)$|token|secret|password|signature/i;

/** `url` with every secret-looking query value replaced by `[REDACTED]` (the rest left as sent). */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replaceAll("+", " "));
      } catch {
        // A malformed escape stays as sent; the name is still checked.
      }
      return eq >= 0 && SECRET_PARAM.test(name) ? `${rawName}=[REDACTED]` : pair;
    })
    .join("&");
  return `${url.slice(0, q)}?${query}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Fastify's request serializer, with secrets taken out of the URL. Headers are not logged at all. */
export const serializers = {
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
  res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
  err: pino.stdSerializers.err,
};

/**
 * The API's logger: the redacting serializers, plus pino redaction of credential-bearing paths in case
 * a request's headers or a config object are ever logged whole.
 */
export function createApiLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      name: "api",
      serializers,
      redact: {
        paths: ["req.headers.authorization", "req.headers.cookie", "headers.authorization", "authorization", "databaseUrl", "redisUrl", "*.secretAccessKey", "*.accessKeyId", "token", "ticket"],
        censor: "[REDACTED]",
      },
    },
    destination,
  );
}
