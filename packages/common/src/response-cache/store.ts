import { Redis } from "ioredis";
import type { Logger } from "../logger.ts";

/** A cached GraphQL response and the policy it was stored under. */
export interface CachedResponse {
  /** The response's JSON (`{ data }`; responses with errors are never stored). */
  body: string;
  scope: "PUBLIC" | "PRIVATE";
  maxAge: number;
  /** Epoch ms. */
  storedAt: number;
}

export interface Lookup {
  /** The first key (in the order given) that holds an entry. */
  hit: { key: string; entry: CachedResponse } | undefined;
  /** The invalidation sequence when the lookup ran: a later store is refused if a tag moved past it. */
  seq: number;
}

/**
 * Where the gateway keeps whole responses, and what subgraphs call to purge them. One
 * implementation of the layout and of its race rule is shared by both sides:
 *
 * - entries live under `rc:e:<key>` with a TTL of their maxAge;
 * - each tag (`Product:<id>`, `Product`, `Query.products`) has a set `rc:t:<tag>` of the entries
 *   that contain it, and `rc:i:<tag>`, the sequence number of its last invalidation;
 * - `invalidate` bumps the global sequence `rc:seq`, stamps each tag with it and deletes every
 *   entry in the tags' sets;
 * - `store` refuses to write an entry when any of its tags was invalidated after the lookup that
 *   preceded the execution (the response may hold data read before the change).
 */
export interface ResponseCacheStore {
  kind: "redis" | "memory";
  lookup(keys: readonly string[]): Promise<Lookup>;
  /** False when an invalidation raced with the execution and the entry was not written. */
  store(key: string, entry: CachedResponse, tags: readonly string[], sinceSeq: number): Promise<boolean>;
  /** Purges every entry carrying any of `tags`; returns how many entries it deleted. */
  invalidate(tags: readonly string[]): Promise<number>;
  /** Runs for every invalidation, wherever it came from (Redis pub/sub or this process). */
  onInvalidate(listener: (tags: string[]) => void): void;
  close(): Promise<void>;
}

/** Longest lifetime of an entry, whatever a hint says; invalidation stamps outlive it. */
export const MAX_ENTRY_TTL_SECONDS = 86_400;
const CHANNEL = "rc:invalidations";

/**
 * A change to `Product:42` also purges responses that showed a Product without its id
 * (tagged `Product`): they might have shown product 42.
 */
export function expandTags(tags: readonly string[]): string[] {
  const all = new Set<string>();
  for (const tag of tags) {
    all.add(tag);
    const colon = tag.indexOf(":");
    if (colon > 0) all.add(tag.slice(0, colon));
  }
  return [...all];
}

const STORE_SCRIPT = `
local n = tonumber(ARGV[4])
local since = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
for i = 1, n do
  local stamped = redis.call('GET', KEYS[1 + n + i])
  if stamped and tonumber(stamped) > since then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
for i = 1, n do
  redis.call('SADD', KEYS[1 + i], KEYS[1])
  if redis.call('TTL', KEYS[1 + i]) < ttl then redis.call('EXPIRE', KEYS[1 + i], ttl) end
end
return 1`;

const INVALIDATE_SCRIPT = `
local n = tonumber(ARGV[1])
local seq = redis.call('INCR', KEYS[1])
local purged = 0
for i = 1, n do
  redis.call('SET', KEYS[1 + n + i], seq, 'EX', tonumber(ARGV[2]))
  for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1 + i])) do
    purged = purged + redis.call('DEL', entry)
  end
  redis.call('DEL', KEYS[1 + i])
end
redis.call('PUBLISH', KEYS[2 + 2 * n], ARGV[3])
return purged`;

const parseEntry = (raw: string | null | undefined): CachedResponse | undefined => {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as CachedResponse;
  } catch {
    return undefined;
  }
};

/**
 * Redis, shared by every gateway instance and every subgraph. `redis` must be a fast-failing
 * client (command timeout, no offline queue): callers treat a rejected promise as "no cache".
 * Pub/sub needs a connection of its own, opened from `subscribeUrl` only where someone listens.
 */
