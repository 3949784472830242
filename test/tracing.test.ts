import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { openPostgres, REPO_ROOT, type Database } from "@catalog/common";
import { inventorySubgraph } from "@catalog/inventory";
import { productsSubgraph } from "@catalog/products";
import { usersSubgraph } from "@catalog/users";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_AUTH_ENV } from "./support/auth.ts";
import { createCategoryTree, createProduct, createUser } from "./support/fixtures.ts";
import { PROBE_MARKER } from "./support/module-probe.ts";
import { eventually } from "./support/selling.ts";
import { gql } from "./support/stack.ts";
import "./support/provided.ts";

/** One span as OTLP/JSON carries it, with its service's name. */
interface ExportedSpan {
  service: string;
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
}

/** A real OTLP/HTTP receiver (JSON encoding), keeping every span it is sent. */
async function startReceiver() {
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        for (const resourceSpans of JSON.parse(body).resourceSpans ?? []) {
          const service = resourceSpans.resource.attributes.find((a: any) => a.key === "service.name")?.value.stringValue;
          for (const scopeSpans of resourceSpans.scopeSpans) {
            for (const span of scopeSpans.spans) {
              spans.push({
                service,
                scope: scopeSpans.scope.name,
                name: span.name,
                kind: span.kind,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? "",
                attributes: Object.fromEntries((span.attributes ?? []).map((a: any) => [a.key, Object.values(a.value)[0]])),
              });
            }
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(resolve)) };
}

interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM (the services' own graceful shutdown), then everything it wrote. */
  stop(): Promise<string>;
}

