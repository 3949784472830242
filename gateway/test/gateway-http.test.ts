import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { inventorySubgraph } from "@catalog/inventory";
import { productsSubgraph } from "@catalog/products";
import type { PrismaLike, SubgraphModule } from "@catalog/common";
import { gql, json, type Stack, startExtraGateway, startStack, startTestSubgraph } from "../../test/support/stack.ts";

/** A gateway on the test stack's subgraphs, with some config replaced; stopped by the caller. */
const extraGateway = (env: Record<string, string>) => startExtraGateway(stack, env);

/** A subgraph of its own on port 0, on the given database URL. */
function extraSubgraph<P extends PrismaLike>(module: SubgraphModule<P>, databaseUrl: string) {
  return startTestSubgraph(module, { databaseUrl });
}

let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack();
  redis = new Redis(inject("redisUrl"));
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe("health and readiness", () => {
  it("/health says the process is alive and /ready checks every subgraph and the cache", async () => {
    const health = await fetch(`${stack.gatewayUrl}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${stack.gatewayUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({
      ready: true,
      supergraph: { hash: expect.stringMatching(/^[0-9a-f]{64}$/), loadedAt: expect.any(String) },
      subgraphs: { users: true, products: true, orders: true, inventory: true },
      breakers: { users: "closed", products: "closed", orders: "closed", inventory: "closed" },
      cache: { kind: "redis", reachable: true },
    });
  });

  it("a subgraph up but without its database is not ready, and the gateway names it but stays ready (its fields degrade)", async () => {
    const broken = new URL(inject("databaseUrls").inventory);
    broken.pathname = "/catalog_test_no_such_database";
    const inventory = await extraSubgraph(inventorySubgraph, broken.toString());
    const server = await extraGateway({ INVENTORY_SUBGRAPH_URL: `${inventory.url}/graphql` });
    try {
      const own = await fetch(`${inventory.url}/ready`);
      expect(own.status).toBe(503);
      expect(await json(own)).toMatchObject({ status: "unavailable", reason: "database unavailable" });
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await json(ready)).toMatchObject({ ready: true, subgraphs: { inventory: false, users: true } });
    } finally {
      await server.close();
      await inventory.close();
    }
  });

  it("/ready names a subgraph that is down and stays 200; it is 503 only when no subgraph answers", async () => {
    const inventory = await extraSubgraph(inventorySubgraph, inject("databaseUrls").inventory);
    const server = await extraGateway({ INVENTORY_SUBGRAPH_URL: `${inventory.url}/graphql` });
    try {
      expect(await json(await fetch(`${server.url}/ready`))).toMatchObject({ ready: true, subgraphs: { inventory: true } });
      await inventory.close();
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await json(ready)).toMatchObject({ ready: true, subgraphs: { inventory: false, products: true } });
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("/ready is 503 when the gateway reaches no subgraph at all", async () => {
    const nowhere = "http://127.0.0.1:9/graphql";
    const server = await extraGateway({
      USERS_SUBGRAPH_URL: nowhere,
      PRODUCTS_SUBGRAPH_URL: nowhere,
      ORDERS_SUBGRAPH_URL: nowhere,
      INVENTORY_SUBGRAPH_URL: nowhere,
    });
    try {
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(503);
      expect((await json(ready)).subgraphs).toEqual({ users: false, products: false, orders: false, inventory: false });
    } finally {
      await server.close();
    }
  });
});

describe("malformed HTTP requests", () => {
  it("a body that is not JSON gets 400 BAD_REQUEST as JSON, with a request id and no stack trace", async () => {
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query": ',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/json/);
    const text = await response.text();
    expect(JSON.parse(text).errors[0].extensions.code).toBe("BAD_REQUEST");
    expect(JSON.parse(text).errors[0].extensions.requestId).toBe(response.headers.get("x-request-id"));
    expect(text).not.toMatch(/node_modules|at .*\(|SyntaxError/);
  });

  it("a body over the limit gets 413 PAYLOAD_TOO_LARGE", async () => {
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `{ categories { id } }`, variables: { pad: "x".repeat(1_100_000) } }),
    });
    expect(response.status).toBe(413);
    expect((await json(response)).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("every response carries x-request-id, health checks included", async () => {
    for (const path of ["/health", "/ready", "/graphql?query=%7B__typename%7D"]) {
      const response = await fetch(`${stack.gatewayUrl}${path}`, { headers: { "apollo-require-preflight": "1" } });
      expect(response.headers.get("x-request-id"), path).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe("internal errors", () => {
  it("are masked with a request id and never leak database details", async () => {
    // A products subgraph whose database does not exist: every query fails inside Prisma.
    const broken = new URL(inject("databaseUrls").products);
    broken.pathname = "/catalog_test_does_not_exist";
    const products = await extraSubgraph(productsSubgraph, broken.toString());
    const server = await extraGateway({ PRODUCTS_SUBGRAPH_URL: `${products.url}/graphql` });
    try {
      const response = await gql(server.url, `{ products(first: 1) { totalCount } }`, {}, { "x-request-id": "req-masking-test" });
      const text = JSON.stringify(response.body);
      expect(response.body.errors![0]).toMatchObject({
        message: "Internal server error",
        extensions: { code: "INTERNAL_SERVER_ERROR", requestId: "req-masking-test" },
      });
      expect(response.headers.get("x-request-id")).toBe("req-masking-test");
      expect(text).not.toMatch(/prisma|postgres|database|catalog_test|stack|127\.0\.0\.1/i);
    } finally {
      await server.close();
      await products.close();
    }
  });
});

describe("automatic persisted queries in Redis", () => {
  it("registers a query under its hash in Redis with a TTL, then serves it by hash alone (GET included)", async () => {
    const query = `{ categories { id } }`;
    const sha256Hash = createHash("sha256").update(query).digest("hex");
    const extensions = { persistedQuery: { version: 1, sha256Hash } };

    const unknown = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ extensions }),
    });
    expect((await json(unknown)).errors[0].extensions.code).toBe("PERSISTED_QUERY_NOT_FOUND");

    const register = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, extensions }),
    });
    expect(register.status).toBe(200);

    const keys = await redis.keys(`${stack.redisPrefix}apq:${sha256Hash}`);
    expect(keys).toHaveLength(1);
    const ttl = await redis.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(86_400);

    const params = new URLSearchParams({ extensions: JSON.stringify(extensions) });
    const byHash = await fetch(`${stack.gatewayUrl}/graphql?${params}`, { headers: { "apollo-require-preflight": "true" } });
    expect(byHash.status).toBe(200);
    const body = await json(byHash);
    expect(body.errors).toBeUndefined();
    expect(Array.isArray(body.data.categories)).toBe(true);
  });

  it("rejects a hash that does not match its query and stores nothing", async () => {
    const wrong = "0".repeat(64);
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `{ categories { id } }`, extensions: { persistedQuery: { version: 1, sha256Hash: wrong } } }),
    });
    expect(response.status).toBe(400);
    expect((await json(response)).errors[0]).toMatchObject({ message: "provided sha does not match query", extensions: { code: "BAD_REQUEST" } });
    expect(await redis.keys(`${inject("redisPrefix")}*${wrong}*`)).toHaveLength(0);
  });
});

describe("production mode", () => {
  it("serves no Sandbox and refuses introspection", async () => {
    const server = await extraGateway({ NODE_ENV: "production" });
    try {
      const page = await fetch(`${server.url}/`, { headers: { accept: "text/html" } });
      expect(await page.text()).not.toMatch(/sandbox/i);
      const introspection = await gql(server.url, `{ __schema { types { name } } }`);
      expect(introspection.status).toBe(400);
      expect(introspection.body.errors![0]!.extensions!.code).toBe("GRAPHQL_VALIDATION_FAILED");
      const normal = await gql(server.url, `{ categories { id } }`);
      expect(normal.body.errors).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it("serves Apollo Sandbox pointed at itself in development", async () => {
    const page = await fetch(`${stack.gatewayUrl}/`, { headers: { accept: "text/html" } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain("embeddable-sandbox");
    expect(html).toContain("initialEndpoint");
  });
});
