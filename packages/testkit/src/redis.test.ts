import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { testRedis } from "./redis.js";

const outsider = new Redis(testRedis().connection);
afterAll(() => outsider.disconnect());

describe("testRedis", () => {
  it("gives each call a unique prefix", () => {
    const prefixes = new Set(Array.from({ length: 50 }, () => testRedis().prefix));
    expect(prefixes.size).toBe(50);
  });

  it("cleanup deletes the keys under its prefix and nothing else", async () => {
    const mine = testRedis();
    const theirs = testRedis();
    const client = mine.createClient();
    for (let i = 0; i < 2500; i++) await client.set(`${mine.prefix}:k${i}`, "1");
    await client.hset(`${mine.prefix}:queue:meta`, "x", "1");
    await outsider.set(`${theirs.prefix}:keep`, "1");

    await mine.cleanup();

    expect(await outsider.keys(`${mine.prefix}*`)).toEqual([]);
    expect(await outsider.get(`${theirs.prefix}:keep`)).toBe("1");
    expect(client.status).toBe("end");
    await theirs.cleanup();
    expect(await outsider.exists(`${theirs.prefix}:keep`)).toBe(0);
  });
});
