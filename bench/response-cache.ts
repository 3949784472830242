// npm run bench: throughput of a cached product listing against the same listing uncached, on
// this machine, in one run.
//
// The whole system (scripts/start.ts: four subgraphs + gateway) runs in a child process, so the
// load generator (autocannon, in this process) does not share its event loop. It is started twice
// on the same data: once with RESPONSE_CACHE_ENABLED=false, once with the cache on. Rate limits are
// off for both (one client IP would otherwise be throttled). Targets 127.0.0.1 only; each phase
// is bounded by BENCH_SECONDS and stops itself.
//
// Data: DATABASE_URL / REDIS_URL when set (real PostgreSQL and Redis: what the README reports),
// else the embedded defaults in a temporary directory.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { startSystemProcess } from "../scripts/start-process.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const QUERY = `{ products(first: 20, sort: NEWEST) { edges { node { id name price { amount currency } inStock
  reviewSummary { count averageRating } category { name } } } pageInfo { hasNextPage endCursor } } }`;
const print = (line: string) => process.stdout.write(`${line}\n`);

const PREFIX = `bench-${process.pid}`;

function startSystem(dataDir: string, cacheEnabled: boolean) {
  return startSystemProcess({
    ...process.env,
    DATA_DIR: dataDir,
    PORT: "0",
    SUBGRAPH_PORT_BASE: "0",
    LOG_LEVEL: "error",
    RATE_LIMIT_ENABLED: "false",
    RESPONSE_CACHE_ENABLED: String(cacheEnabled),
    // Each phase its own keys: the cached phase must not start with the other's plans.
    REDIS_KEY_PREFIX: `${PREFIX}-${cacheEnabled ? "cached" : "uncached"}:`,
  });
}

async function measure(url: string): Promise<{ rps: number; p50: number; p99: number; errors: number; cacheHeader: string | null }> {
  const body = JSON.stringify({ query: QUERY });
  const probe = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const parsed = (await probe.json()) as { errors?: unknown };
  if (parsed.errors) throw new Error(`the benchmark query failed: ${JSON.stringify(parsed.errors)}`);
  // Warm-up: plans, connections, JIT, and (when on) the cache entry.
  await autocannon({ url, method: "POST", headers: { "content-type": "application/json" }, body, connections: CONNECTIONS, duration: 2 });
  const result = await autocannon({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  const after = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
    cacheHeader: after.headers.get("x-cache"),
  };
}

const dataDir = await mkdtemp(path.join(tmpdir(), "catalog-bench-"));
try {
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  for (const [label, enabled] of [["uncached", false], ["cached", true]] as const) {
    const system = await startSystem(dataDir, enabled);
    try {
      results[label] = await measure(`${system.url.replace("localhost", "127.0.0.1")}/graphql`);
    } finally {
      await system.stop();
    }
  }
  const { uncached, cached } = results as Record<"uncached" | "cached", Awaited<ReturnType<typeof measure>>>;
  print(`Product listing (20 products: products + inventory + reviews summary), ${CONNECTIONS} connections, ${SECONDS} s each`);
  print(`Data: ${process.env.DATABASE_URL ? "PostgreSQL (DATABASE_URL)" : "embedded PGlite"}; cache store: ${process.env.REDIS_URL ? "Redis (REDIS_URL)" : "in-process"}\n`);
  for (const [label, r] of Object.entries(results)) {
    print(`  ${label.padEnd(9)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms   failed ${r.errors}   x-cache ${r.cacheHeader}`);
  }
  print(`\n  cached / uncached throughput: ${(cached.rps / uncached.rps).toFixed(1)}x`);
  if (uncached.errors || cached.errors || cached.cacheHeader !== "HIT") process.exitCode = 1;
} finally {
  await rm(dataDir, { recursive: true, force: true });
  if (process.env.REDIS_URL) {
    const redis = new Redis(process.env.REDIS_URL);
    const keys = await redis.keys(`${PREFIX}-*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}
