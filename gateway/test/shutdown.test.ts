import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_AUTH_ENV } from "../../test/support/auth.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { createCategoryTree, createProduct } from "../../test/support/fixtures.ts";
import { startServiceProcess } from "../../test/support/load.ts";
import { eventually } from "../../test/support/selling.ts";
import { startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
beforeAll(async () => {
  stack = await startStack();
  proxy = await startFaultProxy(() => `${stack.subgraphs.products.url}/graphql`);
});
afterAll(async () => {
  proxy?.release();
  await proxy?.close();
  await stack?.close();
});

/** The gateway as production runs it: its own process, its own entry point. */
function startGatewayProcess() {
  return startServiceProcess(
    "gateway/src/index.ts",
    {
      ...process.env,
      ...TEST_AUTH_ENV,
      NODE_ENV: "test",
      PORT: "0",
      LOG_LEVEL: "info",
      RESPONSE_CACHE_ENABLED: "false",
      RATE_LIMIT_ENABLED: "false",
      // The held calls wait for the drain to be seen (SIGTERM, then /health refused), which on a
      // machine busy with the rest of the suite took past the default 10 s: a timeout is not what
      // this test is about. Still under the drain's grace (REQUEST_TIMEOUT_MS + 1 s).
      SUBGRAPH_TIMEOUT_MS: "25000",
      USERS_SUBGRAPH_URL: `${stack.subgraphs.users.url}/graphql`,
      PRODUCTS_SUBGRAPH_URL: proxy.url,
      ORDERS_SUBGRAPH_URL: `${stack.subgraphs.orders.url}/graphql`,
      INVENTORY_SUBGRAPH_URL: `${stack.subgraphs.inventory.url}/graphql`,
    },
    /"url":"(http:\/\/[^"]+)"[^\n]*gateway listening/,
  );
}

describe("SIGTERM", () => {
  it("stops taking connections, answers every request in flight, then exits 0", async () => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const products = await Promise.all([1, 2, 3].map(() => createProduct(stack.prisma.products, { categoryId: leaf.id })));
    const gateway = await startGatewayProcess();
    try {
      proxy.setMode("hold");
      const received = proxy.received;
      // Three different queries (nothing shared), each held at the products subgraph.
      const inFlight = products.map((product) =>
        fetch(`${gateway.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: `query ($id: ID!) { product(id: $id) { id name } }`, variables: { id: product.id } }),
        }),
      );
      // If the test fails before they are awaited, the SIGKILL below ends them: not another error.
      for (const request of inFlight) request.catch(() => {});
      await eventually(async () => expect(proxy.received - received).toBe(3));

      gateway.child.kill("SIGTERM");
      // No new connections once it is draining.
      await eventually(async () => {
        await expect(fetch(`${gateway.url}/health`)).rejects.toThrow();
      });
      proxy.release();
      const answers = await Promise.all(inFlight);
      const bodies = await Promise.all(answers.map((answer) => answer.json()));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(bodies).toEqual(products.map((product) => ({ data: { product: { id: product.id, name: product.name } } })));
      expect(await gateway.exited).toEqual([0, null]);
    } finally {
      proxy.setMode("pass");
      proxy.release();
      if (gateway.child.exitCode === null) gateway.child.kill("SIGKILL");
    }
  });
});
