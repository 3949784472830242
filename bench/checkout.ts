// npm run bench:checkout: orders per second from 20 concurrent shoppers, with zero oversell
// checked after every phase, against an authenticated read of similar size in the same run.
//
// The whole system (scripts/start.ts: four subgraphs + gateway) runs once in a child process, so
// the shoppers (in this process) do not share its event loop. Rate limits are off (every shopper
// comes from one IP) and unpaid orders do not expire during the run, so the only thing that moves
// reserved stock is the benchmark's own orders. Phases, each bounded by BENCH_SECONDS (default 10)
// and by a maximum number of attempts:
//
//   baseline        each shopper reads `me` and a random product with its stock
//   hot product     every shopper orders the same product: all contend for one stock row
//   1,000 products  each order is for a random one of 1,000 products: little contention
//   sell-out        a new product with 200 units; shoppers order until each has been refused
//
// After each ordering phase the stock is read back through the gateway as admin: `reserved` must
// have grown by exactly the orders accepted, on hand must not have moved, and reserved must never
// exceed on hand. Targets 127.0.0.1 only; stops the system and removes what it created.
//
// Data: with DATABASE_URL, throwaway databases `catalog_bench_<pid>_<subgraph>` on that server
// (dropped at the end), never the ones it names; else embedded PGlite in a temporary directory.
// REDIS_URL is used when set, under a per-run key prefix deleted at the end.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { deriveDatabaseUrl, dropPostgresDatabase, SEED_DEMO_PASSWORD, SUBGRAPHS } from "@catalog/common";
import { Redis } from "ioredis";
import { startSystemProcess, type SystemProcess } from "../scripts/start-process.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SHOPPERS = 20;
/** Backstop for the timed phases; below the hot product's stock, so that phase cannot sell out. */
const MAX_ATTEMPTS = 50_000;
const HOT_STOCK = [100_000, 100_000]; // adjustStock takes at most 100,000 per call
const SPREAD_PRODUCTS = 1_000;
const SPREAD_TOP_UP = 1_000;
const SELL_OUT_UNITS = 200;
const SELL_OUT_MAX_ATTEMPTS = 2_000;
/** The sell-out phase ends on refusals, not on time; this only bounds a system that stopped answering. */
const SELL_OUT_TIMEOUT_MS = 180_000;
const REQUEST_TIMEOUT_MS = 30_000;
const PREFIX = `bench-checkout-${process.pid}`;
const print = (line = "") => process.stdout.write(`${line}\n`);

const ADDRESS = { name: "Bench Shopper", line1: "Teststrasse 1", city: "Berlin", postalCode: "10115", country: "DE" };
const PLACE_ORDER = `mutation PlaceOrder($lines: [CartLineInput!]!, $address: AddressInput!, $key: String!) {
  placeOrder(lines: $lines, shippingAddress: $address, idempotencyKey: $key) { id status } }`;
const BASELINE = `query Baseline($id: ID!) { me { id } product(id: $id) { id price { amount } inventory { available } } }`;
const ADJUST_STOCK = `mutation AdjustStock($id: ID!, $delta: Int!) {
  adjustStock(productId: $id, delta: $delta, reason: RECEIVED, note: "bench:checkout") { id inventory { onHand reserved available } } }`;
/** Products per stock read: one aliased `product` root field each, within the gateway's 20-root-field limit. */
const STOCK_CHUNK = 20;

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}
interface Reply<T> {
  data?: T | null;
  errors?: GraphQLError[];
  cache: string | null;
}
interface Level {
  onHand: number;
  reserved: number;
  available: number;
}
type Outcome = { kind: "ok"; productId?: string; cacheHit?: boolean } | { kind: "refused" } | { kind: "error"; message: string };
interface Tally {
  seconds: number;
  attempts: number;
  latencies: number[];
  ok: number;
  refused: number;
  cacheHits: number;
  errors: Map<string, number>;
  /** Successful orders per product (quantity 1 each). */
  sold: Map<string, number>;
}
interface Row {
  phase: string;
  unit: "req/s" | "orders/s";
  tally: Tally;
  oversold: number | null;
}

