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

/** Thrown instead of calling Redis while the breaker is open. */
export class RedisUnavailableError extends Error {
  constructor() {
    super("redis is unavailable (circuit open)");
    this.name = "RedisUnavailableError";
  }
}

export interface RedisBreaker {
  /**
   * Runs `command` unless Redis has just failed repeatedly, in which case it throws at once.
   * `isFailure` says which rejections count (a rate limiter's "over the limit" does not).
   */
  run<T>(command: () => Promise<T>, isFailure?: (error: unknown) => boolean): Promise<T>;
  isOpen(): boolean;
}

const FAILURES_TO_OPEN = 3;
const OPEN_MS = 5_000;
const breakers = new WeakMap<Redis, RedisBreaker>();

/**
 * One circuit breaker per client, shared by everything that uses it. A hung Redis costs a
 * command timeout per call; after three failures in a row every caller skips Redis for 5 s
 * (cache miss, rate limit open) instead of each request waiting out its own timeouts and
 * commands piling up on the connection. Then one call tries again.
 */
export function breakerFor(redis: Redis): RedisBreaker {
  let breaker = breakers.get(redis);
  if (breaker) return breaker;
  let failures = 0;
  let openUntil = 0;
  breaker = {
    isOpen: () => Date.now() < openUntil,
    async run(command, isFailure = () => true) {
      if (Date.now() < openUntil) throw new RedisUnavailableError();
      try {
        const result = await command();
        failures = 0;
        return result;
      } catch (error) {
        if (isFailure(error)) {
          failures += 1;
          if (failures >= FAILURES_TO_OPEN) {
            openUntil = Date.now() + OPEN_MS;
            failures = 0;
          }
        }
        throw error;
      }
    },
  };
  breakers.set(redis, breaker);
  return breaker;
}
