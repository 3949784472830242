import { randomUUID } from "node:crypto";
import {
  breakerFor,
  createLogger,
  createRedisClient,
  IDENTITY_HEADER,
  redisConnected,
  redisResponseCacheStore,
  signIdentity,
} from "@catalog/common";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER, bearer, TEST_AUTH_ENV } from "../../test/support/auth.ts";
import { createCategoryTree, createProduct, createUser, token } from "../../test/support/fixtures.ts";
import { startOwnRedis } from "../../test/support/redis-server.ts";
import { countStatements, gql, json, metricValue, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack();
  redis = new Redis(stack.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const PRODUCT = `query ($id: ID!) { product(id: $id) { id name price { amount } inStock inventory { onHand } } }`;

/** A product with stock, in a fresh category: what each test reads and changes. */
async function stockedProduct(price = "10.00") {
  const { leaf } = await createCategoryTree(stack.prisma.products);
  const product = await createProduct(stack.prisma.products, { categoryId: leaf.id, price });
  await stack.prisma.inventory.stockItem.create({ data: { productId: product.id, onHand: 5 } });
  return { product, leaf };
}

const read = (url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
  gql(url, query, variables, headers);

describe("response cache", () => {
  it("a repeated public query is a HIT that runs no SQL, with Cache-Control from the subgraphs' hints", async () => {
    const { product } = await stockedProduct();
    const first = await read(stack.gatewayUrl, PRODUCT, { id: product.id });
    expect(first.headers.get("x-cache")).toBe("MISS");
    // inventory (30 s) is the shortest hint in the response; everything is public.
    expect(first.headers.get("cache-control")).toBe("max-age=30, public");
    let second!: Awaited<ReturnType<typeof read>>;
    const counts = await countStatements(stack, async () => {
      second = await read(stack.gatewayUrl, PRODUCT, { id: product.id });
    });
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(second.body).toEqual(first.body);
    expect(counts).toEqual({ users: 0, products: 0, orders: 0, inventory: 0 });
    // The entry's own max-age, and Age for its time in the cache (as HTTP caches count).
    expect(second.headers.get("cache-control")).toBe("max-age=30, public");
    expect(second.headers.get("age")).toMatch(/^\d+$/);
    expect(Number(second.headers.get("age"))).toBeLessThan(30);
  });

  it("whitespace, comments and variable order do not split the cache; other variables do", async () => {
    const { product } = await stockedProduct();
    const query = `query ($id: ID!, $n: Int) { product(id: $id) { id name reviews(first: $n) { edges { node { rating } } } } }`;
    await read(stack.gatewayUrl, query, { id: product.id, n: 2 });
    const reformatted = await read(stack.gatewayUrl, `# same query\n${query.replace(/ /g, "  ")}`, { n: 2, id: product.id });
    expect(reformatted.headers.get("x-cache")).toBe("HIT");
    const other = await read(stack.gatewayUrl, query, { id: product.id, n: 3 });
    expect(other.headers.get("x-cache")).toBe("MISS");
  });

  it("two users running the same private query each get their own data", async () => {
    const [alice, bob] = await Promise.all([createUser(stack.prisma.users), createUser(stack.prisma.users)]);
    const me = `{ me { id email } }`;
    const a1 = await read(stack.gatewayUrl, me, {}, bearer(alice));
    expect(a1.headers.get("cache-control")).toBe("max-age=60, private");
    const a2 = await read(stack.gatewayUrl, me, {}, bearer(alice));
    expect(a2.headers.get("x-cache")).toBe("HIT");
    expect(a2.body.data).toEqual({ me: { id: alice.id, email: alice.email } });
    const b1 = await read(stack.gatewayUrl, me, {}, bearer(bob));
    expect(b1.headers.get("x-cache")).toBe("MISS");
    expect(b1.body.data).toEqual({ me: { id: bob.id, email: bob.email } });
    // Nothing private is stored under a shared key.
    const shared = await redis.keys(`${stack.redisPrefix}rc:e:pub:*`);
    for (const key of shared) expect(await redis.get(key)).not.toContain(alice.email);
  });

  it("an anonymous caller never gets a cached authenticated response", async () => {
    const user = await createUser(stack.prisma.users);
    // Public data only, so nothing but the cache key tells the two callers apart.
    const query = `query ($id: ID!) { user(id: $id) { fullName } }`;
    await read(stack.gatewayUrl, query, { id: user.id }, bearer(user));
    expect((await read(stack.gatewayUrl, query, { id: user.id }, bearer(user))).headers.get("x-cache")).toBe("HIT");
    const anonymous = await read(stack.gatewayUrl, query, { id: user.id });
    expect(anonymous.headers.get("x-cache")).toBe("MISS");
    expect(anonymous.headers.get("cache-control")).toBe("max-age=300, public");
  });

  it("a user whose roles change does not keep the cached view of the old role", async () => {
    const [staff, other] = await Promise.all([createUser(stack.prisma.users), createUser(stack.prisma.users)]);
    const query = `query ($id: ID!) { user(id: $id) { fullName email } }`;
    const asAdmin = await read(stack.gatewayUrl, query, { id: other.id }, bearer({ id: staff.id, roles: ["ADMIN"] }));
    expect(asAdmin.body.data!.user.email).toBe(other.email);
    expect((await read(stack.gatewayUrl, query, { id: other.id }, bearer({ id: staff.id, roles: ["ADMIN"] }))).headers.get("x-cache")).toBe("HIT");
    const demoted = await read(stack.gatewayUrl, query, { id: other.id }, bearer({ id: staff.id, roles: ["CUSTOMER"] }));
    expect(demoted.headers.get("x-cache")).toBe("MISS");
    expect(demoted.body.data!.user.email).toBeNull();
    expect(demoted.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
  });

  it("@include with a defaulted variable is cached, and tagged by what it showed", async () => {
    const { product } = await stockedProduct();
    const query = `query ($id: ID!, $inv: Boolean = true) { product(id: $id) { id name inventory @include(if: $inv) { onHand } } }`;
    const first = await read(stack.gatewayUrl, query, { id: product.id });
    expect(first.status).toBe(200);
    expect(first.body.data!.product.inventory).toEqual({ onHand: 5 });
    expect((await read(stack.gatewayUrl, query, { id: product.id })).headers.get("x-cache")).toBe("HIT");
    await gql(stack.gatewayUrl, `mutation ($id: ID!) { adjustStock(productId: $id, delta: 1, reason: RECEIVED) { id } }`, { id: product.id }, bearer(ADMIN_USER));
    expect((await read(stack.gatewayUrl, query, { id: product.id })).body.data!.product.inventory).toEqual({ onHand: 6 });
  });

  it("public entries are shared within an audience only: anonymous, customers and admins never mix", async () => {
    const { product } = await stockedProduct();
    const customer = await createUser(stack.prisma.users);
    await read(stack.gatewayUrl, PRODUCT, { id: product.id });
    const asCustomer = await read(stack.gatewayUrl, PRODUCT, { id: product.id }, bearer(customer));
    expect(asCustomer.headers.get("x-cache")).toBe("MISS");
    // Public data, but the request carried a token: shared HTTP caches must not keep it.
    expect(asCustomer.headers.get("cache-control")).toBe("max-age=30, private");
    expect((await read(stack.gatewayUrl, PRODUCT, { id: product.id }, bearer(ADMIN_USER))).headers.get("x-cache")).toBe("MISS");
    const other = await createUser(stack.prisma.users);
    expect((await read(stack.gatewayUrl, PRODUCT, { id: product.id }, bearer(other))).headers.get("x-cache")).toBe("HIT");
  });

  it("mutations, responses with errors and uncacheable responses are never stored", async () => {
    const name = `Cat ${token()}`;
    const mutation = await gql(stack.gatewayUrl, `mutation { createCategory(input: { name: "${name}" }) { id } }`, {}, bearer(ADMIN_USER));
    expect(mutation.headers.get("x-cache")).toBe("BYPASS");
    const failing = `{ product(id: "not-a-uuid") { id } }`;
    await read(stack.gatewayUrl, failing, {});
    expect((await read(stack.gatewayUrl, failing, {})).headers.get("x-cache")).toBe("MISS");
    // users(...) is hinted maxAge 0 (admin data): never cached, even for the same admin.
    const users = `{ users(first: 1) { totalCount } }`;
    const first = await read(stack.gatewayUrl, users, {}, bearer(ADMIN_USER));
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect((await read(stack.gatewayUrl, users, {}, bearer(ADMIN_USER))).headers.get("x-cache")).toBe("MISS");
  });

  it("an entry never outlives its maxAge", async () => {
    const { product } = await stockedProduct();
    await read(stack.gatewayUrl, PRODUCT, { id: product.id });
    const keys = await redis.keys(`${stack.redisPrefix}rc:e:pub:anon:*`);
    const ttls = await Promise.all(keys.map((key) => redis.ttl(key)));
    expect(ttls.length).toBeGreaterThan(0);
    // The inventory hint (30 s) caps this entry; Redis expires it then.
    const mine = await Promise.all(keys.map(async (key) => [key, await redis.get(key)] as const));
    const entry = mine.find(([, value]) => value?.includes(product.id));
    expect(entry).toBeDefined();
    const ttl = await redis.ttl(entry![0]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
  });
});

describe("invalidation", () => {
  const ADJUST = `mutation ($id: ID!) { adjustStock(productId: $id, delta: 3, reason: RECEIVED) { id } }`;

  it("a price change through one gateway purges the cached product on every gateway", async () => {
    const { product } = await stockedProduct("10.00");
    const other = await startExtraGateway(stack, { REDIS_URL: stack.redisUrl, REDIS_KEY_PREFIX: stack.redisPrefix });
    try {
      const invalidated = () => metricValue(stack.gatewayUrl, "gateway_response_cache_invalidated_tags_total");
      const before = await invalidated();
      await read(stack.gatewayUrl, PRODUCT, { id: product.id });
      expect((await read(other.url, PRODUCT, { id: product.id })).headers.get("x-cache")).toBe("HIT");
      const update = await gql(
        other.url,
        `mutation ($id: ID!) { updateProduct(id: $id, input: { price: { amount: "12.50", currency: "USD" } }) { id } }`,
        { id: product.id },
        bearer(ADMIN_USER),
      );
      expect(update.body.errors).toBeUndefined();
      for (const url of [stack.gatewayUrl, other.url]) {
        const after = await read(url, PRODUCT, { id: product.id });
        expect(after.body.data!.product.price.amount).toBe("12.50");
      }
      // The purge's tags reached this gateway over pub/sub, too.
      let after = await invalidated();
      for (let i = 0; i < 40 && after === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        after = await invalidated();
      }
      expect(after).toBeGreaterThan(before);
    } finally {
      await other.close();
    }
  });

  it("a stock adjustment purges responses showing that product, listings included", async () => {
    const { product, leaf } = await stockedProduct();
    const listing = `query ($c: ID) { products(first: 5, filter: { categoryId: $c }) { edges { node { id name inStock inventory { available } } } } }`;
    const before = await read(stack.gatewayUrl, listing, { c: leaf.id });
    expect(before.body.data!.products.edges[0].node.inventory.available).toBe(5);
    expect((await read(stack.gatewayUrl, listing, { c: leaf.id })).headers.get("x-cache")).toBe("HIT");
    await gql(stack.gatewayUrl, ADJUST, { id: product.id }, bearer(ADMIN_USER));
    const after = await read(stack.gatewayUrl, listing, { c: leaf.id });
    expect(after.headers.get("x-cache")).toBe("MISS");
    expect(after.body.data!.products.edges[0].node.inventory.available).toBe(8);
  });

  it("a stock change made inside the inventory subgraph (no gateway mutation) purges too", async () => {
    const { product } = await stockedProduct();
    await read(stack.gatewayUrl, PRODUCT, { id: product.id });
    expect((await read(stack.gatewayUrl, PRODUCT, { id: product.id })).headers.get("x-cache")).toBe("HIT");
    // A back-office job calling the inventory service directly, as the gateway would.
    const identity = signIdentity(TEST_AUTH_ENV.INTERNAL_AUTH_SECRET!, { userId: ADMIN_USER.id, roles: ["ADMIN"], scopes: ["catalog:write"] });
    const direct = await fetch(`${stack.subgraphs.inventory.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", [IDENTITY_HEADER]: identity },
      body: JSON.stringify({ query: ADJUST, variables: { id: product.id } }),
    });
    expect((await json(direct)).errors).toBeUndefined();
    const after = await read(stack.gatewayUrl, PRODUCT, { id: product.id });
    expect(after.headers.get("x-cache")).toBe("MISS");
    expect(after.body.data!.product.inventory.onHand).toBe(8);
  });

  it("a new subcategory purges cached responses showing its parent's children", async () => {
    const { leaf } = await stockedProduct();
    const query = `query ($id: ID!) { category(id: $id) { id name children { name } } }`;
    expect((await read(stack.gatewayUrl, query, { id: leaf.id })).body.data!.category.children).toEqual([]);
    expect((await read(stack.gatewayUrl, query, { id: leaf.id })).headers.get("x-cache")).toBe("HIT");
    const name = `Sub ${token()}`;
    const created = await gql(
      stack.gatewayUrl,
      `mutation ($p: ID!, $n: String!) { createCategory(input: { name: $n, parentId: $p }) { id } }`,
      { p: leaf.id, n: name },
      bearer(ADMIN_USER),
    );
    expect(created.body.errors).toBeUndefined();
    expect((await read(stack.gatewayUrl, query, { id: leaf.id })).body.data!.category.children).toEqual([{ name }]);
  });

  it("a new product purges product listings; a product shown without its id is purged by any product change", async () => {
    const { product, leaf } = await stockedProduct();
    const listing = `query ($c: ID) { products(first: 5, filter: { categoryId: $c }) { totalCount } }`;
    expect((await read(stack.gatewayUrl, listing, { c: leaf.id })).body.data!.products.totalCount).toBe(1);
    await read(stack.gatewayUrl, listing, { c: leaf.id });
    const noId = `query ($id: ID!) { product(id: $id) { name } }`;
    await read(stack.gatewayUrl, noId, { id: product.id });
    expect((await read(stack.gatewayUrl, noId, { id: product.id })).headers.get("x-cache")).toBe("HIT");

    const create = await gql(
      stack.gatewayUrl,
      `mutation ($c: ID!, $sku: String!) { createProduct(input: { sku: $sku, name: "Second", price: { amount: "1.00", currency: "USD" }, weightGrams: 10, categoryId: $c }) { id } }`,
      { c: leaf.id, sku: `sku-${token()}` },
      bearer(ADMIN_USER),
    );
    expect(create.body.errors).toBeUndefined();
    expect((await read(stack.gatewayUrl, listing, { c: leaf.id })).body.data!.products.totalCount).toBe(2);

    await gql(stack.gatewayUrl, `mutation ($id: ID!) { updateProduct(id: $id, input: { name: "Renamed" }) { id } }`, { id: product.id }, bearer(ADMIN_USER));
    const renamed = await read(stack.gatewayUrl, noId, { id: product.id });
    expect(renamed.headers.get("x-cache")).toBe("MISS");
    expect(renamed.body.data!.product.name).toBe("Renamed");
  });

  it("a response that raced with a change is not stored with the old data", async () => {
    const { product } = await stockedProduct();
    const store = stack.gateway.responseCache;
    // What the plugin does: look up (taking the sequence), execute, store. A purge in between wins.
    const { seq } = await store.lookup([`race-${randomUUID()}`]);
    await store.invalidate([`Product:${product.id}`]);
    const entry = { body: "{}", scope: "PUBLIC" as const, maxAge: 60, storedAt: Date.now() };
    expect(await store.store(`race-${randomUUID()}`, entry, [`Product:${product.id}`], seq)).toBe(false);
    const { seq: now } = await store.lookup([`race-${randomUUID()}`]);
    expect(await store.store(`race-${randomUUID()}`, entry, [`Product:${product.id}`], now)).toBe(true);
  });
});

describe("query plans in Redis", () => {
  it("are stored under the supergraph's hash, and another gateway uses them instead of planning", async () => {
    // A plan with several fetches, a @requires hop (shippingEstimate needs weightGrams) and a fragment.
    const { product } = await stockedProduct();
    const query = `query Plan${token()}($id: ID!) { product(id: $id) { id ...F reviews { edges { node { author { fullName } } } } } }
      fragment F on Product { name shippingEstimate { minDays cost { amount } } inventory { onHand } }`;
    const planned = await read(stack.gatewayUrl, query, { id: product.id });
    expect(planned.body.errors).toBeUndefined();
    // Plans are shared without holding up the request that made them: wait for this one.
    let plans: string[] = [];
    for (let i = 0; i < 40 && plans.length === 0; i++) {
      plans = await redis.keys(`${stack.redisPrefix}qp:*`);
      if (plans.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(plans.length).toBeGreaterThan(0);
    expect(plans.every((key) => /qp:[0-9a-f]{16}:/.test(key))).toBe(true);

    const other = await startExtraGateway(stack, {
      REDIS_URL: stack.redisUrl,
      REDIS_KEY_PREFIX: stack.redisPrefix,
      RESPONSE_CACHE_ENABLED: "false",
    });
    try {
      const response = await read(other.url, query, { id: product.id });
      expect(response.body).toEqual(planned.body);
      expect(other.gateway.planCacheStats).toMatchObject({ shared: 1, planned: 0 });
    } finally {
      await other.close();
    }
  });
});

describe("APQ", () => {
  it("a hash that does not match its query is rejected and never stored", async () => {
    const query = `{ categories { id } }`;
    const wrong = "0".repeat(64);
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash: wrong } } }),
    });
    expect(response.status).toBe(400);
    expect((await json(response)).errors[0].extensions.code).toBe("BAD_REQUEST");
    expect(await redis.keys(`${stack.redisPrefix}apq:${wrong}`)).toEqual([]);
  });
});

describe("Redis trouble is a cache miss, not an outage", () => {
  it("with its Redis hung, then stopped, the gateway answers correctly; caching resumes when Redis is back", async () => {
    const own = await startOwnRedis();
    const gateway = await startExtraGateway(stack, { REDIS_URL: own.url, REDIS_KEY_PREFIX: "outage:" });
    const { product } = await stockedProduct("7.00");
    const expected = { product: { id: product.id, name: product.name, price: { amount: "7.00" }, inStock: true, inventory: { onHand: 5 } } };
    try {
      await read(gateway.url, PRODUCT, { id: product.id });
      expect((await read(gateway.url, PRODUCT, { id: product.id })).headers.get("x-cache")).toBe("HIT");

      // Hung: Redis calls time out (250 ms); requests are served uncached, without errors, and
      // after three timeouts the circuit opens, so later requests do not wait on Redis at all.
      own.pause();
      for (let i = 0; i < 4; i++) {
        const response = await read(gateway.url, PRODUCT, { id: product.id });
        expect(response.status).toBe(200);
        expect(response.body).toEqual({ data: expected });
        expect(response.headers.get("x-cache")).toBe("BYPASS");
      }
      expect(breakerFor(gateway.gateway.cache.redis!).isOpen()).toBe(true);

      // Down: connections refused; the same.
      await own.stop();
      const down = await read(gateway.url, PRODUCT, { id: product.id });
      expect(down.body).toEqual({ data: expected });
      expect(down.headers.get("x-cache")).toBe("BYPASS");
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/gateway_redis_errors_total\{operation="response-cache-lookup"\} [1-9]/);
      expect(metrics).toMatch(/gateway_rate_limit_fail_open_total [1-9]/);

      // Back (empty): the client reconnects by itself and caching resumes.
      await own.start();
      let outcome: string | null = null;
      for (let attempt = 0; attempt < 60 && outcome !== "HIT"; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const response = await read(gateway.url, PRODUCT, { id: product.id });
        expect(response.body).toEqual({ data: expected });
        outcome = response.headers.get("x-cache");
      }
      expect(outcome).toBe("HIT");

      // The invalidation subscriber came back with the connection: purges are heard again.
      const purger = createRedisClient(own.url, { keyPrefix: "outage:", logger: createLogger("t", "silent"), commandTimeoutMs: 1_000 });
      try {
        await redisConnected(purger, 2_000);
        const heard = () => metricValue(gateway.url, "gateway_response_cache_invalidated_tags_total");
        let count = 0;
        for (let i = 0; i < 40 && count === 0; i++) {
          await redisResponseCacheStore(purger, { logger: createLogger("t", "silent") }).invalidate([`Product:${product.id}`]);
          await new Promise((resolve) => setTimeout(resolve, 100));
          count = await heard();
        }
        expect(count).toBeGreaterThan(0);
        expect((await read(gateway.url, PRODUCT, { id: product.id })).headers.get("x-cache")).toBe("MISS");
      } finally {
        purger.disconnect();
      }
    } finally {
      own.resume();
      await gateway.close();
      await own.stop();
    }
  });
});
