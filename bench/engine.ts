// npm run bench:engine: what our gateway costs per request next to a stock Apollo gateway over the
// same subgraphs, and how close our response cache gets to a server that only writes bytes.
//
// Every service is its own process (node --import tsx <file>), as in a deployment, so CPU time can be
// read per process from /proc:
//   - the four subgraphs (subgraphs/<name>/src/index.ts) on throwaway PostgreSQL databases
//     catalog_engine_<pid>_<subgraph>, migrated and seeded at start, dropped at the end;
//   - stock:          bench/stock-gateway.ts, @apollo/gateway + startStandaloneServer + the signed
//                     identity header our subgraphs require, nothing else;
//   - ours uncached:  gateway/src/index.ts, RESPONSE_CACHE_ENABLED=false;
//   - ours cached:    gateway/src/index.ts, RESPONSE_CACHE_ENABLED=true (its own Redis prefix);
//   - bare node:http: bench/bare-server.ts, answering the bytes ours cached answered, recorded once.
// Rate limits are off on ours (one client IP would be throttled). All gateways run with
// NODE_ENV=production (BENCH_GATEWAY_NODE_ENV to change it); so do the subgraphs (BENCH_SUBGRAPH_NODE_ENV),
// after a first start in development that migrates and seeds.
//
// Workloads: a 20-product listing, a product page, 40 listing variants cycled through, and a signed-in
// customer's order history. Before timing, every workload is sent to every gateway and its `data`
// must be identical on all three (exit 1 otherwise); the bytes each target answered are then the only
// answers accepted under load (any other answer, error or non-2xx fails the run).
//
// Measurement: autocannon (in this process), BENCH_CONNECTIONS (10) connections, a 2 s warm-up, then
// BENCH_SECONDS (8) timed, per target and workload; after one unmeasured warm-up pass, ROUNDS (3)
// interleaved rounds, each running every target on every workload (target order rotated per round).
// For each window: req/s, p50, p99, CPU ms per request of the target's process, of the four
// subgraphs (together and each) and of the PostgreSQL backends serving the bench databases (utime +
// stime from /proc/<pid>/stat, children included, before and after the timed window), and how many
// CPUs processes outside the benchmark kept busy meanwhile (a test run on the same machine disturbs
// the figures; the report says so). Reported: medians over rounds, and per-round ratios to stock
// (median). Peak RSS is VmHWM at the end. Loopback only; bounded; stops every process it started
// and removes what it created.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import pg from "pg";
import { catalogSeed, deriveDatabaseUrl, dropPostgresDatabase, REPO_ROOT, SEED_DEMO_PASSWORD, SUBGRAPHS, type SubgraphName } from "@catalog/common";

function envNumber(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be a positive ${integer ? "integer" : "number"}, not ${raw}`);
  }
  return value;
}

const SECONDS = envNumber("BENCH_SECONDS", 8, false);
const ROUNDS = envNumber("ROUNDS", 3, true);
const CONNECTIONS = envNumber("BENCH_CONNECTIONS", 10, true);
const WARMUP_SECONDS = 2;
const GATEWAY_NODE_ENV = process.env.BENCH_GATEWAY_NODE_ENV ?? "production";
const SUBGRAPH_NODE_ENV = process.env.BENCH_SUBGRAPH_NODE_ENV ?? "production";
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const VARIANTS = 40;
/** BENCH_WORKLOADS=variants,listing: only the workloads whose names start with these words (all by default). */
/** BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": extra Node options for every service started (profiling). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
/** BENCH_LOG_DIR=/tmp/logs: every service's output also goes to <dir>/<service>.log (with BENCH_NODE_ARGS=--trace-gc, say). */
const LOG_DIR = process.env.BENCH_LOG_DIR;
const WORKLOAD_FILTER = (process.env.BENCH_WORKLOADS ?? "").split(",").map((w) => w.trim()).filter(Boolean);
/** Other processes using more than this many CPUs during a timed window make its figures suspect. */
const DISTURBED_CPUS = 0.25;

const PREFIX = `bench-engine-${process.pid}`;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DATABASE_BASE = (() => {
  const url = new URL(process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
  url.pathname = `/catalog_engine_${process.pid}`;
  return url.toString();
})();
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Which code was measured: the commit, and whether the services' sources differ from it. */
const REVISION = (() => {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const changed = git("status", "--porcelain", "--", "gateway", "subgraphs", "packages", "schema").split("\n").filter(Boolean).length;
    return `${git("rev-parse", "--short", "HEAD")}${changed ? ` + ${changed} uncommitted file(s) in gateway/subgraphs/packages/schema` : ""}`;
  } catch {
    return "unknown revision";
  }
})();

const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const LOAD_AT_START = loadAverage();

const print = (line = "") => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`[bench:engine] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Processes

interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<void>;
  /** Set when the bench stops it on purpose before the end (a seeding run). */
  retired?: boolean;
}

