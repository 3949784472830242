import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { stockedProduct } from "../../test/support/selling.ts";
import { gql, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

// Inventory behind a fault-injecting proxy (a real HTTP server in front of the real subgraph):
// answering garbage, and answering too slowly. The rest of each response must still arrive.
let stack: Stack;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let gateway: Awaited<ReturnType<typeof startExtraGateway>>;
let product: { id: string };

beforeAll(async () => {
  stack = await startStack();
  product = await stockedProduct(stack, 2);
  proxy = await startFaultProxy(() => `${stack.subgraphs.inventory.url}/graphql`);
  gateway = await startExtraGateway(stack, {
    INVENTORY_SUBGRAPH_URL: proxy.url,
    RESPONSE_CACHE_ENABLED: "false",
    SUBGRAPH_TIMEOUT_MS: "1000",
    SUBGRAPH_BREAKER_ENABLED: "false",
  });
});
afterAll(async () => {
  await gateway?.close();
  proxy?.release();
  await proxy?.close();
  await stack?.close();
});

const QUERY = `query ($id: ID!) { product(id: $id) { id name inventory { onHand } } }`;
const ask = () => gql(gateway.url, QUERY, { id: product.id });

async function expectDegraded(code: string, message: string) {
  const answer = await ask();
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({
    data: { product: { id: product.id, name: expect.any(String), inventory: null } },
    errors: [{ message, path: ["product"], extensions: { code, serviceName: "inventory" } }],
  });
}

async function expectHealthy() {
  proxy.setMode("pass");
  expect((await ask()).body).toEqual({ data: { product: { id: product.id, name: expect.any(String), inventory: { onHand: 2 } } } });
}

describe("a subgraph that answers badly", () => {
  it("garbage (200, an HTML page): its fields are SERVICE_UNAVAILABLE, never an internal error, and nothing of the page leaks", async () => {
    proxy.setMode("garbage");
    await expectDegraded("SERVICE_UNAVAILABLE", "The inventory service is unavailable; try again later.");
    await expectHealthy();
  });

  it("too slowly (past SUBGRAPH_TIMEOUT_MS): its fields are GATEWAY_TIMEOUT, the rest is served", async () => {
    proxy.setMode("hold");
    try {
      await expectDegraded("GATEWAY_TIMEOUT", "The inventory service did not answer in time.");
    } finally {
      proxy.release();
    }
    await expectHealthy();
  });
});
