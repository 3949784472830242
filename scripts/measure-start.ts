// npx tsx scripts/measure-start.ts [runs]: start time and memory of tsx against the compiled build
// (run `npm run build` first), on the PostgreSQL and Redis at 127.0.0.1, with the demo catalog in
// throwaway databases. For the products subgraph, the gateway and the whole system (`npm start`'s
// two commands), each run: process start to the first 200 from /ready, then the RSS of the process
// (with its children: tsx's CLI keeps a parent process) after start and after 300 queries.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { deriveDatabaseUrl, dropPostgresDatabase, REPO_ROOT, SUBGRAPHS } from "@catalog/common";
import {
  bannerUrl,
  COMPILED_CONDITION,
  freePorts,
  rssMiB,
  spawnNode,
  SUBGRAPH_NAMES,
  waitReady,
  type ServiceProcess,
} from "./compiled-services.ts";

const RUNS = Number(process.argv[2] ?? 3);
const QUERIES = 300;
const TSX_CLI = fileURLToPath(import.meta.resolve("tsx/cli"));
const compiled = (entry: string) => [`--conditions=${COMPILED_CONDITION}`, entry];
const viaTsx = (entry: string) => ["--import", "tsx", entry];

const base = `catalog_measure_${randomBytes(4).toString("hex")}`;
const databaseUrl = `postgresql://postgres@127.0.0.1:5432/${base}`;
const secret = randomBytes(48).toString("base64");
const env = {
  PATH: process.env.PATH,
  NODE_ENV: "production",
  DATABASE_URL: databaseUrl,
  REDIS_URL: "redis://127.0.0.1:6379",
  REDIS_KEY_PREFIX: `${base}:`,
  JWT_SECRET: secret,
  INTERNAL_AUTH_SECRET: secret,
  LOG_LEVEL: "warn",
  MIGRATE_ON_START: "false",
  // Every query is a new response-cache miss's worth of work only if nothing is cached or limited.
  RESPONSE_CACHE_ENABLED: "false",
  RATE_LIMIT_ENABLED: "false",
  // This machine is shared and busy: shedding would refuse the measured queries.
  SHED_EVENT_LOOP_DELAY_MS: "0",
};

/** RSS of `pid` and all its descendants. */
async function treeRssMiB(pid: number): Promise<number> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "")).trim();
  const below = await Promise.all(children ? children.split(/\s+/).map((child) => treeRssMiB(Number(child))) : []);
  return (await rssMiB(pid)) + below.reduce((a, b) => a + b, 0);
}

const LISTING = `{ products(first: 10, sort: PRICE_ASC) { edges { node { name price { amount } inventory { available } } } } }`;
const DETAIL = `{ productBySku(sku: "SKU-00042") { name inventory { available } shippingEstimate { minDays }
  reviews(first: 3) { edges { node { rating author { fullName } } } } } }`;

