import { describe, expect, it } from "vitest";
import { type AddressClass, classifyAddress, inCidr, normalizeHost, parseCidr, parseIp } from "./address.js";
import { addressAllowed, sourcePolicyFromEnv } from "./policy.js";

/**
 * Pure unit tests: addresses here are only parsed and classified, never connected to. Each row is
 * [host as a URL or resolver may give it, expected class]; every non-public row is one SSRF case the
 * guard refuses without an allowlist entry.
 */
const TABLE: [string, AddressClass][] = [
  // loopback, in every spelling a URL parser accepts
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["2130706433", "loopback"], // decimal integer
  ["0x7f000001", "loopback"], // hex integer
  ["0177.0.0.1", "loopback"], // octal
  ["0x7f.1", "loopback"], // short form with hex
  ["127.1", "loopback"],
  ["::1", "loopback"],
  ["[::1]", "loopback"],
  ["0:0:0:0:0:0:0:1", "loopback"],
  ["::ffff:127.0.0.1", "loopback"], // IPv4-mapped
  ["[::ffff:7f00:1]", "loopback"], // IPv4-mapped as the URL parser writes it
  ["::127.0.0.1", "loopback"], // IPv4-compatible
  ["64:ff9b::127.0.0.1", "loopback"], // NAT64
  ["2002:7f00:1::", "loopback"], // 6to4 of 127.0.0.1
  // unspecified
  ["0.0.0.0", "unspecified"],
  ["0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["::", "unspecified"],
  ["::ffff:0.0.0.0", "unspecified"],
  // private
  ["10.0.0.1", "private"],
  ["10.255.255.255", "private"],
  ["167772161", "private"], // 10.0.0.1 as an integer
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["::ffff:192.168.1.1", "private"],
  ["::ffff:a00:1", "private"],
  ["fc00::1", "private"],
  ["fd12:3456::1", "private"],
  ["fec0::1", "private"],
  // link-local (cloud metadata lives here)
  ["169.254.169.254", "link-local"],
  ["169.254.0.1", "link-local"],
  ["::ffff:169.254.169.254", "link-local"],
  ["fe80::1", "link-local"],
  ["fe80::1%eth0", "link-local"],
  ["febf::1", "link-local"],
  // CGNAT
  ["100.64.0.1", "cgnat"],
  ["100.127.255.255", "cgnat"],
  // multicast
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["ff02::1", "multicast"],
  ["ff05::2", "multicast"],
  // broadcast and reserved
  ["255.255.255.255", "broadcast"],
  ["4294967295", "broadcast"],
  ["240.0.0.1", "reserved"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "reserved"],
  ["198.18.0.1", "reserved"],
  ["198.51.100.7", "reserved"],
  ["203.0.113.9", "reserved"],
  ["2001:db8::1", "reserved"],
  ["2001::1", "reserved"], // Teredo
  ["100::1", "reserved"], // discard prefix, outside 2000::/3
  // public (the only class reachable without an allowlist entry)
  ["8.8.8.8", "public"],
  ["1.1.1.1", "public"],
  ["100.63.255.255", "public"], // just below CGNAT
  ["100.128.0.0", "public"], // just above CGNAT
  ["172.15.255.255", "public"], // just below 172.16/12
  ["172.32.0.0", "public"], // just above
  ["169.253.255.255", "public"],
  ["11.0.0.1", "public"],
  ["223.255.255.255", "public"],
  ["::ffff:8.8.8.8", "public"],
  ["2606:4700:4700::1111", "public"],
  ["2a00:1450::1", "public"],
];

describe("classifyAddress", () => {
  it.each(TABLE)("%s is %s", (host, cls) => {
    expect(classifyAddress(normalizeHost(host))).toBe(cls);
  });

  it("counts its refused cases", () => {
    // Reported as a figure: how many distinct address spellings the guard refuses by default.
    expect(TABLE.filter(([, c]) => c !== "public").length).toBe(54);
  });

  it("treats anything that is not an address as reserved, never public", () => {
    expect(parseIp("example.com")).toBeNull();
    expect(parseIp("1.2.3")).toBeNull();
    expect(classifyAddress("not-an-ip")).toBe("reserved");
    expect(classifyAddress("")).toBe("reserved");
  });

  it("normalizes hosts the way the URL parser connects to them", () => {
    expect(new URL("http://2130706433:8080/x").hostname).toBe("127.0.0.1");
    expect(normalizeHost("2130706433")).toBe("127.0.0.1");
    expect(normalizeHost("[::ffff:127.0.0.1]")).toBe("::ffff:7f00:1");
    expect(normalizeHost("LOCALHOST")).toBe("localhost");
  });
});

describe("CIDR allowlists", () => {
  it("parses addresses and CIDRs and matches on prefix boundaries", () => {
    expect(parseCidr("10.0.0.0/8")).not.toBeNull();
    expect(parseCidr("10.0.0.0/33")).toBeNull();
    expect(parseCidr("10.0.0.0/x")).toBeNull();
    expect(parseCidr("fd00::/8")).not.toBeNull();
    const ten = parseCidr("10.0.0.0/8")!;
    expect(inCidr("10.1.2.3", ten)).toBe(true);
    expect(inCidr("11.0.0.0", ten)).toBe(false);
    expect(inCidr("::ffff:10.1.2.3", ten)).toBe(true); // the mapped form cannot sidestep a v4 entry
    expect(inCidr("127.0.0.2", parseCidr("127.0.0.1")!)).toBe(false);
    expect(inCidr("fd00::5", parseCidr("fd00::/8")!)).toBe(true);
    expect(inCidr("fe00::5", parseCidr("fd00::/8")!)).toBe(false);
  });

  it("allows a non-public address only when a host name or CIDR entry names it", () => {
    const none = { fileRoots: [], httpAllow: [] };
    expect(addressAllowed(none, "localhost", "127.0.0.1")).toBe(false);
    expect(addressAllowed(none, "example.org", "93.184.215.14")).toBe(true);
    expect(addressAllowed({ fileRoots: [], httpAllow: ["127.0.0.1"] }, "localhost", "127.0.0.1")).toBe(true);
    expect(addressAllowed({ fileRoots: [], httpAllow: ["127.0.0.0/8"] }, "x", "127.9.9.9")).toBe(true);
    expect(addressAllowed({ fileRoots: [], httpAllow: ["127.0.0.1"] }, "x", "127.0.0.2")).toBe(false);
    expect(addressAllowed({ fileRoots: [], httpAllow: ["data.internal"] }, "data.internal", "10.0.0.5")).toBe(true);
    expect(addressAllowed({ fileRoots: [], httpAllow: ["data.internal"] }, "other.internal", "10.0.0.5")).toBe(false);
  });
});

describe("sourcePolicyFromEnv", () => {
  it("reads roots, allowlist and buckets, and refuses malformed entries naming the variable", () => {
    const p = sourcePolicyFromEnv({ FILE_SOURCE_ROOTS: "data:/srv/corpus", HTTP_SOURCE_ALLOW: "127.0.0.1, 10.0.0.0/8,Data.Internal", S3_SOURCE_BUCKETS: "a,b" }, "/repo");
    expect(p).toEqual({ fileRoots: ["/repo/data", "/srv/corpus"], httpAllow: ["127.0.0.1", "10.0.0.0/8", "data.internal"], s3Buckets: ["a", "b"] });
    expect(sourcePolicyFromEnv({}, "/repo")).toEqual({ fileRoots: [], httpAllow: [] });
    expect(() => sourcePolicyFromEnv({ HTTP_SOURCE_ALLOW: "10.0.0.0/99" }, "/")).toThrow(/HTTP_SOURCE_ALLOW/);
    expect(() => sourcePolicyFromEnv({ HTTP_SOURCE_ALLOW: "http://x/" }, "/")).toThrow(/HTTP_SOURCE_ALLOW/);
  });
});
