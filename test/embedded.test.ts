import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { SEED_DEMO_PASSWORD, SEED_SIZES } from "@catalog/common";
import { afterAll, describe, expect, it } from "vitest";
import { startSystemProcess } from "../scripts/start-process.ts";
import { eventually } from "./support/selling.ts";
import { gql } from "./support/stack.ts";

/** `npm start` with no database or Redis configured. */
function startEmbedded(dataDir: string) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/DATABASE_URL$|^REDIS_URL$|_SUBGRAPH_URL$/.test(key)),
  );
  // Load shedding off: the whole system runs in this one process, and beside the rest of the suite
  // on a busy machine its event loop can lag past the threshold, answering this test's requests
  // 503 (as it should: shedding is tested in gateway/test/resilience). Here: seeding and restarts.
  return startSystemProcess({ ...env, DATA_DIR: dataDir, PORT: "0", SUBGRAPH_PORT_BASE: "0", LOG_LEVEL: "warn", SHED_EVENT_LOOP_DELAY_MS: "0" });
}

const CATALOG = `{
  active: products(first: 1) { totalCount }
  archived: products(first: 1, filter: { status: ARCHIVED }) { totalCount }
  users(first: 1) { totalCount }
  categories { children { children { id } } }
}`;

const CROSS = `{
  products(first: 3, sort: PRICE_DESC) {
    edges { node { sku inventory { available } reviews(first: 1) { edges { node { author { fullName orders(first: 1) { totalCount edges { node { itemCount } } } } } } } } }
  }
}`;

const LOGIN = `mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken user { email roles } } }`;

