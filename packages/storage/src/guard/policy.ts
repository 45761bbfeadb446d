import { delimiter, isAbsolute, resolve } from "node:path";
import { type Env, ValidationError } from "@tokenmill/domain";
import { classifyAddress, inCidr, normalizeHost, parseCidr, parseIp } from "./address.js";

/**
 * What a deployable may read on a user's behalf. The service reads nothing of its own disk or
 * network unless an operator named it here; the store (STORE_URI) is the operator's own setting
 * and is never guarded.
 */
export interface SourcePolicy {
  /** Folders `file://` sources and file-naming pipeline parameters must lie in (after symlinks). Empty: none. */
  fileRoots: string[];
  /**
   * Host names or CIDRs (`127.0.0.1`, `10.0.0.0/8`, `::1`, `data.internal`) that http(s) sources may
   * reach even though they resolve to loopback, private, link-local, CGNAT, multicast, unspecified
   * or reserved addresses. Public addresses need no entry.
   */
  httpAllow: string[];
  /** Buckets `s3://` sources may name; undefined or empty: any bucket the S3 credentials can read. */
  s3Buckets?: string[];
}

/** The service's default: no `file://`, no non-public addresses, any bucket. */
export const DEFAULT_SOURCE_POLICY: SourcePolicy = Object.freeze({ fileRoots: [], httpAllow: [] }) as SourcePolicy;

/**
 * For the CLI's local mode only: it runs as the user, with the user's own permissions, so it may
 * read whatever the user can (the whole disk, any address).
 */
export const LOCAL_SOURCE_POLICY: SourcePolicy = Object.freeze({ fileRoots: ["/"], httpAllow: ["0.0.0.0/0", "::/0"] }) as SourcePolicy;

/**
 * FILE_SOURCE_ROOTS (path-delimited, `:` on POSIX; relative entries resolve from `cwd`),
 * HTTP_SOURCE_ALLOW (comma-separated host names and CIDRs), S3_SOURCE_BUCKETS (comma-separated).
 * A malformed entry stops start-up with a ValidationError naming the variable.
 */
export function sourcePolicyFromEnv(env: Env, cwd: string): SourcePolicy {
  const list = (raw: string | undefined, sep: string) =>
    (raw ?? "")
      .split(sep)
      .map((s) => s.trim())
      .filter(Boolean);
  const fileRoots = list(env.FILE_SOURCE_ROOTS, delimiter).map((p) => (isAbsolute(p) ? resolve(p) : resolve(cwd, p)));
  const httpAllow = list(env.HTTP_SOURCE_ALLOW, ",").map((entry) => {
    if (entry.includes("/") || parseIp(entry)) {
      if (!parseCidr(entry)) throw new ValidationError(`not an address or CIDR: "${entry}"`, "HTTP_SOURCE_ALLOW");
      return entry;
    }
    if (!/^[a-z0-9.-]+$/i.test(entry)) throw new ValidationError(`not a host name, address or CIDR: "${entry}"`, "HTTP_SOURCE_ALLOW");
    return entry.toLowerCase();
  });
  const s3Buckets = list(env.S3_SOURCE_BUCKETS, ",");
  return { fileRoots, httpAllow, ...(s3Buckets.length > 0 ? { s3Buckets } : {}) };
}

/** Whether the allowlist names this host (by name, or by an address/CIDR matching a literal host). */
export function hostAllowed(policy: SourcePolicy, host: string): boolean {
  const h = normalizeHost(host);
  return policy.httpAllow.some((entry) => entry.toLowerCase() === h);
}

/** Whether a connection to `address` (resolved from `host`) is allowed. */
export function addressAllowed(policy: SourcePolicy, host: string, address: string): boolean {
  if (hostAllowed(policy, host)) return true;
  for (const entry of policy.httpAllow) {
    const cidr = parseCidr(entry);
    if (cidr && inCidr(address, cidr)) return true;
  }
  return classifyAddress(address) === "public";
}

/** s3:// buckets outside S3_SOURCE_BUCKETS (when set) are refused before any request. */
export function checkS3Bucket(policy: SourcePolicy, uri: string, bucket: string): void {
  if (policy.s3Buckets && policy.s3Buckets.length > 0 && !policy.s3Buckets.includes(bucket)) {
    throw new ValidationError(`${uri}: s3 sources are limited to the configured buckets (S3_SOURCE_BUCKETS)`);
  }
}
