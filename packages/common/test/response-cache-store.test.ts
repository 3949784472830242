import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  cacheInvalidator,
  createLogger,
  createRedisClient,
  expandTags,
  memoryResponseCacheStore,
  redisConnected,
  redisResponseCacheStore,
  type ResponseCacheStore,
} from "../src/index.ts";

const logger = createLogger("test", "silent");
const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});

const stores: [string, () => Promise<ResponseCacheStore>][] = [
  ["memory", async () => memoryResponseCacheStore()],
  [
    "redis",
    async () => {
      const client = createRedisClient(inject("redisUrl"), { keyPrefix: `${inject("redisPrefix")}store-${randomUUID()}:`, logger, commandTimeoutMs: 1_000 });
      clients.push(client);
      await redisConnected(client, 2_000);
      return redisResponseCacheStore(client, { logger });
    },
  ],
];

const entry = (maxAge = 60) => ({ body: JSON.stringify({ data: { ok: true } }), scope: "PUBLIC" as const, maxAge, storedAt: Date.now() });

describe.each(stores)("the %s response cache store", (_kind, make) => {
  it("stores, finds the first present key, and purges by tag", async () => {
    const store = await make();
    const { seq } = await store.lookup(["a"]);
    expect(await store.store("a", entry(), ["Product:1", "Query.products"], seq)).toBe(true);
    expect(await store.store("b", entry(), ["Product:2"], seq)).toBe(true);
    expect((await store.lookup(["missing", "a"])).hit?.key).toBe("a");
    expect(await store.invalidate(["Product:1"])).toBe(1);
    expect((await store.lookup(["a"])).hit).toBeUndefined();
    expect((await store.lookup(["b"])).hit?.key).toBe("b");
  });

  it("refuses to store when the sequence went backwards (the store lost its data meanwhile)", async () => {
    const store = await make();
    expect(await store.store("z", entry(), ["T"], 1_000_000)).toBe(false);
  });

  it("keeps tag sets to live entries", async () => {
    const store = await make();
    for (let i = 0; i < 5; i++) await store.store(`short-${i}`, entry(1), ["Query.product"], (await store.lookup([])).seq);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await store.store("live", entry(60), ["Query.product"], (await store.lookup([])).seq);
    expect(await store.invalidate(["Query.product"])).toBe(1);
  });

  it("refuses to store what an invalidation overtook, and accepts it again afterwards", async () => {
    const store = await make();
    const { seq } = await store.lookup(["x"]);
    await store.invalidate(["Category:9"]);
    expect(await store.store("x", entry(), ["Category:9"], seq)).toBe(false);
    expect(await store.store("y", entry(), ["Category:10"], seq)).toBe(true);
    const { seq: later } = await store.lookup(["x"]);
    expect(await store.store("x", entry(), ["Category:9"], later)).toBe(true);
  });

  it("an entry expires with its maxAge", async () => {
    const store = await make();
    await store.store("short", entry(1), ["T"], (await store.lookup([])).seq);
    expect((await store.lookup(["short"])).hit).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await store.lookup(["short"])).hit).toBeUndefined();
  });

  it("tells listeners which tags were purged", async () => {
    const store = await make();
    const seen: string[][] = [];
    store.onInvalidate((tags) => seen.push(tags));
    // The Redis listener subscribes on its own connection: purge until it has heard one.
    for (let i = 0; i < 40 && seen.length === 0; i++) {
      await cacheInvalidator(store, logger).invalidate(["Product:5"]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen[0]).toEqual(["Product:5", "Product"]);
    await store.close();
  });
});

it("Redis tag sets hold only live entries, however many have expired", async () => {
  const prefix = `${inject("redisPrefix")}prune-${randomUUID()}:`;
  const client = createRedisClient(inject("redisUrl"), { keyPrefix: prefix, logger, commandTimeoutMs: 1_000 });
  clients.push(client);
  await redisConnected(client, 2_000);
  const store = redisResponseCacheStore(client, { logger });
  for (let i = 0; i < 5; i++) await store.store(`short-${i}`, entry(1), ["Query.product"], (await store.lookup([])).seq);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await store.store("live", entry(60), ["Query.product"], (await store.lookup([])).seq);
  expect(await client.zcard("rc:t:Query.product")).toBe(1);
});

it("a change to one entity also purges responses that showed its type without ids", () => {
  expect(expandTags(["Product:1", "Query.products", "Category:2"])).toEqual(["Product:1", "Product", "Query.products", "Category:2", "Category"]);
});

it("a failing store never fails the write that invalidates", async () => {
  const broken: ResponseCacheStore = {
    ...memoryResponseCacheStore(),
    invalidate: async () => {
      throw new Error("redis down");
    },
  };
  await expect(cacheInvalidator(broken, logger).invalidate(["Product:1"])).resolves.toBeUndefined();
});