/** A service as production runs it: its own process, its entry point, the telemetry bootstrap first. */
async function startService(entry: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--import", "@catalog/common/telemetry", "--import", path.join(REPO_ROOT, "test/support/module-probe.ts"), path.join(REPO_ROOT, entry)],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", ...TEST_AUTH_ENV, NODE_ENV: "test", PORT: "0", LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    return output;
  };
  spawned.push(stop);
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const listening = /"url":"(http:\/\/[^"/]+)[^"]*"[^\n]*(gateway|subgraph) listening/.exec(output);
      if (listening) resolve(listening[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${entry} exited (${code}) before listening:\n${output}`)));
  });
  return {
    child,
    url,
    output: () => output,
    stop,
  };
}

const QUERY = `query ($id: ID!) {
  product(id: $id) { name inStock inventory { available } reviews(first: 2) { edges { node { rating author { fullName } } } } }
}`;

const loadedModules = (output: string): string[] => {
  const line = output.split("\n").find((each) => each.startsWith(PROBE_MARKER));
  if (!line) throw new Error(`no module report in:\n${output}`);
  return JSON.parse(line.slice(PROBE_MARKER.length)) as string[];
};

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let subgraphs: Record<"users" | "products" | "inventory", ServiceProcess>;
let gateway: ServiceProcess;
let product: { id: string; name: string };
let author: Awaited<ReturnType<typeof createUser>>;
const databases: Database[] = [];
/** Every process started, stopped at the end even when starting the rest failed. */
const spawned: (() => Promise<string>)[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
  const urls = inject("databaseUrls");
  const open = (name: keyof typeof urls) => {
    const db = openPostgres(urls[name], { poolSize: 1 });
    databases.push(db);
    return db.adapter;
  };
  const users = usersSubgraph.createPrisma(open("users"));
  const products = productsSubgraph.createPrisma(open("products"));
  const inventory = inventorySubgraph.createPrisma(open("inventory"));
  const { leaf } = await createCategoryTree(products);
  product = await createProduct(products, { categoryId: leaf.id });
  author = await createUser(users);
  await products.review.create({ data: { productId: product.id, authorId: author.id, rating: 4, body: "Traced." } });
  await inventory.stockItem.create({ data: { productId: product.id, onHand: 7 } });
  await Promise.all([users.$disconnect(), products.$disconnect(), inventory.$disconnect()]);

  const tracing = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    // Export soon after each span ends, so the test waits on arrival rather than on a 5 s batch.
    OTEL_BSP_SCHEDULE_DELAY: "100",
  };
  const subgraph = (name: "users" | "products" | "inventory") =>
    startService(`subgraphs/${name}/src/index.ts`, {
      ...tracing,
      [`${name.toUpperCase()}_DATABASE_URL`]: urls[name],
      MIGRATE_ON_START: "false",
      SEED_ON_START: "false",
    });
  const [u, p, i] = await Promise.all([subgraph("users"), subgraph("products"), subgraph("inventory")]);
  subgraphs = { users: u, products: p, inventory: i };
  gateway = await startService("gateway/src/index.ts", {
    ...tracing,
    USERS_SUBGRAPH_URL: `${u.url}/graphql`,
    PRODUCTS_SUBGRAPH_URL: `${p.url}/graphql`,
    INVENTORY_SUBGRAPH_URL: `${i.url}/graphql`,
    // Not part of the query; nothing listens there.
    ORDERS_SUBGRAPH_URL: "http://127.0.0.1:9/graphql",
    RESPONSE_CACHE_ENABLED: "false",
    RATE_LIMIT_ENABLED: "false",
  });
  // Four processes starting at once on a busy two-core machine: give them time, not a race.
}, 300_000);

afterAll(async () => {
  await Promise.all(spawned.map((stop) => stop()));
  await Promise.all(databases.map((db) => db.close()));
  await receiver?.close();
});

describe("tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)", () => {
  it("follows one query across the gateway and each subgraph it calls, down to their SQL, in one trace", async () => {
    const answer = await gql(gateway.url, QUERY, { id: product.id });
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!.product).toMatchObject({ name: product.name, inStock: true, inventory: { available: 7 } });
    expect(answer.body.data!.product.reviews.edges).toEqual([{ node: { rating: 4, author: { fullName: `${author.firstName} ${author.lastName}` } } }]);

    const server = (service: string, trace?: string) =>
      receiver.spans.filter((s) => s.service === service && s.kind === 2 && s.name === "POST" && (trace === undefined || s.traceId === trace));
    // The gateway's request span is its root: the HTTP server span of the query's POST.
    const root = await eventually(async () => {
      const [request] = receiver.spans.filter((s) => s.service === "gateway" && s.name === "gateway.request");
      expect(request).toBeDefined();
      return request!;
    });
    const trace = root.traceId;
    const inTrace = () => receiver.spans.filter((s) => s.traceId === trace);
    await eventually(async () => {
      for (const name of ["subgraph-users", "subgraph-products", "subgraph-inventory"]) {
        expect(inTrace().some((s) => s.service === name && s.scope.includes("instrumentation-pg") && s.name.startsWith("pg.query"))).toBe(true);
      }
      expect(inTrace().filter((s) => s.service === "gateway" && s.name === "gateway.fetch").length).toBeGreaterThanOrEqual(3);
    });
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const gatewayServer = byId.get(root.parentSpanId)!;
    expect(gatewayServer).toMatchObject({ service: "gateway", kind: 2, parentSpanId: "" });
    for (const name of ["gateway.plan", "gateway.execute"]) expect(spans.some((s) => s.service === "gateway" && s.name === name)).toBe(true);

    for (const name of ["users", "products", "inventory"] as const) {
      // Each subgraph's server span continues the gateway's client call (W3C traceparent)...
      const [subgraphServer] = server(`subgraph-${name}`, trace);
      expect(subgraphServer).toBeDefined();
      const client = byId.get(subgraphServer!.parentSpanId)!;
      expect(client).toMatchObject({ service: "gateway", kind: 3 });
      expect(String(client.attributes["url.full"])).toBe(`${subgraphs[name].url}/graphql`);
      // ...made for one of the query plan's fetches.
      expect(byId.get(client.parentSpanId)).toMatchObject({ service: "gateway", name: "gateway.fetch" });
      // Below it, the subgraph's loader batches and their SQL statements.
      const below = (span: ExportedSpan): boolean => span.spanId === subgraphServer!.spanId || (byId.has(span.parentSpanId) && below(byId.get(span.parentSpanId)!));
      const sql = spans.filter((s) => s.service === `subgraph-${name}` && s.name.startsWith("pg.query"));
      expect(sql.length).toBeGreaterThan(0);
      for (const statement of sql) expect(below(statement)).toBe(true);
      expect(spans.some((s) => s.service === `subgraph-${name}` && s.name === "dataloader.batch" && below(s))).toBe(true);
    }
  });

  it("continues a caller's trace and writes its trace id into the request's log lines", async () => {
    const traceId = randomBytes(16).toString("hex");
    const response = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer not-a-token",
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
      },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.status).toBe(401);
    await response.body?.cancel();
    const line = await eventually(async () => {
      const refused = gateway
        .output()
        .split("\n")
        .filter((each) => each.includes("access token refused"))
        .map((each) => JSON.parse(each) as Record<string, unknown>)
        .find((entry) => entry.trace_id === traceId);
      expect(refused).toBeDefined();
      return refused!;
    });
    expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
    await eventually(async () => expect(receiver.spans.some((s) => s.traceId === traceId && s.spanId === line.span_id)).toBe(true));
  });
});

describe("tracing off (no OTLP endpoint)", () => {
  it("loads no SDK, registers no hook, exports nothing and sends no trace context to subgraphs", async () => {
    const untraced = await startService("gateway/src/index.ts", {
      // A service name alone does not turn tracing on.
      OTEL_SERVICE_NAME: "gateway-untraced",
      PRODUCTS_SUBGRAPH_URL: `${subgraphs.products.url}/graphql`,
      USERS_SUBGRAPH_URL: `${subgraphs.users.url}/graphql`,
      INVENTORY_SUBGRAPH_URL: `${subgraphs.inventory.url}/graphql`,
      ORDERS_SUBGRAPH_URL: "http://127.0.0.1:9/graphql",
      RESPONSE_CACHE_ENABLED: "false",
      RATE_LIMIT_ENABLED: "false",
    });
    let output: string;
    try {
      const rootsBefore = receiver.spans.filter((s) => s.service === "subgraph-products" && s.kind === 2 && s.parentSpanId === "").length;
      const answer = await gql(untraced.url, `query ($id: ID!) { product(id: $id) { name } }`, { id: product.id });
      expect(answer.body.data).toEqual({ product: { name: product.name } });
      // The traced subgraph saw the call with no traceparent: its server span starts a trace of its own.
      await eventually(async () =>
        expect(receiver.spans.filter((s) => s.service === "subgraph-products" && s.kind === 2 && s.parentSpanId === "").length).toBe(rootsBefore + 1),
      );
    } finally {
      output = await untraced.stop();
    }
    expect(receiver.spans.some((s) => s.service === "gateway-untraced")).toBe(false);
    expect(loadedModules(output)).toEqual([]);
    // The same report from the traced gateway, so an empty one above means something.
    expect(loadedModules(await gateway.stop())).toEqual(expect.arrayContaining(["@opentelemetry/sdk-node", "import-in-the-middle"]));
  });
});
