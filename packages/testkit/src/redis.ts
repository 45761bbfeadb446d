// Isolation on the shared Redis: every test gets its own key prefix, used as BullMQ's `prefix`
// (or ioredis' keyPrefix), and cleanup() deletes exactly the keys under it.
import { randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";

export interface TestRedis {
  /** redis:// URL of the server. */
  url: string;
  /** Options for `new Redis(connection)` and BullMQ's `connection` (maxRetriesPerRequest: null, as BullMQ workers require). */
  connection: RedisOptions & { host: string; port: number; maxRetriesPerRequest: null };
  /** Unique per call, e.g. `tmtest:3f9a0c1d2e4b5a6c`; pass as BullMQ's `prefix`. */
  prefix: string;
  /** A new client on `connection`, closed by cleanup(). */
  createClient(): Redis;
  /** Deletes every key starting with `prefix` and closes the clients made by createClient(). */
  cleanup(): Promise<void>;
}

/** The Redis server tests use: TEST_REDIS_URL, else REDIS_URL, else the local server. */
export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

export function testRedis(url: string = testRedisUrl()): TestRedis {
  const u = new URL(url);
  const connection = {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
  const prefix = `tmtest:${randomBytes(8).toString("hex")}`;
  const clients: Redis[] = [];
  return {
    url,
    connection,
    prefix,
    createClient() {
      const client = new Redis(connection);
      clients.push(client);
      return client;
    },
    async cleanup() {
      const redis = new Redis({ ...connection, maxRetriesPerRequest: 3 });
      try {
        await deleteByPrefix(redis, prefix);
      } finally {
        await Promise.all([redis, ...clients.splice(0)].map(close));
      }
    },
  };
}

/** Deletes keys starting with `prefix` (which must contain no glob characters). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  if (/[*?[\]\\]/.test(prefix)) throw new Error(`prefix must not contain glob characters: ${prefix}`);
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}

async function close(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect(); // not connected, or the server is gone
  }
}
