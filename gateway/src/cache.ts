import { InMemoryLRUCache, type KeyValueCache, type KeyValueCacheSetOptions } from "@apollo/utils.keyvaluecache";
import type { Logger } from "@catalog/common";
import { Redis } from "ioredis";

/** Redis commands that take longer than this count as a miss: a slow cache must not slow requests. */
const COMMAND_TIMEOUT_MS = 250;
const DEFAULT_TTL_SECONDS = 300;

export interface CacheHandle {
  cache: KeyValueCache<string>;
  kind: "redis" | "memory";
  /** The shared client (fast-failing, prefixed), for other Redis users such as rate limiting. */
  redis: Redis | undefined;
  ping(): Promise<boolean>;
  /** Resolves once Redis is connected, or after `timeoutMs` if it is not: start-up never waits longer. */
  connected(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The gateway's cross-request key-value store (APQ documents today). Redis when configured, shared
 * by every gateway instance; otherwise an in-process LRU. Redis failures are logged and treated as
 * misses: the cache is an accelerator, never a dependency.
 */
export function createCache(options: { redisUrl: string | undefined; keyPrefix: string; logger: Logger }): CacheHandle {
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
  const redis = new Redis(options.redisUrl, {
    keyPrefix: options.keyPrefix,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    // Fail fast while disconnected instead of queueing requests behind a dead connection.
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let lastErrorLog = 0;
  redis.on("error", (error) => {
    // Reconnect attempts fail in a loop while Redis is down; one line per 10 s is enough.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      options.logger.warn({ err: error }, "redis unavailable; serving without cache");
    }
  });
  const miss = (operation: string) => (error: unknown) => {
    options.logger.debug({ err: error, operation }, "redis command failed; treated as a miss");
    return undefined;
  };
  const cache: KeyValueCache<string> = {
    async get(key) {
      const value = await redis.get(key).catch(miss("get"));
      return value ?? undefined;
    },
    async set(key, value, setOptions?: KeyValueCacheSetOptions) {
      // Every key expires: nothing in this cache lives forever.
      const ttl = setOptions?.ttl && setOptions.ttl > 0 ? Math.ceil(setOptions.ttl) : DEFAULT_TTL_SECONDS;
      await redis.set(key, value, "EX", ttl).catch(miss("set"));
    },
    async delete(key) {
      await redis.del(key).catch(miss("del"));
      return true;
    },
  };
  return {
    cache,
    kind: "redis",
    redis,
    ping: async () => (await redis.ping().catch(() => "")) === "PONG",
    connected: (timeoutMs) =>
      redis.status === "ready"
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => {
              redis.off("ready", onReady);
              resolve(false);
            }, timeoutMs);
            const onReady = () => {
              clearTimeout(timer);
              resolve(true);
            };
            redis.once("ready", onReady);
          }),
    close: async () => {
      redis.disconnect();
    },
  };
}