function gateway(endpoint: string) {
  async function request<T>(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Reply<T>> {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const cache = response.headers.get("x-cache");
    if (!response.headers.get("content-type")?.includes("json")) {
      return { errors: [{ message: `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}` }], cache };
    }
    return { ...((await response.json()) as Omit<Reply<T>, "cache">), cache };
  }
  /** Setup and verification calls: any error stops the benchmark. */
  async function must<T>(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
    const reply = await request<T>(query, variables, token);
    if (reply.errors?.length || !reply.data) throw new Error(`${query.slice(0, 60)}... failed: ${JSON.stringify(reply.errors ?? reply.data)}`);
    return reply.data;
  }
  return { request, must };
}
type Gateway = ReturnType<typeof gateway>;

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function errorText(errors: readonly GraphQLError[]): string {
  return errors.map((e) => `${e.extensions?.code ?? "NO_CODE"}: ${e.message}`).join("; ");
}

async function placeOrder(api: Gateway, token: string, productId: string): Promise<Outcome> {
  const reply = await api.request<{ placeOrder: { id: string; status: string } | null }>(
    PLACE_ORDER,
    { lines: [{ productId, quantity: 1 }], address: ADDRESS, key: randomUUID() },
    token,
  );
  const errors = reply.errors ?? [];
  if (errors.length === 0 && reply.data?.placeOrder?.status === "PENDING") return { kind: "ok", productId };
  if (errors.length > 0 && errors.every((e) => e.extensions?.code === "INSUFFICIENT_STOCK")) return { kind: "refused" };
  return { kind: "error", message: errors.length ? errorText(errors) : `unexpected answer ${JSON.stringify(reply.data)}` };
}

async function readBaseline(api: Gateway, token: string, productId: string): Promise<Outcome> {
  const reply = await api.request<{ me: { id: string } | null; product: { id: string } | null }>(BASELINE, { id: productId }, token);
  if (reply.errors?.length) return { kind: "error", message: errorText(reply.errors) };
  if (!reply.data?.me || reply.data.product?.id !== productId) return { kind: "error", message: `unexpected answer ${JSON.stringify(reply.data)}` };
  return { kind: "ok", cacheHit: reply.cache === "HIT" };
}

/**
 * Every shopper loops on `step` until the deadline or the shared attempt budget runs out (or, with
 * `stopOnRefusal`, until it has been refused once). Transport failures count as errors.
 */
async function drive(
  tokens: readonly string[],
  limits: { until: number; maxAttempts: number; stopOnRefusal?: boolean },
  step: (token: string) => Promise<Outcome>,
): Promise<Tally> {
  const tally: Tally = { seconds: 0, attempts: 0, latencies: [], ok: 0, refused: 0, cacheHits: 0, errors: new Map(), sold: new Map() };
  const started = performance.now();
  await Promise.all(
    tokens.map(async (token) => {
      while (tally.attempts < limits.maxAttempts && Date.now() < limits.until) {
        tally.attempts++;
        const sent = performance.now();
        const outcome = await step(token).catch((error: unknown): Outcome => ({ kind: "error", message: `request failed: ${(error as Error).message}` }));
        tally.latencies.push(performance.now() - sent);
        if (outcome.kind === "ok") {
          tally.ok++;
          if (outcome.cacheHit) tally.cacheHits++;
          if (outcome.productId) tally.sold.set(outcome.productId, (tally.sold.get(outcome.productId) ?? 0) + 1);
        } else if (outcome.kind === "refused") {
          tally.refused++;
          if (limits.stopOnRefusal) break;
        } else {
          tally.errors.set(outcome.message, (tally.errors.get(outcome.message) ?? 0) + 1);
        }
      }
    }),
  );
  tally.seconds = (performance.now() - started) / 1000;
  return tally;
}

async function readStock(api: Gateway, adminToken: string, ids: readonly string[]): Promise<Map<string, Level>> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += STOCK_CHUNK) chunks.push(ids.slice(i, i + STOCK_CHUNK));
  const levels = new Map<string, Level>();
  await inParallel(chunks, 4, async (chunk) => {
    const query = `query Stock(${chunk.map((_, i) => `$p${i}: ID!`).join(", ")}) {
      ${chunk.map((_, i) => `p${i}: product(id: $p${i}) { id inventory { onHand reserved available } }`).join("\n")} }`;
    const data = await api.must<Record<string, { id: string; inventory: Level } | null>>(
      query,
      Object.fromEntries(chunk.map((id, i) => [`p${i}`, id])),
      adminToken,
    );
    chunk.forEach((id, i) => {
      const product = data[`p${i}`];
      if (!product) throw new Error(`product ${id} is missing from the stock read`);
      levels.set(id, product.inventory);
    });
  });
  return levels;
}

