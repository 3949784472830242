import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { eventually } from "../../test/support/selling.ts";
import { createCategoryTree, token } from "../../test/support/fixtures.ts";
import { gql, json, metricValue, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let categoryId: string;

beforeAll(async () => {
  stack = await startStack();
  proxy = await startFaultProxy(() => `${stack.subgraphs.products.url}/graphql`);
  categoryId = (await createCategoryTree(stack.prisma.products)).leaf.id;
});
afterEach(() => {
  proxy.setMode("pass");
  proxy.resetNext(0);
});
afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

const CATEGORY = `query($id: ID!) { category(id: $id) { id } }`;
/** Every call here must reach the subgraph: no answer from the response cache. */
const UNCACHED = { RESPONSE_CACHE_ENABLED: "false" };

/** Waits until the gateway's /ready shows the products breaker in `state` (a state change, not a timer). */
function breakerReaches(url: string, state: string): Promise<void> {
  return eventually(async () => {
    expect((await json(await fetch(`${url}/ready`))).breakers.products).toBe(state);
  });
}

describe("retries after connection errors", () => {
  it("a query whose connection is cut before an answer is sent again and succeeds; a mutation is sent once", async () => {
    const gateway = await startExtraGateway(stack, { ...UNCACHED, PRODUCTS_SUBGRAPH_URL: proxy.url, SUBGRAPH_RETRIES: "2", SUBGRAPH_RETRY_BASE_MS: "5" });
    try {
      const before = proxy.received;
      proxy.resetNext(2);
      const { body } = await gql(gateway.url, CATEGORY, { id: categoryId });
      expect(body.errors).toBeUndefined();
      expect((body.data as any).category.id).toBe(categoryId);
      expect(proxy.received - before).toBe(3);
      expect(await metricValue(gateway.url, 'gateway_subgraph_retries_total{subgraph="products"}')).toBe(2);

      // A mutation the connection cut is reported, not repeated: the subgraph may have acted on it.
      const name = `Once ${token()}`;
      const sent = proxy.received;
      proxy.resetNext(1);
      const mutation = await gql(gateway.url, `mutation($name: String!) { createCategory(input: { name: $name }) { id } }`, { name }, bearer(ADMIN_USER));
      expect(mutation.body.errors?.[0]).toMatchObject({ extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "products" } });
      expect(proxy.received - sent).toBe(1);
      expect(await metricValue(gateway.url, 'gateway_subgraph_retries_total{subgraph="products"}')).toBe(2);
      expect(await stack.prisma.products.category.count({ where: { name } })).toBe(0);
    } finally {
      await gateway.close();
    }
  });

  it("retries stop at SUBGRAPH_RETRIES: a subgraph that keeps cutting connections is SERVICE_UNAVAILABLE after 1 + 2 tries", async () => {
    const gateway = await startExtraGateway(stack, { ...UNCACHED, PRODUCTS_SUBGRAPH_URL: proxy.url, SUBGRAPH_RETRIES: "2", SUBGRAPH_RETRY_BASE_MS: "5" });
    try {
      proxy.setMode("reset");
      const before = proxy.received;
      const { body } = await gql(gateway.url, CATEGORY, { id: categoryId });
      expect(body.errors?.[0]).toMatchObject({ extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "products" } });
      expect(proxy.received - before).toBe(3);
    } finally {
      await gateway.close();
    }
  });
});

