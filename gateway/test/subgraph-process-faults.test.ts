import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from "vitest";
import { TEST_AUTH_ENV } from "../../test/support/auth.ts";
import { startServiceProcess } from "../../test/support/load.ts";
import { eventually, stockedProduct } from "../../test/support/selling.ts";
import { gql, json, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

// The inventory subgraph as production runs it, its own process, broken the ways processes
// break: frozen (SIGSTOP: connections accepted, nothing answered) and killed (SIGKILL), then
// brought back. A gateway of its own in front, with a short subgraph timeout and a breaker that
// opens after three failed calls.

type SubgraphProcess = Awaited<ReturnType<typeof startServiceProcess>>;

function startInventoryProcess(port = 0): Promise<SubgraphProcess> {
  return startServiceProcess(
    "subgraphs/inventory/src/index.ts",
    {
      ...process.env,
      ...TEST_AUTH_ENV,
      NODE_ENV: "test",
      PORT: String(port),
      LOG_LEVEL: "info",
      INVENTORY_DATABASE_URL: inject("databaseUrls").inventory,
      MIGRATE_ON_START: "false",
      SEED_ON_START: "false",
      REDIS_URL: inject("redisUrl"),
    },
    /"url":"(http:\/\/[^"]+)"[^\n]*subgraph listening/,
  );
}

let stack: Stack;
let inventory: SubgraphProcess;
let gateway: Awaited<ReturnType<typeof startExtraGateway>> | undefined;
let product: { id: string };

beforeAll(async () => {
  stack = await startStack();
  product = await stockedProduct(stack, 4);
  inventory = await startInventoryProcess();
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
afterAll(async () => {
  if (inventory && inventory.child.exitCode === null && inventory.child.signalCode === null) {
    inventory.child.kill("SIGCONT");
    inventory.child.kill("SIGKILL");
    await inventory.exited;
  }
  await stack?.close();
});

/** A gateway of its own per test (a fresh breaker), in front of the inventory process. */
async function startGateway() {
  gateway = await startExtraGateway(stack, {
    INVENTORY_SUBGRAPH_URL: inventory.url,
    RESPONSE_CACHE_ENABLED: "false",
    SUBGRAPH_TIMEOUT_MS: "1500",
    SUBGRAPH_BREAKER_MIN_CALLS: "3",
    // Each failed call here takes seconds (a timeout, then /ready probing the frozen process): a
    // long window keeps them all counted.
    SUBGRAPH_BREAKER_WINDOW_MS: "120000",
    // Long enough that no probe slips in between seeing the breaker open and the next request.
    SUBGRAPH_BREAKER_RESET_MS: "8000",
  });
  expect((await ask()).body.errors).toBeUndefined();
}

const QUERY = `query ($id: ID!) { product(id: $id) { id name inventory { onHand } } }`;
const ask = () => gql(gateway!.url, QUERY, { id: product.id });
const breaker = async () => (await json(await fetch(`${gateway!.url}/ready`))).breakers.inventory as string;

/**
 * While inventory cannot answer: the product is still there, its stock null, and one coded error
 * naming inventory at the path its call fills in (decision 0011).
 */
function expectDegraded(answer: Awaited<ReturnType<typeof ask>>, code: string) {
  expect(answer.status).toBe(200);
  expect(answer.body.data).toEqual({ product: { id: product.id, name: expect.any(String), inventory: null } });
  expect(answer.body.errors).toEqual([
    expect.objectContaining({ path: ["product"], extensions: expect.objectContaining({ code, serviceName: "inventory" }) }),
  ]);
}

/** Asks while the breaker is closed, each answer degraded with `code`; then one more, with the breaker open. */
async function untilBreakerOpens(code: string) {
  let failures = 0;
  while ((await breaker()) !== "open") {
    expectDegraded(await ask(), code);
    expect(++failures).toBeLessThanOrEqual(10);
  }
  expect(failures).toBeGreaterThanOrEqual(1);
  // Open: answered without asking the subgraph at all.
  expectDegraded(await ask(), "SERVICE_UNAVAILABLE");
  const metrics = await (await fetch(`${gateway!.url}/metrics`)).text();
  expect(metrics).toMatch(/^gateway_subgraph_breaker_rejections_total\{subgraph="inventory"\} [1-9]/m);
}

async function expectRecovered() {
  await eventually(async () => {
    const answer = await ask();
    expect(answer.body).toEqual({ data: { product: { id: product.id, name: expect.any(String), inventory: { onHand: 4 } } } });
  }, 60_000);
  expect(await breaker()).toBe("closed");
}

describe("a subgraph process that stops answering", () => {
  it("frozen (SIGSTOP): its fields time out, then its breaker fails them at once; after SIGCONT the gateway recovers by itself", async () => {
    await startGateway();
    inventory.child.kill("SIGSTOP");
    try {
      await untilBreakerOpens("GATEWAY_TIMEOUT");
    } finally {
      inventory.child.kill("SIGCONT");
    }
    await expectRecovered();
  });

  it("killed (SIGKILL): its fields are SERVICE_UNAVAILABLE at once; restarted on its port, the gateway recovers by itself", async () => {
    await startGateway();
    const port = new URL(inventory.url).port;
    inventory.child.kill("SIGKILL");
    await inventory.exited;
    await untilBreakerOpens("SERVICE_UNAVAILABLE");
    inventory = await startInventoryProcess(Number(port));
    await expectRecovered();
  });
});