/** Zero oversell: every accepted order holds exactly one unit, and nothing else moved the stock. */
function verify(phase: string, before: Map<string, Level>, after: Map<string, Level>, sold: Map<string, number>): { oversold: number; problems: string[] } {
  const problems: string[] = [];
  let oversold = 0;
  for (const id of sold.keys()) if (!before.has(id)) problems.push(`${phase}: ordered product ${id} that the phase does not use`);
  for (const [id, was] of before) {
    const now = after.get(id);
    const ordered = sold.get(id) ?? 0;
    if (!now) {
      problems.push(`${phase}: no stock read back for product ${id}`);
      continue;
    }
    oversold += Math.max(0, ordered - was.available);
    const seen = `onHand ${now.onHand} reserved ${now.reserved} available ${now.available}`;
    if (now.reserved !== was.reserved + ordered) {
      problems.push(`${phase}: product ${id} ${seen}; expected reserved ${was.reserved} before + ${ordered} ordered = ${was.reserved + ordered}`);
    }
    if (now.onHand !== was.onHand) problems.push(`${phase}: product ${id} on hand moved from ${was.onHand} to ${now.onHand}`);
    if (now.available < 0 || now.reserved > now.onHand || now.available !== now.onHand - now.reserved) {
      problems.push(`${phase}: product ${id} inconsistent stock: ${seen}`);
    }
  }
  if (oversold > 0) problems.push(`${phase}: ${oversold} units sold beyond what was available`);
  return { oversold, problems };
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]! : NaN;
}
const ms = (value: number) => (Number.isNaN(value) ? "-" : `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ms`);

async function activeProductIds(api: Gateway, count: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  while (ids.length < count) {
    const page: { products: { edges: { node: { id: string } }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } } = await api.must(
      `query Ids($after: String) { products(first: 100, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } } }`,
      { after },
    );
    ids.push(...page.products.edges.map((edge) => edge.node.id));
    if (!page.products.pageInfo.hasNextPage) break;
    after = page.products.pageInfo.endCursor;
  }
  if (ids.length < count) throw new Error(`the catalog has ${ids.length} active products; the benchmark needs ${count}`);
  return ids.slice(0, count);
}

async function signIn(api: Gateway): Promise<{ admin: string; shoppers: string[] }> {
  const login = await api.must<{ login: { accessToken: string } }>(
    `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }`,
    { email: "admin@example.com", password: SEED_DEMO_PASSWORD },
  );
  const shoppers: string[] = new Array<string>(SHOPPERS);
  // Each registration hashes a password (argon2id) in the system's process: a few at a time.
  await inParallel([...Array(SHOPPERS).keys()], 4, async (i) => {
    const data = await api.must<{ register: { accessToken: string } }>(
      `mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }`,
      { input: { email: `shopper${i}.${PREFIX}@example.com`, password: `bench-${randomUUID()}`, firstName: "Bench", lastName: `Shopper ${i}` } },
    );
    shoppers[i] = data.register.accessToken;
  });
  return { admin: login.login.accessToken, shoppers };
}

async function addStock(api: Gateway, adminToken: string, productId: string, delta: number): Promise<void> {
  await api.must(ADJUST_STOCK, { id: productId, delta }, adminToken);
}

async function newProduct(api: Gateway, adminToken: string): Promise<string> {
  const { categories } = await api.must<{ categories: { id: string }[] }>(`{ categories { id } }`);
  if (!categories[0]) throw new Error("the catalog has no category");
  const data = await api.must<{ createProduct: { id: string } }>(
    `mutation Create($input: CreateProductInput!) { createProduct(input: $input) { id } }`,
    { input: { sku: `BENCH-${process.pid}-${Date.now()}`, name: "Bench sell-out product", price: { amount: "9.99", currency: "USD" }, weightGrams: 500, categoryId: categories[0].id } },
    adminToken,
  );
  return data.createProduct.id;
}

