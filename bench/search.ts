// npm run bench:search: what a ranked, faceted search costs next to the plain listing, through the
// gateway, on the seeded catalog (1,200 products) and then on a generated one (BENCH_SEARCH_PRODUCTS,
// 100,000 by default; scripts/generate-catalog.ts).
//
// The system runs as `npm start` does (scripts/start.ts, one process) on throwaway PostgreSQL
// databases catalog_search_<pid>_<subgraph>, with the response cache and rate limits off, so every
// request is answered by the products subgraph and PostgreSQL. Before timing, the availability
// replica must have caught up with inventory (every stock row reported), and every request of every
// workload must answer without errors (exit 1 otherwise).
//
// Workloads, each cycling through its requests:
//   - plain listing:          products(first: 20) newest first, with totalCount;
//   - ranked search:          the same page for one of 12 search terms (RELEVANCE), typos and
//                             phrases included;
//   - ranked search, highlighted: the same, with each product's highlight (name and description);
//   - ranked faceted search:  the same as ranked search, plus category, price-range and availability facets.
// Measurement: autocannon, BENCH_CONNECTIONS (4) connections, a 2 s warm-up then BENCH_SECONDS (8)
// timed per workload; ROUNDS (3) interleaved rounds; medians of req/s, p50 and p99 over rounds, and
// each workload's p50 and p99 as a ratio to the plain listing's in the same round (median). Loopback
// only; bounded; stops what it started and drops the databases it created.
import { spawn } from "node:child_process";
import path from "node:path";
import autocannon from "autocannon";
import { deriveDatabaseUrl, dropPostgresDatabase, openPostgres, REPO_ROOT, SUBGRAPHS } from "@catalog/common";
import { startSystemProcess, type SystemProcess } from "../scripts/start-process.ts";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return value;
}