/** `QUERIES` queries through the gateway, ten at a time, each checked. */
async function load(gatewayUrl: string, query: string): Promise<void> {
  let sent = 0;
  const worker = async () => {
    while (sent < QUERIES) {
      sent++;
      const response = await fetch(`${gatewayUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query }),
      });
      const body = (await response.json()) as { errors?: unknown };
      if (response.status !== 200 || body.errors) throw new Error(`query failed: ${JSON.stringify(body)}`);
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
}

interface Sample {
  readyMs: number;
  rssStart: number;
  rssLoaded: number;
}

async function measure(start: () => Promise<{ service: ServiceProcess; url: string }>, query: string, gatewayUrl?: string): Promise<Sample> {
  const began = performance.now();
  const { service, url } = await start();
  try {
    await waitReady(service, url);
    const readyMs = performance.now() - began;
    const rssStart = await treeRssMiB(service.child.pid!);
    await load(gatewayUrl ?? url, query);
    const rssLoaded = await treeRssMiB(service.child.pid!);
    return { readyMs, rssStart, rssLoaded };
  } finally {
    await service.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function report(label: string, command: string, samples: Sample[]): void {
  const ready = (median(samples.map((s) => s.readyMs)) / 1000).toFixed(1);
  const spread = samples.map((s) => (s.readyMs / 1000).toFixed(1)).join("/");
  console.log(
    `| ${label} | \`${command}\` | ${ready} s (${spread}) | ${median(samples.map((s) => s.rssStart)).toFixed(0)} MiB | ${median(samples.map((s) => s.rssLoaded)).toFixed(0)} MiB |`,
  );
}

/** `what` started `RUNS` times each way: one table row per way. */
async function compare(
  what: string,
  ways: Record<"tsx" | "compiled", readonly string[]>,
  start: (argv: readonly string[]) => Promise<{ service: ServiceProcess; url: string }>,
  query: string,
  loadUrl?: string,
): Promise<void> {
  for (const [way, argv] of Object.entries(ways)) {
    const samples: Sample[] = [];
    for (let run = 0; run < RUNS; run++) samples.push(await measure(() => start(argv), query, loadUrl));
    const command = argv[0] === TSX_CLI ? ["tsx", ...argv.slice(1)] : ["node", ...argv];
    report(`${what}, ${way}`, command.join(" "), samples);
  }
}

const others: ServiceProcess[] = [];
try {
  for (const [script, nodeEnv] of [["db-migrate", "production"], ["db-seed", "development"]] as const) {
    const job = spawnNode(script, compiled(`dist/scripts/${script}.js`), REPO_ROOT, { ...env, NODE_ENV: nodeEnv });
    if ((await job.exited) !== 0) throw new Error(job.output());
  }
  const ports = await freePorts(6);
  const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
  const wired = {
    ...env,
    ...Object.fromEntries(SUBGRAPH_NAMES.map((name, i) => [`${name.toUpperCase()}_SUBGRAPH_URL`, `${url(i)}/graphql`])),
  };
  const products = SUBGRAPH_NAMES.indexOf("products");
  // The subgraphs not being measured, and a gateway in front of products: compiled, started once.
  for (const [i, name] of SUBGRAPH_NAMES.entries()) {
    if (i === products) continue;
    others.push(spawnNode(name, compiled(`subgraphs/${name}/dist/index.js`), REPO_ROOT, { ...wired, PORT: String(ports[i]) }));
  }
  const frontGateway = spawnNode("gateway", compiled("gateway/dist/index.js"), REPO_ROOT, { ...wired, PORT: String(ports[4]) });
  others.push(frontGateway);
  await Promise.all(others.slice(0, 3).map((s, n) => waitReady(s, url(n >= products ? n + 1 : n))));

  console.log(`| what | command | start to /ready 200 (median, runs) | RSS after start | RSS after ${QUERIES} queries |`);
  console.log("| --- | --- | --- | --- | --- |");
  await compare(
    "products subgraph",
    { tsx: viaTsx("subgraphs/products/src/index.ts"), compiled: compiled("subgraphs/products/dist/index.js") },
    async (argv) => ({ service: spawnNode("products", argv, REPO_ROOT, { ...wired, PORT: String(ports[products]) }), url: url(products) }),
    LISTING,
    url(4),
  );
  // From here products is a compiled process of its own, for the gateways measured next.
  others.push(spawnNode("products", compiled("subgraphs/products/dist/index.js"), REPO_ROOT, { ...wired, PORT: String(ports[products]) }));
  await waitReady(frontGateway, url(4));
  await compare(
    "gateway",
    { tsx: viaTsx("gateway/src/index.ts"), compiled: compiled("gateway/dist/index.js") },
    async (argv) => ({ service: spawnNode("gateway", argv, REPO_ROOT, { ...wired, PORT: String(ports[5]) }), url: url(5) }),
    DETAIL,
  );
  await compare(
    "npm start",
    { tsx: [TSX_CLI, "scripts/start.ts"], compiled: compiled("dist/scripts/start.js") },
    async (argv) => {
      const service = spawnNode("npm start", argv, REPO_ROOT, { ...env, PORT: "0", SUBGRAPH_PORT_BASE: "0" });
      return { service, url: await bannerUrl(service) };
    },
    DETAIL,
  );
} finally {
  await Promise.all(others.map((s) => s.stop()));
  await Promise.all(SUBGRAPHS.map((name) => dropPostgresDatabase(deriveDatabaseUrl(databaseUrl, name)).catch(() => undefined)));
}
