import { IDENTITY_HEADER, signIdentity, type StartedSubgraph } from "@catalog/common";
import { productsSubgraph } from "@catalog/products";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { ADMIN, TEST_AUTH_ENV } from "./support/auth.ts";
import { startFaultProxy } from "./support/fault-proxy.ts";
import { createCategoryTree, createProduct } from "./support/fixtures.ts";
import { startServiceProcess, steadyLoad } from "./support/load.ts";
import { eventually } from "./support/selling.ts";
import { startTestSubgraph } from "./support/stack.ts";

let products: StartedSubgraph<ReturnType<typeof productsSubgraph.createPrisma>>;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
beforeAll(async () => {
  products = await startTestSubgraph(productsSubgraph);
  proxy = await startFaultProxy(() => `${products.url}/graphql`);
});
afterAll(async () => {
  proxy?.release();
  await proxy?.close();
  await products?.close();
});

const secret = TEST_AUTH_ENV.INTERNAL_AUTH_SECRET!;

/** POST to a subgraph as the gateway would, signed for `viewer`. */
function call(url: string, query: string, variables: Record<string, unknown>, viewer: typeof ADMIN | null) {
  return fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", [IDENTITY_HEADER]: signIdentity(secret, viewer) },
    body: JSON.stringify({ query, variables }),
  });
}

const STOCK = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id inventory { onHand } } } }`;
const ADJUST = `mutation ($id: ID!) { adjustStock(productId: $id, delta: 5, reason: CORRECTION) { id inventory { onHand } } }`;

describe("a subgraph process on SIGTERM", () => {
  it("under load: refuses new connections, answers every request it accepted, stops its pools and Redis, exits 0", async () => {
    const { leaf } = await createCategoryTree(products.prisma);
    const fresh = await Promise.all([1, 2, 3].map(() => createProduct(products.prisma, { categoryId: leaf.id })));
    // The inventory subgraph as production runs it; it checks a product it has never stocked with
    // the products subgraph, through a proxy that can hold those calls.
    const inventory = await startServiceProcess(
      "subgraphs/inventory/src/index.ts",
      {
        ...process.env,
        ...TEST_AUTH_ENV,
        // Production, as deployed: Apollo Server handles signals itself there unless told not to.
        NODE_ENV: "production",
        PORT: "0",
        LOG_LEVEL: "info",
        INVENTORY_DATABASE_URL: inject("databaseUrls").inventory,
        MIGRATE_ON_START: "false",
        SEED_ON_START: "false",
        PRODUCTS_SUBGRAPH_URL: proxy.url,
        REDIS_URL: inject("redisUrl"),
        REDIS_KEY_PREFIX: `${inject("redisPrefix")}subgraph-shutdown:`,
      },
      /"url":"(http:\/\/[^"]+)\/graphql"[^\n]*subgraph listening/,
    );
    try {
      const reps = fresh.map((p) => ({ __typename: "Product", id: p.id }));
      const load = steadyLoad(() => call(inventory.url, STOCK, { reps }, null));
      await eventually(async () => expect(load.ok()).toBeGreaterThanOrEqual(20), 120_000);

      proxy.setMode("hold");
      const received = proxy.received;
      const held = fresh.map((p) => call(inventory.url, ADJUST, { id: p.id }, ADMIN));
      // Awaited below; a failure before then must fail the test, not surface as unhandled.
      for (const request of held) request.catch(() => {});
      await eventually(async () => expect(proxy.received - received).toBe(3));

      load.mark();
      inventory.child.kill("SIGTERM");
      // Released once the process says it is shutting down: inventory gives products 3 s.
      await inventory.printed(/shutting down/);
      proxy.release();
      // Every load worker ends by being refused a new connection: the server stopped listening.
      // None saw a reset or a failed answer.
      const result = await load.finished;
      expect(result.failures).toEqual([]);
      expect(load.spanningMark()).toBeGreaterThan(0);

      const answers = await Promise.all(held);
      const bodies = await Promise.all(answers.map((answer) => answer.json()));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(bodies).toEqual(fresh.map((p) => ({ data: { adjustStock: { id: p.id, inventory: { onHand: 5 } } } })));
      // Exit 0 comes only once nothing is left open (pools, Redis, timers); else the process says what and exits 1.
      expect(await inventory.exited, inventory.output()).toEqual([0, null]);
      expect(inventory.output()).toContain('"msg":"stopped"');
    } finally {
      proxy.setMode("pass");
      proxy.release();
      if (inventory.child.exitCode === null) inventory.child.kill("SIGKILL");
    }
  });
});
