import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express from "express";
import { Redis, type RedisOptions } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from "vitest";
import { json } from "../../test/support/stack.ts";
import { listen, requestIdMiddleware, type Logger } from "@catalog/common";
import { createMetrics, type GatewayMetrics } from "../src/metrics.ts";
import { createRateLimiter, type Caller, type RateLimitConfig, type RateLimiter } from "../src/rate-limit.ts";
import { pipelineHandler } from "../src/pipeline.ts";
import type { GatewayRequest, RequestState } from "../src/stage.ts";
import "../../test/support/provided.ts";

/** What the gateway passes: commands fail fast instead of queueing while Redis is down. */
const GATEWAY_CLIENT_OPTIONS: RedisOptions = { enableOfflineQueue: false, commandTimeout: 250, maxRetriesPerRequest: 1 };

const prefix = `test:ratelimit:${randomUUID()}:`;
const config: RateLimitConfig = { points: 3, anonymousPoints: 2, windowSeconds: 60 };

/** Warnings are collected, not printed, so the tests can count them. */
function captureLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const logger: Logger = pino({ level: "warn" }, stream);
  return { logger, warnings: () => lines.filter((line) => line.level === 40) };
}

const clients: Redis[] = [];
function client(url = inject("redisUrl"), extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, { ...GATEWAY_CLIENT_OPTIONS, ...extra });
  // ioredis prints unhandled error events; the refused connections below are intended.
  redis.on("error", () => {});
  clients.push(redis);
  return redis;
}
/** A client on the test Redis, connected: until then every decision would (rightly) fail open. */
async function liveClient(extra: RedisOptions = {}): Promise<Redis> {
  const redis = client(inject("redisUrl"), extra);
  if (redis.status !== "ready") await once(redis, "ready");
  return redis;
}

const servers: Array<{ close(): Promise<void> }> = [];
/** An app like the gateway's: the caller is a user from a header (auth stand-in), else the client IP. */
async function app(limiter: RateLimiter) {
  const calls = { count: 0 };
  const callerOf = (state: RequestState, req: GatewayRequest): Caller => {
    const user = req.headers["x-test-user"];
    return typeof user === "string" ? { kind: "user", id: user } : { kind: "ip", id: state.clientIp };
  };
  const application = express();
  application.use(requestIdMiddleware);
  application.use(pipelineHandler([{ name: "rate-limit", phase: "head", why: "under test", reads: [], writes: [], run: limiter.stage(callerOf) }]));
  application.get("/", (_req, res) => {
    calls.count += 1;
    res.json({ ok: true });
  });
  const server = await listen(application, 0);
  servers.push(server);
  const get = (user?: string) => fetch(server.url, { headers: user ? { "x-test-user": user } : {} });
  return { get, calls };
}

function limiterOn(redis: Redis | undefined, metrics: GatewayMetrics = createMetrics(), logger = captureLogger().logger) {
  return createRateLimiter({ redis, keyPrefix: prefix, config, logger, metrics });
}

const failOpenCount = async (metrics: GatewayMetrics) => (await metrics.rateLimitFailOpen.get()).values[0]?.value ?? 0;
const rejectedCount = async (metrics: GatewayMetrics) =>
  (await metrics.rejected.get()).values.find((value) => value.labels.code === "RATE_LIMITED")?.value ?? 0;

let admin: Redis;
beforeAll(() => {
  admin = new Redis(inject("redisUrl"));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
  for (const redis of clients) redis.disconnect();
});

describe("rate limiting on Redis", () => {
  it("lets `points` requests through with RateLimit-* headers, then answers 429 without running the handler", async () => {
    const metrics = createMetrics();
    const { get, calls } = await app(limiterOn(await liveClient(), metrics));

    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await get("alice");
      expect(response.status).toBe(200);
      expect(response.headers.get("ratelimit-limit")).toBe("3");
      const reset = Number(response.headers.get("ratelimit-reset"));
      expect(reset).toBeGreaterThanOrEqual(1);
      expect(reset).toBeLessThanOrEqual(60);
      remaining.push(response.headers.get("ratelimit-remaining") ?? "");
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    expect(calls.count).toBe(3);

    const refused = await get("alice");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await json(refused)).toEqual({
      errors: [
        {
          message: `Too many requests; retry in ${retryAfter} seconds.`,
          extensions: { code: "RATE_LIMITED", retryAfter, requestId: refused.headers.get("x-request-id") },
        },
      ],
    });
    expect(calls.count).toBe(3);
    expect(await rejectedCount(metrics)).toBe(1);
    expect(await failOpenCount(metrics)).toBe(0);

    // Another user has a budget of their own.
    const bob = await get("bob");
    expect(bob.status).toBe(200);
    expect(bob.headers.get("ratelimit-remaining")).toBe("2");
    expect(calls.count).toBe(4);
  });

  it("counts anonymous callers per IP against anonymousPoints", async () => {
    const { get, calls } = await app(limiterOn(await liveClient()));
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-limit")).toBe("2");
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(429);
    expect(calls.count).toBe(2);
    // The anonymous budget is spent; a signed-in caller from the same address is not.
    expect((await get("carol")).status).toBe(200);
  });

  it("stores one key per caller under the prefix, with the window as its lifetime, and keeps kinds apart", async () => {
    const limiter = limiterOn(await liveClient());
    const sameId = "10.0.0.1";
    expect(await limiter.consume({ kind: "user", id: sameId })).toMatchObject({ allowed: true, remaining: 2 });
    expect(await limiter.consume({ kind: "partner", id: sameId })).toMatchObject({ allowed: true, remaining: 2 });
    expect(await limiter.consume({ kind: "ip", id: sameId })).toMatchObject({ allowed: true, remaining: 1 });
    for (const kind of ["user", "partner", "ip"]) {
      const key = `${prefix}ratelimit:${kind}:${sameId}`;
      expect(await admin.get(key)).toBe("1");
      const ttl = await admin.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
    }
  });

  it("does not prefix keys twice when the client carries the same ioredis keyPrefix", async () => {
    const limiter = limiterOn(await liveClient({ keyPrefix: prefix }));
    await limiter.consume({ kind: "user", id: "prefixed" });
    expect(await admin.get(`${prefix}ratelimit:user:prefixed`)).toBe("1");
    expect(await admin.exists(`${prefix}${prefix}ratelimit:user:prefixed`)).toBe(0);
  });

  it("shares the count for a caller between instances on separate clients", async () => {
    const one = await app(limiterOn(await liveClient()));
    const two = await app(limiterOn(await liveClient()));
    expect((await one.get("dave")).status).toBe(200);
    expect((await two.get("dave")).headers.get("ratelimit-remaining")).toBe("1");
    expect((await one.get("dave")).status).toBe(200);
    expect((await two.get("dave")).status).toBe(429);
    expect(one.calls.count + two.calls.count).toBe(3);
  });
});

