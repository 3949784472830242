import { Redis } from "ioredis";
import type { Logger } from "./logger.ts";

/**
 * The one way services open Redis: every key under `keyPrefix`, a command timeout, and no offline
 * queue, so while Redis is down or slow commands fail fast (callers treat that as a cache miss)
 * instead of piling up behind a dead connection. Reconnection is automatic.
 */
export function createRedisClient(url: string, options: { keyPrefix: string; logger: Logger; commandTimeoutMs?: number }): Redis {
  const redis = new Redis(url, {
    keyPrefix: options.keyPrefix,
    commandTimeout: options.commandTimeoutMs ?? 250,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let lastErrorLog = 0;
  redis.on("error", (error) => {
    // Reconnect attempts fail in a loop while Redis is down; one line per 10 s is enough.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      options.logger.warn({ err: error }, "redis unavailable; serving without it");
    }
  });
  return redis;
}

/** Resolves true once `redis` is connected, false after `timeoutMs`: start-up never waits longer. */
export function redisConnected(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      resolve(false);
    }, timeoutMs);
    redis.once("ready", onReady);
  });
}
