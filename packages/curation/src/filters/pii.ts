import { isIPv6 } from "node:net";

/** datatrove PIIFormatter's e-mail pattern (formatters/pii.py), unchanged. */
const EMAIL =
  /\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)])/g;
/** datatrove PIIFormatter's IPv4 pattern, unchanged (no word boundaries, as there). */
const IPV4 = /(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)/g;
/**
 * IPv6 candidates (datatrove has no IPv6 rule): a run of hex digits and colons with at least two
 * colons, optionally ending in a dotted IPv4, not inside a longer hex/colon word. Each candidate is
 * then checked with node:net isIPv6, so times like 12:30:45 are left alone.
 */
const IPV6 = /(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![0-9A-Fa-f:])/g;

/** datatrove's default replacements, used in turn (restarting at each document, see README). */
export const EMAIL_REPLACEMENTS = ["email@example.com", "firstname.lastname@example.org"];
export const IPV4_REPLACEMENTS = ["22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168"];
export const IPV6_REPLACEMENTS = ["2001:db8::1"];

export interface PiiOptions {
  emails: boolean;
  ipv4: boolean;
  ipv6: boolean;
  only_public_ips: boolean;
}

export interface PiiResult {
  text: string;
  emails: number;
  ipv4: number;
  ipv6: number;
}

export function maskPii(text: string, o: PiiOptions): PiiResult {
  const r: PiiResult = { text, emails: 0, ipv4: 0, ipv6: 0 };
  // Cheap guards first: most documents have no '@', or no dotted/colon number at all.
  if (o.emails && text.includes("@")) {
    let i = 0;
    r.text = r.text.replace(EMAIL, () => {
      r.emails++;
      return EMAIL_REPLACEMENTS[i++ % EMAIL_REPLACEMENTS.length]!;
    });
  }
  if (o.ipv4 && r.text.includes(".")) {
    let i = 0;
    r.text = r.text.replace(IPV4, (m) => {
      if (!validIPv4(m, o.only_public_ips)) return m;
      r.ipv4++;
      return IPV4_REPLACEMENTS[i++ % IPV4_REPLACEMENTS.length]!;
    });
  }
  if (o.ipv6 && r.text.includes(":")) {
    r.text = r.text.replace(IPV6, (m) => {
      if (!isIPv6(m) || (o.only_public_ips && !isGlobalIPv6(m))) return m;
      r.ipv6++;
      return IPV6_REPLACEMENTS[0]!;
    });
  }
  return r;
}

/** Python `ipaddress.ip_address(s)` accepts it (no leading zeros) and, if asked, `.is_global`. */
export function validIPv4(s: string, publicOnly: boolean): boolean {
  const parts = s.split(".");
  if (parts.some((p) => p.length > 1 && p[0] === "0")) return false;
  if (!publicOnly) return true;
  const [a, b, c] = parts.map(Number) as [number, number, number, number];
  return isGlobalIPv4(a, b, c, Number(parts[3]));
}

/** Python 3.11 `IPv4Address.is_global`: not in 100.64.0.0/10 and not `is_private`. */
function isGlobalIPv4(a: number, b: number, c: number, d: number): boolean {
  if (a === 100 && b >= 64 && b <= 127) return false;
  if (a === 0 || a === 10 || a === 127) return false;
  if (a === 169 && b === 254) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 0 && c === 0 && (d <= 7 || d === 170 || d === 171)) return false;
  if (a === 192 && b === 0 && c === 2) return false;
  if (a === 192 && b === 168) return false;
  if (a === 198 && (b === 18 || b === 19)) return false;
  if (a === 198 && b === 51 && c === 100) return false;
  if (a === 203 && b === 0 && c === 113) return false;
  if (a >= 240) return false;
  return true;
}

/** Approximates Python's `IPv6Address.is_global` for the common non-global ranges. */
function isGlobalIPv6(s: string): boolean {
  const x = expandIPv6(s);
  if (x === null) return false;
  const first = x[0]!;
  if (x.every((h) => h === 0)) return false; // ::
  if (x.slice(0, 7).every((h) => h === 0) && x[7] === 1) return false; // ::1
  if ((first & 0xfe00) === 0xfc00) return false; // fc00::/7 unique local
  if ((first & 0xffc0) === 0xfe80) return false; // fe80::/10 link local
  if ((first & 0xffc0) === 0xfec0) return false; // fec0::/10 site local
  if (first === 0x2001 && x[1] === 0x0db8) return false; // documentation
  if (x.slice(0, 5).every((h) => h === 0) && x[5] === 0xffff) return false; // IPv4-mapped
  if ((first & 0xff00) === 0xff00) return true; // multicast is global in Python 3.11
  return true;
}

function expandIPv6(s: string): number[] | null {
  let t = s;
  const tail: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    t = t.slice(0, v4.index) + "0";
    t = t.endsWith(":0") ? t.slice(0, -2) : t;
  }
  const [head, rest] = t.split("::") as [string, string | undefined];
  const h = head ? head.split(":").map((p) => parseInt(p, 16)) : [];
  const r = rest !== undefined && rest !== "" ? rest.split(":").map((p) => parseInt(p, 16)) : [];
  if (rest === undefined) {
    const all = [...h, ...tail];
    return all.length === 8 ? all : null;
  }
  const fill = 8 - h.length - r.length - tail.length;
  if (fill < 0) return null;
  return [...h, ...new Array<number>(fill).fill(0), ...r, ...tail];
}
