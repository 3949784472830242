import { inventorySubgraph } from "@catalog/inventory";
import type { PrismaLike, StartedSubgraph } from "@catalog/common";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { eventually, stockedProduct } from "../../test/support/selling.ts";
import { gql, json, startExtraGateway, startStack, startTestSubgraph, type Stack } from "../../test/support/stack.ts";

// An inventory subgraph with two serving connections that queue a request at most 300 ms for one,
// behind a gateway of its own. The test exhausts the pool the way production does: slow
// statements hold every connection (here, waiting on a lock the test holds on stock_items).
let stack: Stack;
let inventory: StartedSubgraph<PrismaLike>;
let gateway: Awaited<ReturnType<typeof startExtraGateway>>;
let products: { id: string }[];

beforeAll(async () => {
  stack = await startStack();
  products = await Promise.all([stockedProduct(stack, 5), stockedProduct(stack, 6), stockedProduct(stack, 7)]);
  inventory = await startTestSubgraph(inventorySubgraph, { pool: { poolSize: 2, acquireTimeoutMs: 300 } });
  gateway = await startExtraGateway(stack, { INVENTORY_SUBGRAPH_URL: `${inventory.url}/graphql`, RESPONSE_CACHE_ENABLED: "false" });
});
afterAll(async () => {
  await gateway?.close();
  await inventory?.close();
  await stack?.close();
});

const STOCK = `query ($id: ID!) { product(id: $id) { id name inventory { onHand } } }`;

describe("an exhausted database pool", () => {
  it("fails the fields it serves fast with SERVICE_UNAVAILABLE, takes the subgraph out of readiness, and recovers by itself", async () => {
    const locker = new pg.Client({ connectionString: inject("databaseUrls").inventory });
    await locker.connect();
    let held: Promise<Awaited<ReturnType<typeof gql>>>[] = [];
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE stock_items IN ACCESS EXCLUSIVE MODE");
      // Two requests whose stock reads wait on the lock, each holding one of the two connections.
      for (const [index, product] of products.slice(0, 2).entries()) {
        held.push(gql(gateway.url, STOCK, { id: product.id }));
        await eventually(async () => expect(inventory.db.poolStats()).toMatchObject({ total: index + 1, idle: 0 }));
      }

      // A third finds no connection: it is answered while the first two still wait, with the
      // product and a coded error where its stock would be.
      const settled = held.map((request) => request.then(() => "answered"));
      const third = gql(gateway.url, STOCK, { id: products[2]!.id });
      expect(await Promise.race([third.then(() => "third"), ...settled])).toBe("third");
      const { status, body } = await third;
      expect(status).toBe(200);
      expect(body.data).toEqual({ product: { id: products[2]!.id, name: expect.any(String), inventory: null } });
      expect(body.errors).toEqual([
        expect.objectContaining({
          message: "The inventory service is busy; try again shortly.",
          path: ["product", "inventory"],
          extensions: expect.objectContaining({ code: "SERVICE_UNAVAILABLE" }),
        }),
      ]);

      // The subgraph says it cannot serve now; the gateway names it and stays ready (other
      // subgraphs' fields still answer).
      const own = await fetch(`${inventory.url}/ready`);
      expect(own.status).toBe(503);
      expect(await json(own)).toMatchObject({ status: "unavailable", reason: "database pool exhausted", pool: { max: 2 } });
      const ready = await fetch(`${gateway.url}/ready`);
      expect(ready.status).toBe(200);
      expect((await json(ready)).subgraphs).toMatchObject({ inventory: false, products: true });
      const metrics = await (await fetch(`${inventory.url}/metrics`)).text();
      expect(metrics).toMatch(/^subgraph_db_pool_max 2$/m);
      expect(metrics).toMatch(/^subgraph_db_pool_connections\{state="busy"\} 2$/m);
      expect(Number(/^subgraph_db_pool_exhausted_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }

    // The lock gone, the waiting requests finish with their stock and the subgraph is ready again.
    const answers = await Promise.all(held);
    held = [];
    expect(answers.map((answer) => answer.body)).toEqual([
      { data: { product: { id: products[0]!.id, name: expect.any(String), inventory: { onHand: 5 } } } },
      { data: { product: { id: products[1]!.id, name: expect.any(String), inventory: { onHand: 6 } } } },
    ]);
    await eventually(async () => expect((await fetch(`${inventory.url}/ready`)).status).toBe(200));
    expect((await gql(gateway.url, STOCK, { id: products[2]!.id })).body).toEqual({
      data: { product: { id: products[2]!.id, name: expect.any(String), inventory: { onHand: 7 } } },
    });
  });
});
