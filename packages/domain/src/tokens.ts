import { randomBytes } from "node:crypto";
import { sha256Hex } from "./hash.js";

/** API token scopes. `admin` implies `write`, which implies `read`. */
export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

const RANK: Record<Scope, number> = { read: 0, write: 1, admin: 2 };

export function scopeAllows(granted: readonly Scope[], needed: Scope): boolean {
  return granted.some((s) => RANK[s] >= RANK[needed]);
}

/** Tokens look like `tm_<43 base64url chars>`; only their sha256 is stored. */
export function newApiToken(): { token: string; prefix: string; hash: string } {
  const token = `tm_${randomBytes(32).toString("base64url")}`;
  return { token, prefix: token.slice(0, 10), hash: hashApiToken(token) };
}

export function hashApiToken(token: string): string {
  return sha256Hex(token);
}