describe("circuit breaker per subgraph", () => {
  /** A gateway whose products calls go through the proxy, with a breaker that opens after 3 failed calls. */
  const breakerGateway = (resetMs: number) =>
    startExtraGateway(stack, {
      ...UNCACHED,
      PRODUCTS_SUBGRAPH_URL: proxy.url,
      SUBGRAPH_RETRIES: "0",
      SUBGRAPH_BREAKER_MIN_CALLS: "3",
      SUBGRAPH_BREAKER_ERROR_PERCENT: "50",
      SUBGRAPH_BREAKER_RESET_MS: String(resetMs),
    });
  const failThreeTimes = async (url: string) => {
    proxy.setMode("reset");
    for (let i = 0; i < 3; i++) {
      const { body } = await gql(url, CATEGORY, { id: categoryId });
      expect(body.errors?.[0]).toMatchObject({ extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "products" } });
    }
    proxy.setMode("pass");
  };

  it("opens after repeated failures, then fails fast without asking the subgraph; metrics and /ready show it", async () => {
    // A pause far longer than the test: the breaker stays open throughout.
    const gateway = await breakerGateway(600_000);
    const state = () => metricValue(gateway.url, 'gateway_subgraph_breaker_state{subgraph="products"}');
    try {
      expect(await state()).toBe(0);
      const before = proxy.received;
      await failThreeTimes(gateway.url);
      expect(proxy.received - before).toBe(3);
      expect(await state()).toBe(2);

      // The subgraph is healthy again, but the open breaker does not ask it; other subgraphs serve on.
      for (let i = 0; i < 5; i++) {
        const { body } = await gql(gateway.url, CATEGORY, { id: categoryId });
        expect(body.errors?.[0]).toEqual({
          message: "The products service is unavailable; try again later.",
          extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "products" },
        });
      }
      expect(proxy.received - before).toBe(3);
      expect(await metricValue(gateway.url, 'gateway_subgraph_breaker_rejections_total{subgraph="products"}')).toBe(5);
      const users = await gql(gateway.url, `query($id: ID!) { user(id: $id) { id } }`, { id: ADMIN_USER.id }, bearer(ADMIN_USER));
      expect(users.body.errors).toBeUndefined();
      const ready = await json(await fetch(`${gateway.url}/ready`));
      expect(ready.breakers).toEqual({ products: "open", users: "closed", inventory: "closed", orders: "closed" });
    } finally {
      await gateway.close();
    }
  });

  it("after the pause lets one probe call through, and closes when it succeeds", async () => {
    const gateway = await breakerGateway(300);
    const state = () => metricValue(gateway.url, 'gateway_subgraph_breaker_state{subgraph="products"}');
    try {
      await failThreeTimes(gateway.url);
      await breakerReaches(gateway.url, "half-open");
      expect(await state()).toBe(1);
      const probed = proxy.received;
      const probe = await gql(gateway.url, CATEGORY, { id: categoryId });
      expect(probe.body.errors).toBeUndefined();
      expect((probe.body.data as any).category.id).toBe(categoryId);
      expect(proxy.received - probed).toBe(1);
      expect(await state()).toBe(0);
      expect((await json(await fetch(`${gateway.url}/ready`))).breakers.products).toBe("closed");
    } finally {
      await gateway.close();
    }
  });

  it("a failed probe opens it again", async () => {
    const gateway = await startExtraGateway(stack, {
      ...UNCACHED,
      PRODUCTS_SUBGRAPH_URL: proxy.url,
      SUBGRAPH_RETRIES: "0",
      SUBGRAPH_BREAKER_MIN_CALLS: "2",
      SUBGRAPH_BREAKER_RESET_MS: "300",
    });
    try {
      proxy.setMode("reset");
      for (let i = 0; i < 2; i++) await gql(gateway.url, CATEGORY, { id: categoryId });
      await breakerReaches(gateway.url, "open");
      await breakerReaches(gateway.url, "half-open");
      const before = proxy.received;
      const probe = await gql(gateway.url, CATEGORY, { id: categoryId });
      expect(probe.body.errors?.[0]).toMatchObject({ extensions: { code: "SERVICE_UNAVAILABLE" } });
      expect(proxy.received - before).toBe(1);
      // Open again: the next call is refused without reaching the subgraph.
      const refused = await gql(gateway.url, CATEGORY, { id: categoryId });
      expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: "SERVICE_UNAVAILABLE" } });
      expect(proxy.received - before).toBe(1);
      expect((await json(await fetch(`${gateway.url}/ready`))).breakers.products).toBe("open");
    } finally {
      await gateway.close();
    }
  });
});

describe("load shedding", () => {
  it("while the event loop is behind, new GraphQL requests get 503 + Retry-After at once; once it catches up they are served", async () => {
    const gateway = await startExtraGateway(stack, { ...UNCACHED, SHED_EVENT_LOOP_DELAY_MS: "20" });
    const shedding = async () => (await metricValue(gateway.url, "gateway_load_shedding")) === 1;
    // The gateway runs in this process: keep its event loop busy 250 ms out of every ~270, as a
    // CPU-bound overload would, answering only in the gaps.
    const blocker = setInterval(() => {
      const end = Date.now() + 250;
      while (Date.now() < end);
    }, 20);
    try {
      await eventually(async () => expect(await shedding()).toBe(true));
      const response = await fetch(`${gateway.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: CATEGORY, variables: { id: categoryId } }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect((await json(response)).errors[0]).toMatchObject({ message: "The gateway is overloaded; retry in a moment.", extensions: { code: "SERVICE_UNAVAILABLE" } });
      expect(await metricValue(gateway.url, 'gateway_requests_rejected_total{code="SERVICE_UNAVAILABLE"}')).toBeGreaterThanOrEqual(1);
      // Health checks are not GraphQL requests: they still answer.
      expect((await fetch(`${gateway.url}/health`)).status).toBe(200);

      clearInterval(blocker);
      await eventually(async () => expect(await shedding()).toBe(false));
      const { body } = await gql(gateway.url, CATEGORY, { id: categoryId });
      expect(body.errors).toBeUndefined();
    } finally {
      clearInterval(blocker);
      await gateway.close();
    }
  });
});
