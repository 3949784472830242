import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../logger.ts";
import { breakerFor, createRedisClient, redisConnected } from "../redis.ts";

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
  /** The first key (in the order given) that holds an entry, and how long it has been stored. */
  hit: { key: string; entry: CachedResponse; ageSeconds: number } | undefined;
  /** The invalidation sequence when the lookup ran: a later store is refused if a tag moved past it. */
  seq: number;
}

/**
 * Where the gateway keeps whole responses, and what subgraphs call to purge them. One
 * implementation of the layout and of its race rule is shared by both sides:
 *
 * - entries live under `rc:e:<key>` with a TTL of their maxAge;
 * - each tag (`Product:<id>`, `Product`, `Query.products`) has a sorted set `rc:t:<tag>` of the
 *   entries that contain it, scored by their expiry, pruned of expired ones on every store;
 * - `rc:i:<tag>` holds the sequence number of the tag's last invalidation;
 * - `invalidate` bumps the global sequence `rc:seq`, stamps each tag with it and deletes every
 *   entry in the tags' sets;
 * - `store` refuses to write an entry when any of its tags was invalidated after the lookup that
 *   preceded the execution (the response may hold data read before the change), or when the
 *   sequence went backwards (Redis lost its data meanwhile).
 *
 * Ages come from Redis' own TTLs, never from the clocks of the hosts that stored the entries.
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

const ttlOf = (entry: CachedResponse) => Math.max(1, Math.min(entry.maxAge, MAX_ENTRY_TTL_SECONDS));

// KEYS: entry keys..., rc:seq. Returns the first hit's index (0: none), value and PTTL, and the sequence.
const LOOKUP_SCRIPT = `
local seq = redis.call('GET', KEYS[#KEYS]) or '0'
for i = 1, #KEYS - 1 do
  local value = redis.call('GET', KEYS[i])
  if value then return {i, value, redis.call('PTTL', KEYS[i]), seq} end
end
return {0, false, 0, seq}`;

// KEYS: entry, tag sets..., tag stamps..., rc:seq. ARGV: value, ttl, since, n.
const STORE_SCRIPT = `
local n = tonumber(ARGV[4])
local since = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[2 + 2 * n]) or '0') < since then return 0 end
for i = 1, n do
  local stamped = redis.call('GET', KEYS[1 + n + i])
  if stamped and tonumber(stamped) > since then return 0 end
end
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[1 + i], '-inf', nowMs)
  redis.call('ZADD', KEYS[1 + i], nowMs + ttl * 1000, KEYS[1])
  if redis.call('TTL', KEYS[1 + i]) < ttl then redis.call('EXPIRE', KEYS[1 + i], ttl) end
end
return 1`;

// KEYS: rc:seq, tag sets..., tag stamps..., channel. ARGV: n, stamp TTL, message.
const INVALIDATE_SCRIPT = `
local n = tonumber(ARGV[1])
local seq = redis.call('INCR', KEYS[1])
local purged = 0
for i = 1, n do
  redis.call('SET', KEYS[1 + n + i], seq, 'EX', tonumber(ARGV[2]))
  for _, entry in ipairs(redis.call('ZRANGE', KEYS[1 + i], 0, -1)) do
    purged = purged + redis.call('DEL', entry)
  end
  redis.call('DEL', KEYS[1 + i])
end
redis.call('PUBLISH', KEYS[2 + 2 * n], ARGV[3])
return purged`;

/**
 * Runs a script by its SHA1 (EVALSHA: the script's text is not sent and parsed per call), loading
 * it with EVAL the first time a server does not know it (NOSCRIPT: new or restarted Redis).
 */
function scriptRunner(redis: Redis, script: string) {
  const sha = createHash("sha1").update(script).digest("hex");
  return async (numKeys: number, ...args: string[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, numKeys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(script, numKeys, ...args);
    }
  };
}

