import { InMemoryLRUCache, type KeyValueCache, type KeyValueCacheSetOptions } from "@apollo/utils.keyvaluecache";
import { breakerFor, createRedisClient, redisConnected, type Logger } from "@catalog/common/edge";
import type { Redis } from "ioredis";

const DEFAULT_TTL_SECONDS = 300;

export interface CacheHandle {
  /** Key-value store for APQ documents and query plans. */
  cache: KeyValueCache<string>;
  kind: "redis" | "memory";
  /** The shared client (fast-failing, prefixed), for the response cache and rate limits. */
  redis: Redis | undefined;
  ping(): Promise<boolean>;
  /** Resolves once Redis is connected, or after `timeoutMs` if it is not: start-up never waits longer. */
  connected(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The gateway's cross-request key-value store. Redis when configured, shared by every gateway
 * instance; otherwise an in-process LRU. Redis failures (250 ms command timeout, no offline queue)
 * are logged, counted through `onError` and treated as misses: the cache is an accelerator,
 * never a dependency.
 */
export function createCache(options: {
  redisUrl: string | undefined;
  keyPrefix: string;
  logger: Logger;
  onError?: (operation: string) => void;
}): CacheHandle {
  if (!options.redisUrl) {
    const cache = new InMemoryLRUCache<string>({ maxSize: 50 * 1024 * 1024 });
    return {
      cache,
      kind: "memory",
      redis: undefined,
      ping: async () => true,
      connected: async () => true,
      close: async () => {},
    };
  }
  const redis = createRedisClient(options.redisUrl, { keyPrefix: options.keyPrefix, logger: options.logger });
  const breaker = breakerFor(redis);
  const miss = (operation: string) => (error: unknown) => {
    options.onError?.(operation);
    options.logger.debug({ err: error, operation }, "redis command failed; treated as a miss");
    return undefined;
  };
  const cache: KeyValueCache<string> = {
    async get(key) {
      const value = await breaker.run(() => redis.get(key)).catch(miss("get"));
      return value ?? undefined;
    },
    async set(key, value, setOptions?: KeyValueCacheSetOptions) {
      // Every key expires: nothing in this cache lives forever.
      const ttl = setOptions?.ttl && setOptions.ttl > 0 ? Math.ceil(setOptions.ttl) : DEFAULT_TTL_SECONDS;
      await breaker.run(() => redis.set(key, value, "EX", ttl)).catch(miss("set"));
    },
    async delete(key) {
      await breaker.run(() => redis.del(key)).catch(miss("del"));
      return true;
    },
  };
  return {
    cache,
    kind: "redis",
    redis,
    ping: async () => (await redis.ping().catch(() => "")) === "PONG",
    connected: (timeoutMs) => redisConnected(redis, timeoutMs),
    close: async () => {
      redis.disconnect();
    },
  };
}