const SECONDS = envNumber("BENCH_SECONDS", 8);
const ROUNDS = envNumber("ROUNDS", 3);
const CONNECTIONS = envNumber("BENCH_CONNECTIONS", 4);
const GENERATED = envNumber("BENCH_SEARCH_PRODUCTS", 100_000);
const WARMUP_SECONDS = 2;
const DATABASE_BASE = (() => {
  const url = new URL(process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
  url.pathname = `/catalog_search_${process.pid}`;
  return url.toString();
})();

const print = (line = "") => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`[bench:search] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const TERMS = ["lamp", "nordic headphone", "hedphones", "pro chair", "smart bulb", "running shoes", "tent -trail", '"rain jacket"', "oak desk", "graphite speaker", "eco", "jigsaw puzzle"];
const NODE = "id name price { amount currency }";
const FACETS = "facets { categories { category { id } count } priceRanges { minPrice maxPrice count } availability { inStock outOfStock } }";

interface Workload {
  name: string;
  bodies: string[];
}

const WORKLOADS: Workload[] = [
  { name: "plain listing", bodies: [JSON.stringify({ query: `{ products(first: 20) { totalCount edges { node { ${NODE} } } } }` })] },
  {
    name: "ranked search",
    bodies: TERMS.map((term) =>
      JSON.stringify({ query: `query ($q: String!) { products(first: 20, filter: { search: $q }) { totalCount edges { node { ${NODE} } } } }`, variables: { q: term } }),
    ),
  },
  {
    name: "ranked search, highlighted",
    bodies: TERMS.map((term) =>
      JSON.stringify({
        query: `query ($q: String!) { products(first: 20, filter: { search: $q }) { totalCount edges { node { ${NODE} } highlight { name { text match } description { text match } } } } }`,
        variables: { q: term },
      }),
    ),
  },
  {
    name: "ranked faceted search",
    bodies: TERMS.map((term) =>
      JSON.stringify({ query: `query ($q: String!) { products(first: 20, filter: { search: $q }) { totalCount edges { node { ${NODE} } } ${FACETS} } }`, variables: { q: term } }),
    ),
  },
];

interface Answer {
  data?: { products?: { totalCount?: number } } | null;
  errors?: unknown[];
}

async function post(url: string, body: string): Promise<Answer> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  return (await response.json()) as Answer;
}

function startSystem(): Promise<SystemProcess> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/DATABASE_URL$|^REDIS_URL$|_SUBGRAPH_URL$/.test(key)));
  return startSystemProcess({
    ...env,
    NODE_ENV: "development",
    DATABASE_URL: DATABASE_BASE,
    PORT: "0",
    SUBGRAPH_PORT_BASE: "0",
    LOG_LEVEL: "warn",
    RESPONSE_CACHE_ENABLED: "false",
    RATE_LIMIT_ENABLED: "false",
    SHED_EVENT_LOOP_DELAY_MS: "0",
  });
}

/** Until the products subgraph's availability replica has a row for every stocked product. */
async function replicaCaughtUp(): Promise<number> {
  const products = openPostgres(deriveDatabaseUrl(DATABASE_BASE, "products"));
  const inventory = openPostgres(deriveDatabaseUrl(DATABASE_BASE, "inventory"));
  try {
    const deadline = Date.now() + 600_000;
    for (;;) {
      const [stocked] = await inventory.query<{ count: number }>(`SELECT count(*)::int AS count FROM stock_items`);
      const [replicated] = await products.query<{ count: number }>(`SELECT count(*)::int AS count FROM product_stock`);
      if (replicated!.count >= stocked!.count) return replicated!.count;
      if (Date.now() > deadline) throw new Error(`availability replica at ${replicated!.count} of ${stocked!.count} rows after 10 minutes`);
      await sleep(500);
    }
  } finally {
    await products.close();
    await inventory.close();
  }
}

function generate(count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts/generate-catalog.ts"), String(count)], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: DATABASE_BASE, NODE_ENV: "development" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`generate-catalog exited with ${code}`))));
  });
}

interface Window {
  rps: number;
  p50: number;
  p99: number;
}

async function measure(url: string, workload: Workload, seconds: number): Promise<Window> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: workload.bodies.map((body) => ({ method: "POST", headers: { "content-type": "application/json" }, body })),
  });
  if (result.errors || result.non2xx || result.timeouts) {
    throw new Error(`${workload.name}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
  }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function benchCatalog(label: string): Promise<string[]> {
  progress(`${label}: starting the system on PostgreSQL`);
  const system = await startSystem();
  try {
    const url = `${system.url.replace(/\/$/, "")}/graphql`;
    const replicated = await replicaCaughtUp();
    const count = (await post(url, JSON.stringify({ query: "{ products(first: 1) { totalCount } }" }))).data?.products?.totalCount ?? 0;
    progress(`${label}: ${count} active products, availability replica at ${replicated} rows`);
    for (const workload of WORKLOADS) {
      for (const body of workload.bodies) {
        const answer = await post(url, body);
        if (answer.errors?.length || !answer.data) throw new Error(`${workload.name}: ${JSON.stringify(answer.errors)}`);
      }
    }
    const windows = new Map<string, Window[]>(WORKLOADS.map((w) => [w.name, []]));
    for (const workload of WORKLOADS) await measure(url, workload, WARMUP_SECONDS);
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotated per round, so no workload always runs first.
      const order = WORKLOADS.map((_, i) => WORKLOADS[(i + round) % WORKLOADS.length]!);
      for (const workload of order) {
        await measure(url, workload, WARMUP_SECONDS);
        const window = await measure(url, workload, SECONDS);
        windows.get(workload.name)!.push(window);
        progress(`${label} round ${round} ${workload.name.padEnd(22)} ${window.rps.toFixed(0)} req/s  p50 ${window.p50} ms  p99 ${window.p99} ms`);
      }
    }
    const listing = windows.get("plain listing")!;
    return WORKLOADS.map((workload) => {
      const runs = windows.get(workload.name)!;
      const p50Ratio = median(runs.map((run, i) => run.p50 / Math.max(listing[i]!.p50, 0.5)));
      const p99Ratio = median(runs.map((run, i) => run.p99 / Math.max(listing[i]!.p99, 0.5)));
      return `| ${label} (${count.toLocaleString("en")} active) | ${workload.name} | ${median(runs.map((r) => r.rps)).toFixed(0)} | ${median(runs.map((r) => r.p50))} | ${median(runs.map((r) => r.p99))} | ${p50Ratio.toFixed(2)}x | ${p99Ratio.toFixed(2)}x |`;
    });
  } finally {
    await system.stop();
  }
}

const rows: string[] = [];
try {
  rows.push(...(await benchCatalog("seeded")));
  progress(`generating ${GENERATED.toLocaleString("en")} more products`);
  await generate(GENERATED);
  rows.push(...(await benchCatalog("generated")));
} finally {
  for (const name of SUBGRAPHS) await dropPostgresDatabase(deriveDatabaseUrl(DATABASE_BASE, name)).catch(() => undefined);
}
print(`Search benchmark: ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s timed per workload, ${ROUNDS} rounds; medians; response cache off`);
print();
print("| catalog | workload | req/s | p50 ms | p99 ms | p50 vs listing | p99 vs listing |");
print("| --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) print(row);