let dataDir: string;
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("npm start with no database configured", () => {
  // Two starts, the first migrating and seeding four embedded databases: each waits for the
  // system's own ready banner, however long a busy machine takes; this timeout only ends a hang.
  it("seeds an embedded catalog on first start, answers across subgraphs, and keeps the data on restart", { timeout: 600_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "catalog-embedded-"));

    const first = await startEmbedded(dataDir);
    let firstAnswer: unknown;
    let admin: Record<string, string> = {};
    try {
      // Availability is known once the system says it is ready: the products subgraph's replica
      // read inventory's stock feed before the gateway opened (it listed nothing in stock for the
      // first interval). The replica's listing agrees with inventory itself (Product.inStock).
      const stocked = await gql(first.url, `{ products(first: 20, filter: { inStock: true }) { totalCount edges { node { inStock } } } }`);
      expect(stocked.body.errors).toBeUndefined();
      expect(stocked.body.data!.products.totalCount).toBeGreaterThan(0);
      expect(stocked.body.data!.products.edges.map((edge: any) => edge.node.inStock)).toEqual(Array(20).fill(true));
      expect(first.output()).toContain("seeded the demo catalog");
      expect(first.output()).toContain("embedded PostgreSQL");
      // The seeded admin signs in with the demo password, as the README tells a new user to.
      const wrong = await gql(first.url, LOGIN, { email: "admin@example.com", password: "not-the-password" });
      expect(wrong.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      const login = await gql(first.url, LOGIN, { email: "admin@example.com", password: SEED_DEMO_PASSWORD });
      expect(login.body.errors, JSON.stringify(login.body.errors)).toBeUndefined();
      expect(login.body.data!.login.user).toEqual({ email: "admin@example.com", roles: ["CUSTOMER", "ADMIN"] });
      admin = { authorization: `Bearer ${login.body.data!.login.accessToken}` };
      // Rotation runs in an interactive transaction; PGlite must support it as PostgreSQL does.
      const refresh = `mutation ($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`;
      const refreshed = await gql(first.url, refresh, { t: login.body.data!.login.refreshToken });
      expect(refreshed.body.errors).toBeUndefined();
      const replayed = await gql(first.url, refresh, { t: login.body.data!.login.refreshToken });
      expect(replayed.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      const catalog = await gql(first.url, CATALOG, {}, admin);
      expect(catalog.body.errors).toBeUndefined();
      const data = catalog.body.data!;
      expect(data.active.totalCount + data.archived.totalCount).toBe(SEED_SIZES.products);
      expect(data.users.totalCount).toBeGreaterThanOrEqual(200);
      const leaves = data.categories.flatMap((root: any) => root.children.flatMap((child: any) => child.children));
      expect(data.categories.length + data.categories.flatMap((r: any) => r.children).length + leaves.length).toBeGreaterThanOrEqual(30);
      expect(leaves.length).toBeGreaterThan(0);

      const cross = await gql(first.url, CROSS, {}, admin);
      expect(cross.body.errors).toBeUndefined();
      expect(cross.body.data!.products.edges).toHaveLength(3);
      firstAnswer = cross.body.data;

      // Search on PGlite as on PostgreSQL: stemmed full-text, a typo forgiven (pg_trgm, loaded by
      // the embedded database), relevance order, and facets with availability from the stock feed.
      const search = `{ products(first: 5, filter: { search: "hedphones" }) {
        totalCount edges { node { name category { name } } }
        facets { categories { category { name } count } availability { inStock outOfStock } }
      } }`;
      const found = await eventually(async () => {
        const answer = await gql(first.url, search);
        expect(answer.body.errors).toBeUndefined();
        // The seed stocks most products: the replica has caught up once some count as in stock.
        expect(answer.body.data!.products.facets.availability.inStock).toBeGreaterThan(0);
        return answer.body.data!.products;
      }, 120_000);
      expect(found.totalCount).toBeGreaterThan(0);
      expect(found.edges.every((edge: any) => edge.node.category.name === "Headphones")).toBe(true);
      expect(found.facets.categories).toContainEqual({ category: { name: "Headphones" }, count: found.totalCount });
      expect(found.facets.availability.inStock + found.facets.availability.outOfStock).toBe(found.totalCount);

      // The in-process response cache: a repeat is a HIT; a stock change purges it at once.
      const product = `{ productBySku(sku: "SKU-00042") { id inventory { onHand } } }`;
      const before = await gql(first.url, product);
      expect((await gql(first.url, product)).headers.get("x-cache")).toBe("HIT");
      const adjust = `mutation ($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: CORRECTION) { id } }`;
      const id = before.body.data!.productBySku.id as string;
      expect((await gql(first.url, adjust, { id, d: 1 }, admin)).body.errors).toBeUndefined();
      const after = await gql(first.url, product);
      expect(after.headers.get("x-cache")).toBe("MISS");
      expect(after.body.data!.productBySku.inventory.onHand).toBe(before.body.data!.productBySku.inventory.onHand + 1);
      expect((await gql(first.url, adjust, { id, d: -1 }, admin)).body.errors).toBeUndefined();

      // Selling on the embedded default: the saga's jobs (pg-boss) live in the embedded database too.
      const stock = `{ productBySku(sku: "SKU-00042") { inventory { reserved } } }`;
      const reservedBefore = (await gql(first.url, stock)).body.data!.productBySku.inventory.reserved as number;
      const place = `mutation ($id: ID!) { placeOrder(lines: [{ productId: $id, quantity: 1 }], idempotencyKey: "embedded-order-1",
        shippingAddress: { name: "Ada", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" }) { id status } }`;
      const placed = await gql(first.url, place, { id }, admin);
      expect(placed.body.errors, JSON.stringify(placed.body.errors)).toBeUndefined();
      expect(placed.body.data!.placeOrder.status).toBe("PENDING");
      expect((await gql(first.url, stock)).body.data!.productBySku.inventory.reserved).toBe(reservedBefore + 1);
      const pay = `mutation ($id: ID!) { payOrder(orderId: $id, payment: { cardNumber: "4242424242424242" }) { status payment { status } } }`;
      const paid = await gql(first.url, pay, { id: placed.body.data!.placeOrder.id }, admin);
      expect(paid.body.data!.payOrder).toEqual({ status: "PROCESSING", payment: { status: "CAPTURED" } });
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = await startEmbedded(dataDir);
    try {
      expect(second.output()).not.toContain("seeded the demo catalog");
      // The generated development secrets persist in DATA_DIR, so the token still verifies.
      const cross = await gql(second.url, CROSS, {}, admin);
      expect(cross.body.data).toEqual(firstAnswer);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