const parseEntry = (raw: unknown): CachedResponse | undefined => {
  if (typeof raw !== "string") return undefined;
  try {
    const entry = JSON.parse(raw) as CachedResponse;
    return typeof entry.body === "string" && typeof entry.maxAge === "number" ? entry : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Redis, shared by every gateway instance and every subgraph. `redis` must be a fast-failing
 * client (command timeout, no offline queue); every call also goes through the client's circuit
 * breaker, so a hung Redis costs three timeouts, not one per request. Callers treat a rejected
 * promise as "no cache".
 */
export function redisResponseCacheStore(redis: Redis, options: { logger: Logger }): ResponseCacheStore {
  const listeners: ((tags: string[]) => void)[] = [];
  const breaker = breakerFor(redis);
  let subscriber: Redis | undefined;
  const lookupScript = scriptRunner(redis, LOOKUP_SCRIPT);
  const storeScript = scriptRunner(redis, STORE_SCRIPT);
  const invalidateScript = scriptRunner(redis, INVALIDATE_SCRIPT);
  return {
    kind: "redis",
    async lookup(keys) {
      const [index, value, pttl, seq] = (await breaker.run(() =>
        lookupScript(keys.length + 1, ...keys.map((key) => `rc:e:${key}`), "rc:seq"),
      )) as [number, string | null, number, string];
      const entry = index > 0 ? parseEntry(value) : undefined;
      const hit = entry
        ? { key: keys[index - 1]!, entry, ageSeconds: Math.max(0, ttlOf(entry) - Math.ceil(Number(pttl) / 1000)) }
        : undefined;
      return { hit, seq: Number(seq) };
    },
    async store(key, entry, tags, sinceSeq) {
      const written = await breaker.run(() =>
        storeScript(
          2 + 2 * tags.length,
          `rc:e:${key}`,
          ...tags.map((tag) => `rc:t:${tag}`),
          ...tags.map((tag) => `rc:i:${tag}`),
          "rc:seq",
          JSON.stringify(entry),
          String(ttlOf(entry)),
          String(sinceSeq),
          String(tags.length),
        ),
      );
      return written === 1;
    },
    async invalidate(tags) {
      if (tags.length === 0) return 0;
      const purged = await breaker.run(() =>
        invalidateScript(
          2 + 2 * tags.length,
          "rc:seq",
          ...tags.map((tag) => `rc:t:${tag}`),
          ...tags.map((tag) => `rc:i:${tag}`),
          CHANNEL,
          String(tags.length),
          String(MAX_ENTRY_TTL_SECONDS),
          JSON.stringify(tags),
        ),
      );
      return Number(purged);
    },
    onInvalidate(listener) {
      listeners.push(listener);
      if (subscriber) return;
      // A subscribed connection can do nothing else, hence a duplicate. It must not inherit the
      // fast-fail options: SUBSCRIBE waits for the connection and is renewed on every reconnect.
      subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
      const prefix = redis.options.keyPrefix ?? "";
      subscriber.on("error", (error) => options.logger.debug({ err: error }, "invalidation subscriber error"));
      subscriber.subscribe(`${prefix}${CHANNEL}`).catch((error: unknown) => {
        options.logger.warn({ err: error }, "could not subscribe to cache invalidations");
      });
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
  const entries = new Map<string, { entry: CachedResponse; storedAt: number; expiresAt: number; tags: readonly string[] }>();
  const tagSets = new Map<string, Set<string>>();
  const stamps = new Map<string, number>();
  const listeners: ((tags: string[]) => void)[] = [];
  let seq = 0;
  const remove = (key: string) => {
    const found = entries.get(key);
    if (!found) return false;
    entries.delete(key);
    for (const tag of found.tags) {
      const set = tagSets.get(tag);
      set?.delete(key);
      if (set?.size === 0) tagSets.delete(tag);
    }
    return true;
  };
  const live = (key: string) => {
    const found = entries.get(key);
    if (found && found.expiresAt <= Date.now()) {
      remove(key);
      return undefined;
    }
    return found;
  };
  return {
    kind: "memory",
    async lookup(keys) {
      for (const key of keys) {
        const found = live(key);
        if (found) {
          // Touch: the least recently used entry is the one evicted.
          entries.delete(key);
          entries.set(key, found);
          const ageSeconds = Math.max(0, Math.floor((Date.now() - found.storedAt) / 1000));
          return { hit: { key, entry: found.entry, ageSeconds }, seq };
        }
      }
      return { hit: undefined, seq };
    },
    async store(key, entry, tags, sinceSeq) {
      if (seq < sinceSeq || tags.some((tag) => (stamps.get(tag) ?? 0) > sinceSeq)) return false;
      remove(key);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        remove(oldest);
      }
      const now = Date.now();
      entries.set(key, { entry, storedAt: now, expiresAt: now + ttlOf(entry) * 1000, tags: [...tags] });
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
        for (const key of [...(tagSets.get(tag) ?? [])]) {
          // Counted like Redis counts: an entry that had already expired is not a purge.
          if (live(key) && remove(key)) purged += 1;
        }
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

/**
 * A Redis connection for purging (subgraphs, npm start, scripts): a longer command timeout than
 * the gateway's reads, since a purge is worth waiting a moment for, and connected before the
 * first write needs it. `connected` is false when Redis did not answer within `waitMs`; purges
 * then retry, and the client keeps reconnecting.
 */
export async function openPurgeStore(
  url: string,
  options: { keyPrefix: string; logger: Logger; commandTimeoutMs?: number; waitMs?: number },
): Promise<{ redis: Redis; store: ResponseCacheStore; connected: boolean }> {
  const redis = createRedisClient(url, { keyPrefix: options.keyPrefix, logger: options.logger, commandTimeoutMs: options.commandTimeoutMs ?? 1_000 });
  const connected = await redisConnected(redis, options.waitMs ?? 2_000);
  return { redis, store: redisResponseCacheStore(redis, { logger: options.logger }), connected };
}