const services: Service[] = [];
let stopping = false;
const deaths: string[] = [];

function startService(name: string, script: string, env: Record<string, string | undefined>): Service {
  const child = spawn(process.execPath, [...NODE_ARGS, "--import", "tsx", path.join(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-6_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  if (LOG_DIR) {
    const log = createWriteStream(path.join(LOG_DIR, `${name.replace(/[^a-z0-9]+/gi, "-")}.log`));
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      if (!stopping && !service.retired) deaths.push(`${name} exited (${signal ?? code}) during the run:\n${output}`);
      resolve();
    });
  });
  const service: Service = { name, child, pid: child.pid, output: () => output, exited };
  services.push(service);
  return service;
}

function assertAlive(): void {
  if (deaths.length) throw new Error(deaths.join("\n"));
}

async function stopService(service: Service): Promise<void> {
  service.retired = true;
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill("SIGTERM");
  const stopped = await Promise.race([service.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
  if (!stopped) {
    service.child.kill("SIGKILL");
    await service.exited;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(service: Service, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    assertAlive();
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${service.name} was not ready after ${START_TIMEOUT_MS / 1000} s:\n${service.output()}`);
}

const getOk = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status === 200;

// /proc: CPU ticks of a process and its live descendants (a service that forks workers pays for them).
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** utime + stime of one process (all its threads), in clock ticks. */
function ownTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function cpuTicks(pid: number): number {
  return ownTicks(pid) + childrenOf(pid).reduce((sum, child) => sum + cpuTicks(child), 0);
}

/** Busy ticks of the whole machine (every CPU): user, nice, system, irq, softirq, steal. */
function machineBusyTicks(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/**
 * PostgreSQL backends serving our databases (their process title names the database) and the
 * Redis server: CPU the workload causes outside our own processes.
 */
function storeTicks(): { db: Map<number, number>; redis: number } {
  const db = new Map<number, number>();
  let redis = 0;
  const ours = `catalog_engine_${process.pid}_`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmdline.startsWith("postgres:") && cmdline.includes(ours)) db.set(pid, ownTicks(pid));
      else if (cmdline.startsWith("redis-server")) redis += ownTicks(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return { db, redis };
}

interface CpuSnapshot {
  at: number;
  machine: number;
  self: number;
  services: number;
  target: number;
  /** Per subgraph, in the order given. */
  subgraphs: number[];
  stores: ReturnType<typeof storeTicks>;
}

function cpuSnapshot(target: Service, subgraphs: readonly Service[]): CpuSnapshot {
  return {
    at: performance.now(),
    machine: machineBusyTicks(),
    self: ownTicks(process.pid),
    services: services.reduce((sum, s) => sum + cpuTicks(s.pid), 0),
    target: cpuTicks(target.pid),
    subgraphs: subgraphs.map((s) => cpuTicks(s.pid)),
    stores: storeTicks(),
  };
}

/** Ticks spent between two snapshots: by the target, the subgraphs, our databases, and by anything outside the benchmark. */
function cpuSpent(before: CpuSnapshot, after: CpuSnapshot) {
  // A backend that started during the window counts from zero; one that ended is lost (pools keep theirs open).
  let db = 0;
  for (const [pid, ticks] of after.stores.db) db += ticks - (before.stores.db.get(pid) ?? 0);
  const redis = after.stores.redis - before.stores.redis;
  const ours = after.self - before.self + (after.services - before.services) + db + redis;
  return {
    target: after.target - before.target,
    bySubgraph: after.subgraphs.map((ticks, i) => ticks - before.subgraphs[i]!),
    db,
    /** CPUs kept busy, on average, by processes that are not part of the benchmark (another test run...). */
    otherCpus: Math.max(0, after.machine - before.machine - ours) / CLK_TCK / ((after.at - before.at) / 1000),
  };
}

function peakRssBytes(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Reply {
  status: number;
  text: string;
  cache: string | null;
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: response.status, text: await response.text(), cache: response.headers.get("x-cache") };
}

interface GraphQLBody {
  data?: unknown;
  errors?: unknown[];
}

async function must<T>(url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<T> {
  const reply = await post(url, JSON.stringify({ query, variables }), headers);
  const parsed = JSON.parse(reply.text) as GraphQLBody;
  if (reply.status !== 200 || parsed.errors?.length || !parsed.data) {
    throw new Error(`${query.slice(0, 60)}... failed (HTTP ${reply.status}): ${reply.text.slice(0, 500)}`);
  }
  return parsed.data as T;
}

// ---------------------------------------------------------------------------------------------
// Targets and workloads

type TargetId = "stock" | "uncached" | "cached" | "bare";
const TARGET_LABELS: Record<TargetId, string> = {
  stock: "stock",
  uncached: "ours uncached",
  cached: "ours cached",
  bare: "bare node:http",
};
interface Target {
  id: TargetId;
  service: Service;
  /** GraphQL endpoint. */
  url: string;
}

interface WorkloadRequest {
  body: string;
  headers: Record<string, string>;
}
interface Workload {
  name: string;
  requests: WorkloadRequest[];
}

const NODE_FIELDS = "id name price { amount currency } inStock inventory { available } reviewSummary { count averageRating }";
const LISTING = `{ products(first: 20) { edges { node { ${NODE_FIELDS} } } } }`;
const PRODUCT_PAGE = `query ProductPage($id: ID!) { product(id: $id) { id name price { amount currency } reviews(first: 5) { edges { node { rating body author { fullName } } } } } }`;
const ORDER_HISTORY = `{ me { orders(first: 10) { edges { node { id status total { amount } items { quantity product { name } } } } } } }`;

function variant(i: number): string {
  // 40 different documents: minPrice 0, 10, ..., 390 (the seeded prices run to ~500, so every one
  // still lists 20 products), alternately by price and newest first.
  const sort = i % 2 === 0 ? "PRICE_ASC" : "NEWEST";
  return `{ products(first: 20, sort: ${sort}, filter: { minPrice: "${i * 10}" }) { edges { node { ${NODE_FIELDS} } } } }`;
}

const body = (query: string, variables?: Record<string, unknown>) => JSON.stringify(variables ? { query, variables } : { query });

// ---------------------------------------------------------------------------------------------
// Measurement

interface Window {
  target: TargetId;
  workload: string;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  gatewayCpuMs: number;
  subgraphCpuMs: number;
  /** subgraphCpuMs split by subgraph, in SUBGRAPHS order. */
  bySubgraphCpuMs: number[];
  /** PostgreSQL backends of our databases. */
  dbCpuMs: number;
  /** CPUs busy with processes outside the benchmark during the window. */
  otherCpus: number;
  failures: number;
  hits?: number;
  cacheLookups?: number;
}

async function cacheCounters(target: Target): Promise<{ hits: number; total: number }> {
  const text = await (await fetch(target.url.replace(/\/graphql$/, "/metrics"))).text();
  let hits = 0;
  let total = 0;
  for (const match of text.matchAll(/^gateway_response_cache_total\{result="(\w+)"\} (\d+)/gm)) {
    const count = Number(match[2]);
    total += count;
    if (match[1] === "HIT") hits += count;
  }
  return { hits, total };
}

function cannon(target: Target, workload: Workload, seconds: number, accepted?: Set<string>): Promise<autocannon.Result> {
  const url = new URL(target.url);
  const toRequest = (request: WorkloadRequest): autocannon.Request => ({
    method: "POST",
    path: url.pathname,
    headers: { "content-type": "application/json", ...request.headers },
    body: request.body,
  });
  // One round-robin shared by all connections, so the requests in flight at any moment ask
  // different things (each connection walking the list from the start would move them in
  // lockstep: ten identical requests at a time). Every workload goes through it, even with one
  // request, so the load generator spends the same per request on each (it matters next to bare).
  let next = 0;
  const requests = [
    {
      ...toRequest(workload.requests[0]!),
      // Same headers for every request of a workload; autocannon's own fields (host, port) kept.
      setupRequest: (request: autocannon.Request) => ({ ...request, body: workload.requests[next++ % workload.requests.length]!.body }),
    },
  ];
  return autocannon({
    url: url.origin,
    connections: CONNECTIONS,
    duration: seconds,
    requests,
    ...(accepted ? { verifyBody: (answer: string | Buffer | undefined) => typeof answer === "string" && accepted.has(answer) } : {}),
  });
}

async function warmUp(target: Target, workload: Workload): Promise<void> {
  assertAlive();
  // Every distinct request once first: query plans made, the cache filled, as a short warm-up
  // alone would not do for 40 documents on a target serving 150 a second.
  if (workload.requests.length > 1) {
    for (const request of workload.requests) await post(target.url, request.body, request.headers);
  }
  await cannon(target, workload, WARMUP_SECONDS);
}

async function measure(target: Target, workload: Workload, round: number, subgraphs: Service[], accepted: Set<string>): Promise<Window> {
  await warmUp(target, workload);
  const cacheBefore = target.id === "cached" ? await cacheCounters(target) : undefined;
  const before = cpuSnapshot(target.service, subgraphs);
  const result = await cannon(target, workload, SECONDS, accepted);
  const spent = cpuSpent(before, cpuSnapshot(target.service, subgraphs));
  const cacheAfter = cacheBefore ? await cacheCounters(target) : undefined;
  assertAlive();
  const requests = result.requests.total;
  const perRequest = (ticks: number) => (requests > 0 ? (ticks * 1000) / CLK_TCK / requests : NaN);
  return {
    target: target.id,
    workload: workload.name,
    round,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    gatewayCpuMs: perRequest(spent.target),
    subgraphCpuMs: perRequest(spent.bySubgraph.reduce((sum, ticks) => sum + ticks, 0)),
    bySubgraphCpuMs: spent.bySubgraph.map(perRequest),
    dbCpuMs: perRequest(spent.db),
    otherCpus: spent.otherCpus,
    failures: result.errors + result.timeouts + result.non2xx + result.mismatches,
    ...(cacheBefore && cacheAfter ? { hits: cacheAfter.hits - cacheBefore.hits, cacheLookups: cacheAfter.total - cacheBefore.total } : {}),
  };
}

function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fixed = (value: number, digits: number) => (Number.isNaN(value) ? "-" : value.toFixed(digits));
const cpu = (value: number) => (Number.isNaN(value) ? "-" : value < 0.1 ? value.toFixed(3) : value.toFixed(2));
const ratio = (value: number) => (Number.isNaN(value) ? "-" : `${value < 10 ? value.toFixed(2) : value.toFixed(1)}x`);
const mb = (bytes: number) => (Number.isNaN(bytes) ? "-" : `${(bytes / 2 ** 20).toFixed(0)} MB`);

function report(windows: readonly Window[], workloads: readonly Workload[], rss: Map<TargetId, number>, subgraphRss: number): void {
  const targetIds: TargetId[] = ["stock", "uncached", "cached", "bare"];
  const header = ["workload", "target", "req/s", "p50 ms", "p99 ms", "gw CPU ms/req", "sg CPU ms/req", "db CPU ms/req", "req/s vs stock", "gw CPU vs stock", "cached vs bare"];
  const rows: string[][] = [];
  for (const workload of workloads) {
    const of = (target: TargetId) => windows.filter((w) => w.workload === workload.name && w.target === target);
    const perRound = (target: TargetId, base: TargetId, pick: (w: Window) => number) =>
      median(
        of(target).map((w) => {
          const other = of(base).find((b) => b.round === w.round);
          return other ? pick(w) / pick(other) : NaN;
        }),
      );
    targetIds.forEach((target, index) => {
      const mine = of(target);
      if (!mine.length) return;
      const lookups = mine.reduce((sum, w) => sum + (w.cacheLookups ?? 0), 0);
      const hits = mine.reduce((sum, w) => sum + (w.hits ?? 0), 0);
      rows.push([
        index === 0 ? workload.name : "",
        target === "cached" && lookups ? `${TARGET_LABELS[target]} (${((100 * hits) / lookups).toFixed(0)}% hit)` : TARGET_LABELS[target],
        fixed(median(mine.map((w) => w.rps)), 0),
        fixed(median(mine.map((w) => w.p50)), 0),
        fixed(median(mine.map((w) => w.p99)), 0),
        cpu(median(mine.map((w) => w.gatewayCpuMs))),
        cpu(median(mine.map((w) => w.subgraphCpuMs))),
        cpu(median(mine.map((w) => w.dbCpuMs))),
        ratio(perRound(target, "stock", (w) => w.rps)),
        target === "bare" ? "-" : ratio(perRound(target, "stock", (w) => w.gatewayCpuMs)),
        target === "cached" ? ratio(perRound("cached", "bare", (w) => w.rps)) : "",
      ]);
    });
  }
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")}`.trimEnd();
  print(line(header));
  rows.forEach((row, i) => {
    if (i > 0 && row[0] !== "") print();
    print(line(row));
  });
  const stock = rss.get("stock") ?? NaN;
  print();
  print(
    `  peak RSS (VmHWM): ${targetIds
      .map((id) => `${TARGET_LABELS[id]} ${mb(rss.get(id) ?? NaN)}${id === "stock" ? "" : ` (${ratio((rss.get(id) ?? NaN) / stock)})`}`)
      .join(", ")}; four subgraphs together ${mb(subgraphRss)}`,
  );
  print(`  sg CPU ms/req by subgraph (${SUBGRAPHS.join(" / ")}), stock | ours uncached:`);
  const split = (workload: Workload, target: TargetId) => {
    const mine = windows.filter((w) => w.workload === workload.name && w.target === target);
    return SUBGRAPHS.map((_, i) => cpu(median(mine.map((w) => w.bySubgraphCpuMs[i]!)))).join(" / ");
  };
  const nameWidth = Math.max(...workloads.map((w) => w.name.length));
  for (const workload of workloads) print(`    ${workload.name.padEnd(nameWidth)}  ${split(workload, "stock")} | ${split(workload, "uncached")}`);
  const other = windows.map((w) => w.otherCpus);
  const disturbed = other.filter((cpus) => cpus > DISTURBED_CPUS).length;
  print(
    `  other processes on the machine during the timed windows: median ${median(other).toFixed(2)} CPUs, max ${Math.max(...other).toFixed(2)} CPUs` +
      (disturbed ? `; WARNING: above ${DISTURBED_CPUS} CPUs in ${disturbed} of ${other.length} windows, throughput figures are disturbed` : ""),
  );
}

// ---------------------------------------------------------------------------------------------
// Run

/** Whether process `pid` is a bench:engine run still going (its databases and keys are in use). */
function engineRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("bench/engine.ts");
  } catch {
    return false;
  }
}

/**
 * Databases and Redis keys of earlier runs that could not clean up: a Ctrl-C under `npm run` reaches
 * tsx's launcher too, which kills this process outright when it does not acknowledge the signal
 * within 30 ms (easily missed on two busy cores), so its own cleanup never runs.
 */
async function removeLeftovers(): Promise<void> {
  const leftovers: string[] = [];
  const maintenance = new URL(DATABASE_BASE);
  maintenance.pathname = "/postgres";
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'catalog\\_engine\\_%'");
    for (const { datname } of rows) {
      const pid = Number(/^catalog_engine_(\d+)_/.exec(datname)?.[1]);
      if (!pid || engineRunning(pid)) continue;
      await client.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
      leftovers.push(datname);
    }
  } finally {
    await client.end();
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    const dead = new Set<string>();
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "bench-engine-*", "COUNT", 1000);
      cursor = next;
      const stale = keys.filter((key) => {
        const pid = Number(/^bench-engine-(\d+)-/.exec(key)?.[1]);
        return pid > 0 && !engineRunning(pid);
      });
      for (const key of stale) dead.add(key.split("-").slice(0, 3).join("-"));
      if (stale.length) await redis.del(...stale);
    } while (cursor !== "0");
    leftovers.push(...[...dead].map((prefix) => `Redis ${prefix}-*`));
  } finally {
    redis.disconnect();
  }
  if (leftovers.length) progress(`removed what interrupted runs left behind: ${leftovers.join(", ")}`);
}

