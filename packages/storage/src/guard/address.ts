import { isIP } from "node:net";

/**
 * Classifies IP addresses for the source guard. Pure functions: no DNS, no sockets, so every case
 * (including addresses no test may ever send a packet to) is covered by unit tests alone.
 *
 * Only `public` addresses may be fetched without an allowlist entry. IPv6 is public only inside
 * 2000::/3 (global unicast), and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64,
 * 6to4) are classified by that IPv4 address, so `::ffff:127.0.0.1` is loopback.
 */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "cgnat"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "reserved";

/** An address as 4 (IPv4) or 16 (IPv6) bytes. */
export type IpBytes = Uint8Array;

/** [network, prefix length, class] for IPv4, most specific first where ranges nest. */
const V4_RANGES: [string, number, AddressClass][] = [
  ["255.255.255.255", 32, "broadcast"],
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "cgnat"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"], // IETF protocol assignments
  ["192.0.2.0", 24, "reserved"], // documentation
  ["192.88.99.0", 24, "reserved"], // 6to4 relay anycast
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"], // benchmarking
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

/**
 * Parses an IP literal: dotted-quad IPv4, or IPv6 (with or without brackets, with an optional zone
 * `%eth0`, with an embedded dotted IPv4 tail). Integer, octal and hex IPv4 forms (`2130706433`,
 * `0x7f.1`) are not addresses here: URL hosts reach the guard already normalized by the WHATWG URL
 * parser (see normalizeHost). Returns null for anything else.
 */
export function parseIp(text: string): IpBytes | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0 && s.includes(":")) s = s.slice(0, zone);
  const kind = isIP(s);
  if (kind === 4) return Uint8Array.from(s.split(".").map(Number));
  if (kind === 6) return parseV6(s);
  return null;
}

function parseV6(s: string): IpBytes {
  const out = new Uint8Array(16);
  let tail: number[] = [];
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail = text.slice(lastColon + 1).split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`; // two placeholder groups, replaced below
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (g: string | undefined) => (g ? g.split(":").map((h) => parseInt(h, 16)) : []);
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/**
 * A URL host as the guard compares it: lower case, without IPv6 brackets, and IPv4 in dotted form
 * however it was written (`2130706433`, `0177.0.0.1`, `0x7f.1` → `127.0.0.1`), exactly as fetch and
 * every WHATWG URL parser would connect to it.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.includes(":") && !h.startsWith("[")) h = `[${h.replace(/%.*$/, "")}]`;
  try {
    h = new URL(`http://${h}/`).hostname;
  } catch {
    // not a valid host at all: compared as written, and never an address
  }
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

export function classifyAddress(ip: string | IpBytes): AddressClass {
  const bytes = typeof ip === "string" ? parseIp(ip) : ip;
  if (!bytes) return "reserved";
  return bytes.length === 4 ? classifyV4(bytes) : classifyV6(bytes);
}

function classifyV4(b: IpBytes): AddressClass {
  for (const [net, len, cls] of V4_RANGES) {
    if (prefixMatch(b, parseIp(net) as IpBytes, len)) return cls;
  }
  return "public";
}

function classifyV6(b: IpBytes): AddressClass {
  const v6 = (text: string) => parseIp(text) as IpBytes;
  if (b.every((x) => x === 0)) return "unspecified";
  if (prefixMatch(b, v6("::1"), 128)) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96, 64:ff9b:1::/48):
  // the packet goes to the embedded IPv4 address, so that is what counts.
  if (prefixMatch(b, v6("::ffff:0:0"), 96) || prefixMatch(b, v6("::"), 96) || prefixMatch(b, v6("64:ff9b::"), 96)) {
    return classifyV4(b.subarray(12));
  }
  if (prefixMatch(b, v6("64:ff9b:1::"), 48)) return classifyV4(b.subarray(12));
  if (prefixMatch(b, v6("2002::"), 16)) return classifyV4(b.subarray(2, 6)); // 6to4
  if (prefixMatch(b, v6("fc00::"), 7)) return "private";
  if (prefixMatch(b, v6("fec0::"), 10)) return "private"; // deprecated site-local
  if (prefixMatch(b, v6("fe80::"), 10)) return "link-local";
  if (prefixMatch(b, v6("ff00::"), 8)) return "multicast";
  if (prefixMatch(b, v6("2001::"), 32)) return "reserved"; // Teredo: tunnels to an arbitrary IPv4
  if (prefixMatch(b, v6("2001:db8::"), 32)) return "reserved"; // documentation
  if (prefixMatch(b, v6("2000::"), 3)) return "public";
  return "reserved";
}

export interface Cidr {
  bytes: IpBytes;
  prefix: number;
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128); null when not one. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.lastIndexOf("/");
  const bytes = parseIp(slash >= 0 ? text.slice(0, slash) : text);
  if (!bytes) return null;
  const max = bytes.length * 8;
  const prefix = slash >= 0 ? Number(text.slice(slash + 1)) : max;
  if (!/^\d+$/.test(slash >= 0 ? text.slice(slash + 1) : String(max)) || prefix > max) return null;
  return { bytes, prefix };
}

/** Whether an address is inside a CIDR; IPv4-mapped IPv6 addresses match IPv4 ranges. */
export function inCidr(ip: string | IpBytes, cidr: Cidr): boolean {
  let bytes = typeof ip === "string" ? parseIp(ip) : ip;
  if (!bytes) return false;
  if (bytes.length === 16 && cidr.bytes.length === 4 && bytes.subarray(0, 12).every((x, i) => x === (i < 10 ? 0 : 0xff))) {
    bytes = bytes.subarray(12);
  }
  return bytes.length === cidr.bytes.length && prefixMatch(bytes, cidr.bytes, cidr.prefix);
}

function prefixMatch(a: IpBytes, net: IpBytes, len: number): boolean {
  if (a.length !== net.length) return false;
  for (let bit = 0; bit < len; bit += 8) {
    const take = Math.min(8, len - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((a[bit / 8] as number) & mask) !== ((net[bit / 8] as number) & mask)) return false;
  }
  return true;
}