/** An ordering phase between two stock reads of the products it uses. */
async function orderPhase(
  api: Gateway,
  adminToken: string,
  phase: string,
  productIds: readonly string[],
  run: () => Promise<Tally>,
): Promise<{ tally: Tally; oversold: number; problems: string[] }> {
  const before = await readStock(api, adminToken, productIds);
  const tally = await run();
  const after = await readStock(api, adminToken, productIds);
  return { tally, ...verify(phase, before, after, tally.sold) };
}

function startSystem(dataDir: string, databaseUrl: string | undefined): Promise<SystemProcess> {
  return startSystemProcess({
    ...process.env,
    DATA_DIR: dataDir,
    PORT: "0",
    SUBGRAPH_PORT_BASE: "0",
    LOG_LEVEL: "error",
    RATE_LIMIT_ENABLED: "false",
    SIGNIN_RATE_LIMIT_POINTS: "1000000",
    // Accepted orders stay PENDING and keep their stock held for the whole run.
    ORDER_PAYMENT_TIMEOUT_SECONDS: "86400",
    // Each shopper leaves thousands of orders unpaid; the per-customer cap would stop them at 5.
    MAX_UNPAID_ORDERS: "1000000",
    DATABASE_URL: databaseUrl,
    // Per-subgraph overrides would point a subgraph at the user's own database: never here.
    ...Object.fromEntries(SUBGRAPHS.map((name) => [`${name.toUpperCase()}_DATABASE_URL`, undefined])),
    REDIS_KEY_PREFIX: `${PREFIX}:`,
  });
}