describe("when Redis cannot answer", () => {
  it("fails open: every request passes, each is counted, and the warning is logged once", async () => {
    const metrics = createMetrics();
    const capture = captureLogger();
    const dead = client("redis://127.0.0.1:1", { retryStrategy: () => 1000, lazyConnect: false });
    const { get, calls } = await app(limiterOn(dead, metrics, capture.logger));

    const responses = await Promise.all(Array.from({ length: 5 }, () => get("erin")));
    for (const response of responses) {
      expect(response.status).toBe(200);
      // No count to report when nothing was counted.
      expect(response.headers.get("ratelimit-remaining")).toBeNull();
    }
    expect(calls.count).toBe(5);
    expect(await failOpenCount(metrics)).toBe(5);
    expect(await metrics.registry.getSingleMetricAsString("gateway_rate_limit_fail_open_total")).toMatch(
      /^gateway_rate_limit_fail_open_total 5$/m,
    );
    expect(await rejectedCount(metrics)).toBe(0);
    expect(capture.warnings()).toHaveLength(1);
    expect(capture.warnings()[0]?.msg).toMatch(/rate limiter store unavailable/);
  });

  it("reports a fail-open decision from consume", async () => {
    const metrics = createMetrics();
    const limiter = limiterOn(client("redis://127.0.0.1:1", { retryStrategy: () => 1000 }), metrics);
    expect(await limiter.consume({ kind: "partner", id: "key-1" })).toEqual({ allowed: true, failOpen: true });
    expect(await failOpenCount(metrics)).toBe(1);
  });

  it("fails open when a connected Redis does not answer, even on a client without a command timeout", async () => {
    // Completes the connection handshake, then never answers a script: a hung Redis, not a refused
    // one. Every command ioredis sends while connecting is a short one-chunk array, so one `+OK`
    // per array header is a good enough RESP reply.
    const silent = createServer((socket) => {
      socket.on("data", (chunk: Buffer) => {
        const text = chunk.toString();
        if (/eval/i.test(text)) return;
        socket.write("+OK\r\n".repeat(text.match(/^\*\d+\r$/gm)?.length ?? 0));
      });
    });
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as AddressInfo;
    const hung = new Redis({ host: "127.0.0.1", port, enableReadyCheck: false, enableOfflineQueue: false, retryStrategy: () => null });
    hung.on("error", () => {});
    try {
      if (hung.status !== "ready") await once(hung, "ready");
      const metrics = createMetrics();
      expect(await limiterOn(hung, metrics).consume({ kind: "user", id: "henry" })).toEqual({ allowed: true, failOpen: true });
      expect(await failOpenCount(metrics)).toBe(1);
    } finally {
      hung.disconnect();
      silent.close();
    }
  });

  it("connects a lazyConnect client itself instead of failing open forever", async () => {
    const metrics = createMetrics();
    const lazy = client(inject("redisUrl"), { lazyConnect: true });
    const limiter = limiterOn(lazy, metrics);
    // Not connected yet: this one is let through, and starts the connection.
    expect(await limiter.consume({ kind: "user", id: "ivy" })).toEqual({ allowed: true, failOpen: true });
    if (lazy.status !== "ready") await once(lazy, "ready");
    expect(await limiter.consume({ kind: "user", id: "ivy" })).toMatchObject({ allowed: true, remaining: 2 });
    expect(await failOpenCount(metrics)).toBe(1);
  });
});

describe("without Redis (embedded mode)", () => {
  it("counts in memory and answers 429 past the limit", async () => {
    const metrics = createMetrics();
    const { get, calls } = await app(limiterOn(undefined, metrics));
    for (let i = 0; i < 3; i++) expect((await get("frank")).status).toBe(200);
    const refused = await get("frank");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await json(refused)).errors[0].extensions.code).toBe("RATE_LIMITED");
    expect(calls.count).toBe(3);
    expect(await rejectedCount(metrics)).toBe(1);
    expect(await failOpenCount(metrics)).toBe(0);
    expect((await get("grace")).status).toBe(200);
  });

  it("refuses a configuration that would never reset or never allow", () => {
    const make = (override: Partial<RateLimitConfig>) => () =>
      createRateLimiter({ redis: undefined, keyPrefix: prefix, config: { ...config, ...override }, logger: captureLogger().logger, metrics: createMetrics() });
    expect(make({ windowSeconds: 0 })).toThrow(/windowSeconds/);
    expect(make({ points: 0 })).toThrow(/points/);
    expect(make({ anonymousPoints: 1.5 })).toThrow(/anonymousPoints/);
  });
});