export function redisResponseCacheStore(redis: Redis, options: { logger: Logger }): ResponseCacheStore {
  const listeners: ((tags: string[]) => void)[] = [];
  let subscriber: Redis | undefined;
  return {
    kind: "redis",
    async lookup(keys) {
      const values = await redis.mget(...keys.map((key) => `rc:e:${key}`), "rc:seq");
      const seq = Number(values[values.length - 1] ?? 0);
      for (let i = 0; i < keys.length; i++) {
        const entry = parseEntry(values[i]);
        if (entry) return { hit: { key: keys[i]!, entry }, seq };
      }
      return { hit: undefined, seq };
    },
    async store(key, entry, tags, sinceSeq) {
      const ttl = Math.max(1, Math.min(entry.maxAge, MAX_ENTRY_TTL_SECONDS));
      const written = await redis.eval(
        STORE_SCRIPT,
        1 + 2 * tags.length,
        `rc:e:${key}`,
        ...tags.map((tag) => `rc:t:${tag}`),
        ...tags.map((tag) => `rc:i:${tag}`),
        JSON.stringify(entry),
        String(ttl),
        String(sinceSeq),
        String(tags.length),
      );
      return written === 1;
    },
    async invalidate(tags) {
      if (tags.length === 0) return 0;
      const purged = await redis.eval(
        INVALIDATE_SCRIPT,
        2 + 2 * tags.length,
        "rc:seq",
        ...tags.map((tag) => `rc:t:${tag}`),
        ...tags.map((tag) => `rc:i:${tag}`),
        CHANNEL,
        String(tags.length),
        String(MAX_ENTRY_TTL_SECONDS),
        JSON.stringify(tags),
      );
      return Number(purged);
    },
    onInvalidate(listener) {
      listeners.push(listener);
      if (subscriber) return;
      // A subscribed connection can do nothing else, hence a duplicate; it reconnects (and
      // resubscribes) by itself, and its errors are only logged: it feeds metrics, not purges.
      subscriber = redis.duplicate({ enableOfflineQueue: true });
      const prefix = redis.options.keyPrefix ?? "";
      subscriber.on("error", (error) => options.logger.debug({ err: error }, "invalidation subscriber error"));
      subscriber.subscribe(`${prefix}${CHANNEL}`).catch(() => {});
      subscriber.on("message", (_channel, message) => {
        let tags: string[];
        try {
          tags = JSON.parse(message) as string[];
        } catch {
          return;
        }
        for (const l of listeners) l(tags);
      });
    },
    async close() {
      subscriber?.disconnect();
    },
  };
}

/** In-process, with the same semantics, for the embedded default (no REDIS_URL). */
export function memoryResponseCacheStore(options: { maxEntries?: number } = {}): ResponseCacheStore {
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, { entry: CachedResponse; expiresAt: number }>();
  const tagSets = new Map<string, Set<string>>();
  const stamps = new Map<string, number>();
  const listeners: ((tags: string[]) => void)[] = [];
  let seq = 0;
  const live = (key: string) => {
    const found = entries.get(key);
    if (found && found.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return found;
  };
  return {
    kind: "memory",
    async lookup(keys) {
      for (const key of keys) {
        const found = live(key);
        if (found) return { hit: { key, entry: found.entry }, seq };
      }
      return { hit: undefined, seq };
    },
    async store(key, entry, tags, sinceSeq) {
      if (tags.some((tag) => (stamps.get(tag) ?? 0) > sinceSeq)) return false;
      // Oldest first out: Map iteration follows insertion order.
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
      const ttl = Math.max(1, Math.min(entry.maxAge, MAX_ENTRY_TTL_SECONDS));
      entries.set(key, { entry, expiresAt: Date.now() + ttl * 1000 });
      for (const tag of tags) {
        let set = tagSets.get(tag);
        if (!set) tagSets.set(tag, (set = new Set()));
        set.add(key);
      }
      return true;
    },
    async invalidate(tags) {
      seq += 1;
      let purged = 0;
      for (const tag of tags) {
        stamps.set(tag, seq);
        for (const key of tagSets.get(tag) ?? []) if (entries.delete(key)) purged += 1;
        tagSets.delete(tag);
      }
      for (const l of listeners) l([...tags]);
      return purged;
    },
    onInvalidate(listener) {
      listeners.push(listener);
    },
    async close() {},
  };
}