function report(rows: readonly Row[], dataMode: string): void {
  const baseline = rows.find((row) => row.unit === "req/s");
  const rate = (row: Row) => row.tally.ok / row.tally.seconds;
  const errorCount = (tally: Tally) => [...tally.errors.values()].reduce((sum, n) => sum + n, 0);
  print(`Checkout: ${SHOPPERS} concurrent shoppers, one placeOrder (quantity 1) at a time each, ${SECONDS} s per timed phase`);
  print(`Data: ${dataMode}; cache store: ${process.env.REDIS_URL ? "Redis (REDIS_URL)" : "in-process"}\n`);
  const header = ["phase", "rate", "vs baseline", "p50", "p99", "successful", "refused", "errors", "oversold"];
  const cells = rows.map((row) => {
    const sorted = [...row.tally.latencies].sort((a, b) => a - b);
    return [
      row.phase,
      `${rate(row).toFixed(1)} ${row.unit}`,
      baseline ? `${(rate(row) / rate(baseline)).toFixed(2)}x` : "-",
      ms(percentile(sorted, 0.5)),
      ms(percentile(sorted, 0.99)),
      String(row.tally.ok),
      String(row.tally.refused),
      String(errorCount(row.tally)),
      row.oversold === null ? "-" : String(row.oversold),
    ];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  for (const line of [header, ...cells]) print(`  ${line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("   ")}`);
  if (baseline) {
    print(`\n  baseline: ${baseline.tally.cacheHits} of ${baseline.tally.ok} reads answered from the response cache (x-cache: HIT)`);
  }
  print("  latencies are of every request in the phase (accepted and refused); rates count successful requests only");
}

if (!Number.isFinite(SECONDS) || SECONDS <= 0) throw new Error(`BENCH_SECONDS must be a positive number, not ${process.env.BENCH_SECONDS}`);

const dataDir = await mkdtemp(path.join(tmpdir(), "catalog-bench-checkout-"));
let benchDatabaseUrl: string | undefined;
if (process.env.DATABASE_URL) {
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/catalog_bench_${process.pid}`;
  benchDatabaseUrl = url.toString();
}
const dataMode = benchDatabaseUrl
  ? `PostgreSQL (DATABASE_URL's server, throwaway databases catalog_bench_${process.pid}_*)`
  : "embedded PGlite (one connection per subgraph: slow, not comparable with PostgreSQL figures)";
let system: SystemProcess | undefined;
try {
  system = await startSystem(dataDir, benchDatabaseUrl);
  const api = gateway(`${system.url.replace("localhost", "127.0.0.1")}/graphql`);
  const { admin, shoppers } = await signIn(api);

  const catalog = await activeProductIds(api, 1 + SPREAD_PRODUCTS);
  const hot = catalog[0]!;
  const spread = catalog.slice(1);
  for (const delta of HOT_STOCK) await addStock(api, admin, hot, delta);
  const toppedUp = performance.now();
  await inParallel(spread, 10, (id) => addStock(api, admin, id, SPREAD_TOP_UP));
  const topUpSeconds = (performance.now() - toppedUp) / 1000;
  const soldOut = await newProduct(api, admin);
  await addStock(api, admin, soldOut, SELL_OUT_UNITS);
  const randomOf = (ids: readonly string[]) => ids[Math.floor(Math.random() * ids.length)]!;

  // Warm-up (query plans, connections, JIT) outside any measurement and before any "before" read.
  await Promise.all(
    shoppers.map(async (token) => {
      const outcomes = [await readBaseline(api, token, randomOf(spread)), await placeOrder(api, token, hot)];
      const failed = outcomes.find((outcome) => outcome.kind !== "ok");
      if (failed) throw new Error(`warm-up failed: ${JSON.stringify(failed)}`);
    }),
  );

  const rows: Row[] = [];
  const problems: string[] = [];
  const timed = () => ({ until: Date.now() + SECONDS * 1000, maxAttempts: MAX_ATTEMPTS });

  const baseline = await drive(shoppers, timed(), (token) => readBaseline(api, token, randomOf(spread)));
  rows.push({ phase: "baseline (read)", unit: "req/s", tally: baseline, oversold: null });

  const hotPhase = await orderPhase(api, admin, "hot product", [hot], () => drive(shoppers, timed(), (token) => placeOrder(api, token, hot)));
  rows.push({ phase: "hot product", unit: "orders/s", tally: hotPhase.tally, oversold: hotPhase.oversold });
  problems.push(...hotPhase.problems);

  const spreadPhase = await orderPhase(api, admin, "1,000 products", spread, () =>
    drive(shoppers, timed(), (token) => placeOrder(api, token, randomOf(spread))),
  );
  rows.push({ phase: "1,000 products", unit: "orders/s", tally: spreadPhase.tally, oversold: spreadPhase.oversold });
  problems.push(...spreadPhase.problems);

  const sellOut = await orderPhase(api, admin, "sell-out", [soldOut], () =>
    drive(shoppers, { until: Date.now() + SELL_OUT_TIMEOUT_MS, maxAttempts: SELL_OUT_MAX_ATTEMPTS, stopOnRefusal: true }, (token) => placeOrder(api, token, soldOut)),
  );
  rows.push({ phase: `sell-out (${SELL_OUT_UNITS} units)`, unit: "orders/s", tally: sellOut.tally, oversold: sellOut.oversold });
  problems.push(...sellOut.problems);
  if (sellOut.tally.ok !== SELL_OUT_UNITS) problems.push(`sell-out: ${sellOut.tally.ok} orders accepted, expected exactly ${SELL_OUT_UNITS}`);

  for (const row of rows) {
    for (const [message, count] of row.tally.errors) problems.push(`${row.phase}: ${count} x ${message}`);
  }
  report(rows, dataMode);
  print(`  setup: ${SPREAD_PRODUCTS.toLocaleString("en-US")} products topped up (+${SPREAD_TOP_UP.toLocaleString("en-US")} each, 10 at a time) in ${topUpSeconds.toFixed(1)} s`);
  if (problems.length) {
    print(`\nPROBLEMS (${problems.length}):`);
    for (const problem of problems.slice(0, 50)) print(`  ${problem}`);
    if (problems.length > 50) print(`  ... and ${problems.length - 50} more`);
    process.exitCode = 1;
  } else {
    print("\n  zero oversell: every product's reserved stock grew by exactly the orders accepted");
  }
} catch (error) {
  console.error(`bench:checkout failed: ${(error as Error).stack ?? String(error)}`);
  if (system) console.error(`system output (last 4000 characters):\n${system.output().slice(-4000)}`);
  process.exitCode = 1;
} finally {
  // A system that already exited would never report its exit to stop().
  if (system && system.child.exitCode === null && system.child.signalCode === null) await system.stop();
  await rm(dataDir, { recursive: true, force: true });
  if (benchDatabaseUrl) {
    for (const name of SUBGRAPHS) {
      await dropPostgresDatabase(deriveDatabaseUrl(benchDatabaseUrl, name)).catch((error: unknown) => {
        console.error(`could not drop the ${name} bench database: ${(error as Error).message}`);
        process.exitCode = 1;
      });
    }
  }
  if (process.env.REDIS_URL) {
    const redis = new Redis(process.env.REDIS_URL);
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}
