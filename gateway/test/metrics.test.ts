import { readFile } from "node:fs/promises";
import { REPO_ROOT } from "@catalog/common";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stockedProduct } from "../../test/support/selling.ts";
import { gql, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
let product: { id: string };
beforeAll(async () => {
  stack = await startStack();
  product = await stockedProduct(stack, 3);
});
afterAll(async () => {
  await stack?.close();
});

const text = async (url: string) => (await fetch(url)).text();

/** A series' value in Prometheus' text format, 0 when absent. */
function value(metrics: string, series: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("Prometheus histograms", () => {
  it("time every gateway request by operation and outcome, and every subgraph call by subgraph and outcome", async () => {
    const gateway = await startExtraGateway(stack, { RESPONSE_CACHE_ENABLED: "false", METRICS_MAX_OPERATION_NAMES: "2" });
    try {
      // Refused before GraphQL (a bad token): its body's name takes no label slot.
      const refused = await gql(gateway.url, `query Invented { __typename }`, {}, { authorization: "Bearer not-a-token" });
      expect(refused.status).toBe(401);
      const stock = `query StockOf($id: ID!) { product(id: $id) { id inventory { onHand } } }`;
      expect((await gql(gateway.url, stock, { id: product.id })).body.errors).toBeUndefined();
      expect((await gql(gateway.url, stock, { id: product.id })).body.errors).toBeUndefined();
      // A field error: data with errors is a partial answer.
      const partial = await gql(gateway.url, `query Partial { a: products(first: 1) { totalCount } b: product(id: "not-an-id") { id } }`);
      expect(partial.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      // Refused before execution (unknown field): rejected, 400, under no name (none was resolved).
      expect((await gql(gateway.url, `query Refused { nope }`)).status).toBe(400);
      // A third name, past METRICS_MAX_OPERATION_NAMES=2.
      await gql(gateway.url, `query Third { __typename }`);

      const metrics = await text(`${gateway.url}/metrics`);
      const count = (labels: string) => value(metrics, `gateway_request_duration_seconds_count{${labels}}`);
      expect(count('operation="StockOf",outcome="ok"')).toBe(2);
      expect(count('operation="Partial",outcome="partial"')).toBe(1);
      expect(count('operation="anonymous",outcome="rejected"')).toBe(1);
      expect(count('operation="other",outcome="ok"')).toBe(1);
      expect(metrics).not.toMatch(/operation="(Refused|Third|Invented)"/);
      expect(count('operation="none",outcome="rejected"')).toBe(1);
      expect(value(metrics, 'gateway_request_duration_seconds_bucket{le="+Inf",operation="StockOf",outcome="ok"}')).toBe(2);
      // Two products calls and two inventory calls for StockOf (entity batching is per tick, not across requests).
      expect(value(metrics, 'gateway_subgraph_fetch_duration_seconds_count{subgraph="inventory",outcome="ok"}')).toBe(2);
      expect(value(metrics, 'gateway_subgraph_fetch_duration_seconds_count{subgraph="products",outcome="errors"}')).toBe(1);
      // Process figures every Node service exposes, event-loop lag among them.
      expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
      expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    } finally {
      await gateway.close();
    }
  });

  it("each subgraph has its own /metrics: request durations by operation and outcome, its database pool, process figures", async () => {
    await gql(stack.gatewayUrl, `query PoolCheck($id: ID!) { product(id: $id) { id inventory { onHand } } }`, { id: product.id });
    const metrics = await text(`${stack.subgraphs.inventory.url}/metrics`);
    // The gateway names each subgraph operation after the client's (PoolCheck__inventory__1).
    expect(metrics).toMatch(/^subgraph_request_duration_seconds_count\{operation="PoolCheck__inventory__\d+",outcome="ok"\} 1$/m);
    expect(value(metrics, "subgraph_db_pool_max")).toBe(5);
    expect(metrics).toMatch(/^subgraph_db_pool_connections\{state="idle"\} \d+$/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  });
});

describe("the Grafana dashboard", () => {
  it("queries only series the gateway and the subgraphs expose", async () => {
    const dashboard = JSON.parse(await readFile(path.join(REPO_ROOT, "docs/grafana/catalog-dashboard.json"), "utf8")) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
    const used = new Set(exprs.flatMap((expr) => expr.match(/\b(?:gateway|subgraph|process|nodejs)_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(15);
    const exposed = (
      await Promise.all([stack.gatewayUrl, ...Object.values(stack.subgraphs).map((s) => s.url)].map((url) => text(`${url}/metrics`)))
    ).join("\n");
    // Every metric is described (# HELP) even before it has a value; histograms by their base name.
    const missing = [...used].filter((name) => !exposed.includes(`# HELP ${name.replace(/_(bucket|count|sum)$/, "")} `));
    expect(missing).toEqual([]);
  });
});
