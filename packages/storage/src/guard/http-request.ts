import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { UnreachableError, ValidationError } from "@tokenmill/domain";
import { normalizeHost, parseIp } from "./address.js";
import { addressAllowed, type SourcePolicy } from "./policy.js";

/** All a user learns when a connection is refused by the guard or fails in any way. */
export const NOT_REACHABLE = "source not reachable or not allowed";

const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Once headers arrived, the body may stall this long between chunks (as undici's body timeout). */
const BODY_IDLE_MS = 300_000;

export interface GuardedResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface GuardedRequestOptions {
  policy: SourcePolicy;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Server-side detail of a failure (debug level; never shown to the user). */
  onDetail?: (detail: string) => void;
}

/**
 * GET/HEAD with redirects followed, every hop through the guard: the URL's host is checked as
 * written (an address literal) and every address it resolves to is checked when the socket
 * connects (a custom `lookup`), so neither a redirect to an internal host nor DNS rebinding gets
 * through. No agent is shared: a kept-alive socket checked under another policy is never reused.
 * Connection failures of any kind (refused by the guard, refused, reset, timed out) give the one
 * message NOT_REACHABLE, so the guard cannot be used as a port scanner.
 */
export async function guardedRequest(uri: string, method: "GET" | "HEAD", o: GuardedRequestOptions): Promise<GuardedResponse> {
  let url = parseHttpUrl(uri, uri, o.policy);
  let verb = method;
  for (let hop = 0; ; hop++) {
    const res = await requestOnce(uri, url, verb, o);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.status) || !location) return res;
    res.body.resume();
    if (hop >= MAX_REDIRECTS) {
      o.onDetail?.(`more than ${MAX_REDIRECTS} redirects`);
      throw new UnreachableError(uri, NOT_REACHABLE);
    }
    try {
      // A redirect's target is the server's choice, not the user's: refused like a failed connection.
      url = parseHttpUrl(new URL(location, url).href, uri, o.policy);
    } catch (err) {
      o.onDetail?.(`redirect to ${location} refused: ${(err as Error).message}`);
      throw new UnreachableError(uri, NOT_REACHABLE);
    }
    if (res.status === 303 && verb !== "HEAD") verb = "GET";
  }
}

/** An http(s) URL whose host, when an address literal, is allowed; ValidationError otherwise. */
export function parseHttpUrl(href: string, uri: string, policy?: SourcePolicy): URL {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw new ValidationError(`not a valid URL: ${uri}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ValidationError(`${uri}: only http(s) URLs may be fetched`);
  if (url.username || url.password) throw new ValidationError(`${uri}: credentials in source URLs are not accepted`);
  if (policy) checkLiteralHost(url, uri, policy);
  return url;
}

/**
 * A host written as an address (`127.0.0.1`, `2130706433`, `[::ffff:7f00:1]`) is known without DNS:
 * refuse it at once, as a ValidationError (the answer depends only on the URL, not on the network).
 */
export function checkLiteralHost(url: URL, uri: string, policy: SourcePolicy): void {
  const host = normalizeHost(url.hostname);
  if (parseIp(host) && !addressAllowed(policy, host, host)) {
    throw new ValidationError(`${uri}: the host is a loopback, private or reserved address not allowed by HTTP_SOURCE_ALLOW`);
  }
}

function requestOnce(uri: string, url: URL, method: string, o: GuardedRequestOptions): Promise<GuardedResponse> {
  const host = normalizeHost(url.hostname);
  return new Promise<GuardedResponse>((resolvePromise, reject) => {
    const fail = (detail: string) => {
      o.onDetail?.(`${url.protocol}//${url.host}: ${detail}`);
      reject(new UnreachableError(uri, NOT_REACHABLE));
    };
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(url, {
      method,
      agent: false,
      // identity: sizes and byte ranges must be of the stored bytes.
      headers: { "Accept-Encoding": "identity", ...o.headers },
      lookup: guardedLookup(o.policy, host),
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${o.timeoutMs} ms waiting for a response`)), o.timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      fail((err as Error).message);
    });
    req.on("response", (res) => {
      clearTimeout(timer);
      res.setTimeout(BODY_IDLE_MS, () => res.destroy(new Error(`no data for ${BODY_IDLE_MS} ms`)));
      resolvePromise({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", headers: res.headers, body: res });
    });
    req.end();
  });
}

/** DNS lookup that fails unless every address the name resolves to is allowed. */
function guardedLookup(policy: SourcePolicy, host: string): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      const refused = addresses.find((a) => !addressAllowed(policy, host, a.address));
      if (refused || addresses.length === 0) {
        const e = Object.assign(new Error(`${hostname} resolves to ${refused?.address ?? "nothing"}, not allowed by HTTP_SOURCE_ALLOW`), { code: "ENOTALLOWED" });
        return callback(e, "", 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