const tempDir = await mkdtemp(path.join(tmpdir(), "catalog-bench-engine-"));
let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    stopping = true;
    // Load balancers first, then the subgraphs they call.
    for (const service of [...services].reverse()) await stopService(service);
    for (const name of SUBGRAPHS) {
      await dropPostgresDatabase(deriveDatabaseUrl(DATABASE_BASE, name)).catch((error: unknown) => {
        console.error(`could not drop the ${name} bench database: ${(error as Error).message}`);
        process.exitCode = 1;
      });
    }
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${PREFIX}-*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    } catch (error) {
      console.error(`could not delete the bench's Redis keys (${PREFIX}-*): ${(error as Error).message}`);
      process.exitCode = 1;
    } finally {
      redis.disconnect();
    }
    await rm(tempDir, { recursive: true, force: true });
  })();
  return cleaned;
}
// `on`, not `once`: tsx relays a Ctrl-C a second time when this process is slow to acknowledge it,
// and a signal without a listener would end the process before the databases are dropped.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (cleaned) return;
    console.error(`bench:engine: ${signal}, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await removeLeftovers();
  const jwtSecret = randomBytes(48).toString("base64url");
  const internalSecret = randomBytes(48).toString("base64url");
  const ports = { users: 0, products: 0, orders: 0, inventory: 0, stock: 0, uncached: 0, cached: 0, bare: 0 };
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  const subgraphUrl = (name: SubgraphName) => `http://127.0.0.1:${ports[name]}/graphql`;
  const subgraphUrls = Object.fromEntries(SUBGRAPHS.map((name) => [`${name.toUpperCase()}_SUBGRAPH_URL`, subgraphUrl(name)]));

  // The children get this environment and ours only: no database, Redis prefix or URL of the caller's.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/(_DATABASE_URL|_SUBGRAPH_URL)$|^(DATABASE_URL|REDIS_KEY_PREFIX|PORT|HOST|NODE_ENV)$/.test(name)),
  );
  const common = {
    ...inherited,
    HOST: "127.0.0.1",
    LOG_LEVEL: "error",
    JWT_SECRET: jwtSecret,
    INTERNAL_AUTH_SECRET: internalSecret,
    REDIS_URL,
    ...subgraphUrls,
  };

  // Seeding is for development only (the demo data has a public admin password), so the subgraphs
  // first run once in development to migrate and seed, then serve the benchmark as deployed, in
  // production (graphql-js, Apollo Server and Prisma all have cheaper production paths).
  progress(`starting the four subgraphs on PostgreSQL (${new URL(DATABASE_BASE).host}, catalog_engine_${process.pid}_*): migrate and seed`);
  const started = Date.now();
  const subgraphEnv = (name: SubgraphName, nodeEnv: string, seed: boolean) => ({
    ...common,
    NODE_ENV: nodeEnv,
    PORT: String(ports[name]),
    DATABASE_URL: DATABASE_BASE,
    MIGRATE_ON_START: String(seed),
    SEED_ON_START: String(seed),
    REDIS_KEY_PREFIX: `${PREFIX}-subgraphs:`,
    // The run is longer than the default 15 minutes an access token lives.
    JWT_ACCESS_TOKEN_TTL_SECONDS: "86400",
  });
  const startSubgraphs = async (nodeEnv: string, seed: boolean) => {
    const services = SUBGRAPHS.map((name) => startService(`subgraph ${name}`, `subgraphs/${name}/src/index.ts`, subgraphEnv(name, nodeEnv, seed)));
    await Promise.all(services.map((s, i) => waitUntil(s, getOk(`http://127.0.0.1:${ports[SUBGRAPHS[i]!]}/ready`))));
    return services;
  };
  const seeders = await startSubgraphs("development", true);
  await Promise.all(seeders.map(stopService));
  const subgraphs = await startSubgraphs(SUBGRAPH_NODE_ENV, false);
  progress(`subgraphs seeded and ready (NODE_ENV=${SUBGRAPH_NODE_ENV}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const gatewayEnv = { ...common, NODE_ENV: GATEWAY_NODE_ENV };
  const stock: Target = {
    id: "stock",
    // Stock but quiet: with its hourly usage report on, @apollo/gateway probes cloud metadata
    // services at start (gcp-metadata warns on this machine); the report costs no request time.
    service: startService("stock gateway", "bench/stock-gateway.ts", { ...gatewayEnv, PORT: String(ports.stock), APOLLO_TELEMETRY_DISABLED: "true" }),
    url: `http://127.0.0.1:${ports.stock}/graphql`,
  };
  const ours = (id: "uncached" | "cached"): Target => ({
    id,
    service: startService(`our gateway (${id})`, "gateway/src/index.ts", {
      ...gatewayEnv,
      PORT: String(ports[id]),
      RESPONSE_CACHE_ENABLED: String(id === "cached"),
      RATE_LIMIT_ENABLED: "false",
      REDIS_KEY_PREFIX: `${PREFIX}-${id}:`,
    }),
    url: `http://127.0.0.1:${ports[id]}/graphql`,
  });
  const uncached = ours("uncached");
  const cached = ours("cached");
  await Promise.all([
    waitUntil(stock.service, async () => (await post(stock.url, body("{ __typename }"))).status === 200),
    waitUntil(uncached.service, getOk(`http://127.0.0.1:${ports.uncached}/ready`)),
    waitUntil(cached.service, getOk(`http://127.0.0.1:${ports.cached}/ready`)),
  ]);
  progress("gateways ready");

  // Setup reads: a product with many reviews, and a seeded customer with many orders.
  const page = await must<{ products: { edges: { node: { id: string; reviewSummary: { count: number } } }[] } }>(
    stock.url,
    `{ products(first: 100) { edges { node { id reviewSummary { count } } } } }`,
  );
  const product = page.products.edges.map((e) => e.node).sort((a, b) => b.reviewSummary.count - a.reviewSummary.count)[0];
  if (!product) throw new Error("the catalog lists no products");
  const seed = catalogSeed();
  const orderCounts = new Map<string, number>();
  for (const order of seed.orders) orderCounts.set(order.userId, (orderCounts.get(order.userId) ?? 0) + 1);
  const customer = seed.users
    .filter((u) => u.status === "ACTIVE" && u.roles.length === 1 && u.roles[0] === "CUSTOMER")
    .sort((a, b) => (orderCounts.get(b.id) ?? 0) - (orderCounts.get(a.id) ?? 0))[0];
  if (!customer || (orderCounts.get(customer.id) ?? 0) < 10) throw new Error("the seed has no active customer with 10 orders");
  const { login } = await must<{ login: { accessToken: string } }>(
    uncached.url,
    `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }`,
    { email: customer.email, password: SEED_DEMO_PASSWORD },
  );
  const signedIn = { authorization: `Bearer ${login.accessToken}` };

  const allWorkloads: Workload[] = [
    { name: "listing", requests: [{ body: body(LISTING), headers: {} }] },
    { name: "product page", requests: [{ body: body(PRODUCT_PAGE, { id: product.id }), headers: {} }] },
    { name: `variants (${VARIANTS})`, requests: Array.from({ length: VARIANTS }, (_, i) => ({ body: body(variant(i)), headers: {} })) },
    { name: "order history", requests: [{ body: body(ORDER_HISTORY), headers: signedIn }] },
  ];
  const workloads = WORKLOAD_FILTER.length ? allWorkloads.filter((w) => WORKLOAD_FILTER.some((f) => w.name.startsWith(f))) : allWorkloads;
  if (!workloads.length) throw new Error(`BENCH_WORKLOADS=${process.env.BENCH_WORKLOADS} names none of: ${allWorkloads.map((w) => w.name).join(", ")}`);

  // Verification: the same data from every gateway; the bytes each answered are what it may answer under load.
  const gateways = [stock, uncached, cached];
  const accepted = new Map<string, Set<string>>();
  const acceptedOf = (target: TargetId, workload: string) => {
    const key = `${target}\u0000${workload}`;
    let set = accepted.get(key);
    if (!set) accepted.set(key, (set = new Set()));
    return set;
  };
  const bareAnswers: [string, string][] = [];
  const cacheStatus: string[] = [];
  const problems: string[] = [];
  for (const workload of workloads) {
    for (const request of workload.requests) {
      const replies: { target: TargetId; reply: Reply }[] = [];
      for (const target of gateways) {
        replies.push({ target: target.id, reply: await post(target.url, request.body, request.headers) });
        // The cached gateway twice: the first answer is computed (MISS), the second must be the same data from the cache.
        if (target.id === "cached") replies.push({ target: target.id, reply: await post(target.url, request.body, request.headers) });
      }
      let reference: unknown;
      for (const [i, { target, reply }] of replies.entries()) {
        const parsed = JSON.parse(reply.text) as GraphQLBody;
        if (reply.status !== 200 || parsed.errors?.length || parsed.data == null) {
          problems.push(`${workload.name}: ${TARGET_LABELS[target]} answered HTTP ${reply.status}: ${reply.text.slice(0, 300)}`);
          continue;
        }
        if (i === 0) reference = parsed.data;
        else if (!isDeepStrictEqual(parsed.data, reference)) {
          problems.push(`${workload.name}: ${TARGET_LABELS[target]}'s data differs from stock's for ${request.body.slice(0, 120)}`);
        }
        acceptedOf(target, workload.name).add(reply.text);
      }
      const second = replies[replies.length - 1]!;
      if (workload.requests.indexOf(request) === 0) cacheStatus.push(`${workload.name} ${replies[replies.length - 2]!.reply.cache}->${second.reply.cache}`);
      bareAnswers.push([request.body, second.reply.text]);
    }
  }
  if (problems.length) throw new Error(`the gateways do not agree:\n  ${problems.join("\n  ")}`);
  progress(`verified: identical data from stock, ours uncached and ours cached on every workload (ours cached x-cache: ${cacheStatus.join(", ")})`);

  const responsesFile = path.join(tempDir, "bare-responses.json");
  await writeFile(responsesFile, JSON.stringify(bareAnswers));
  const bare: Target = {
    id: "bare",
    service: startService("bare node:http", "bench/bare-server.ts", { ...gatewayEnv, PORT: String(ports.bare), BARE_RESPONSES_FILE: responsesFile }),
    url: `http://127.0.0.1:${ports.bare}/graphql`,
  };
  await waitUntil(bare.service, getOk(bare.url));
  for (const workload of workloads) {
    for (const request of workload.requests) {
      const reply = await post(bare.url, request.body, request.headers);
      if (reply.status !== 200) throw new Error(`the bare server does not answer ${request.body.slice(0, 80)}`);
      acceptedOf("bare", workload.name).add(reply.text);
    }
  }

  const targets = [stock, uncached, cached, bare];
  const perWindow = WARMUP_SECONDS + SECONDS;
  progress(
    `measuring: a ${WARMUP_SECONDS} s warm-up pass, then ${ROUNDS} rounds x ${workloads.length} workloads x ${targets.length} targets x (${WARMUP_SECONDS} s warm-up + ${SECONDS} s) ≈ ${Math.ceil(((ROUNDS * perWindow + WARMUP_SECONDS) * workloads.length * targets.length) / 60)} min`,
  );
  // Cold processes (JIT, connection pools, Prisma's compiled queries) would make round 1 slower for
  // whichever target runs first on each workload: one unmeasured pass over everything first.
  for (const workload of workloads) for (const target of targets) await warmUp(target, workload);
  const windows: Window[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round its own target order, so no target always runs right after the same other one.
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
    for (const workload of workloads) {
      for (const target of order) {
        const window = await measure(target, workload, round, subgraphs, acceptedOf(target.id, workload.name));
        windows.push(window);
        progress(
          `round ${round} ${workload.name.padEnd(14)} ${TARGET_LABELS[target.id].padEnd(14)} ${fixed(window.rps, 0).padStart(6)} req/s  p50 ${window.p50} ms  p99 ${window.p99} ms  gw ${cpu(window.gatewayCpuMs)}  sg ${cpu(window.subgraphCpuMs)}  db ${cpu(window.dbCpuMs)} ms/req  other ${window.otherCpus.toFixed(2)} CPUs${window.failures ? `  FAILED ${window.failures}` : ""}`,
        );
        if (window.failures) problems.push(`round ${round}, ${workload.name}, ${TARGET_LABELS[target.id]}: ${window.failures} requests failed or answered other bytes`);
      }
    }
  }
  const rss = new Map<TargetId, number>(targets.map((t) => [t.id, peakRssBytes(t.service.pid)]));
  const subgraphRss = subgraphs.reduce((sum, s) => sum + peakRssBytes(s.pid), 0);

  print(
    `Engine benchmark: ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s timed per target x workload, ${ROUNDS} interleaved rounds; medians over rounds`,
  );
  print(
    `Each service its own process; PostgreSQL ${new URL(DATABASE_BASE).host}, Redis ${new URL(REDIS_URL).host}; gateways NODE_ENV=${GATEWAY_NODE_ENV}, subgraphs ${SUBGRAPH_NODE_ENV}; ${availableParallelism()} CPUs; load generator on the same machine`,
  );
  print(
    `Code: ${REVISION}, measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; load average before the run ${LOAD_AT_START}, after ${loadAverage()}`,
  );
  print(`gw CPU: the target's process; sg CPU: the four subgraph processes; db CPU: PostgreSQL backends of the bench databases; ratios: median of per-round ratios\n`);
  report(windows, workloads, rss, subgraphRss);
  if (problems.length) {
    print(`\nPROBLEMS (${problems.length}):`);
    for (const problem of problems) print(`  ${problem}`);
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`bench:engine failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
