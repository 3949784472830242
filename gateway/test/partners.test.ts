import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ApolloClient, gql as clientGql, HttpLink, InMemoryCache } from "@apollo/client";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_DIR, operationId, PERSISTED_DIR, type PersistedQueryManifest } from "../src/persisted/manifest.ts";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { countStatements, gql, json, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";
import { createCategoryTree, createProduct } from "../../test/support/fixtures.ts";

let stack: Stack;
const keys: Record<string, string> = {};
const keyIds: Record<string, string> = {};
let acme: PersistedQueryManifest;
let pricewatch: PersistedQueryManifest;

const admin = (query: string, variables: Record<string, unknown> = {}) => gql(stack.gatewayUrl, query, variables, bearer(ADMIN_USER));

async function partner(slug: string, mode: "ENFORCE" | "AUDIT", quotaPerMinute = 1_000) {
  const created = await admin(`mutation ($input: CreatePartnerInput!) { createPartner(input: $input) { slug mode } }`, {
    input: { slug, name: `Partner ${slug}`, mode, quotaPerMinute, quotaPerDay: 100_000 },
  });
  expect(created.body.errors).toBeUndefined();
  const issued = await admin(`mutation ($slug: String!) { issueApiKey(slug: $slug) { key apiKey { id prefix revokedAt } } }`, { slug });
  expect(issued.body.errors).toBeUndefined();
  keys[slug] = issued.body.data!.issueApiKey.key;
  keyIds[slug] = issued.body.data!.issueApiKey.apiKey.id;
}

beforeAll(async () => {
  stack = await startStack({ PARTNER_KEY_CACHE_SECONDS: "0" });
  acme = JSON.parse(await readFile(path.join(MANIFEST_DIR, "acme.json"), "utf8")) as PersistedQueryManifest;
  pricewatch = JSON.parse(await readFile(path.join(MANIFEST_DIR, "pricewatch.json"), "utf8")) as PersistedQueryManifest;
  await partner("acme", "ENFORCE");
  await partner("pricewatch", "ENFORCE");
  await partner("rollout", "AUDIT");
  await partner("tiny", "AUDIT", 2);
});
afterAll(async () => {
  await stack?.close();
});

const byHash = (key: string, sha256Hash: string, variables: Record<string, unknown> = {}) =>
  fetch(`${stack.gatewayUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ variables, extensions: { persistedQuery: { version: 1, sha256Hash } } }),
  });
const freeform = (key: string, query: string) =>
  fetch(`${stack.gatewayUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ query }),
  });
const op = (manifest: PersistedQueryManifest, name: string) => manifest.operations.find((o) => o.name === name)!;

describe("partners on persisted queries", () => {
  it("a listed operation runs by its hash, POST and GET", async () => {
    const prices = op(pricewatch, "ProductPrices");
    const response = await byHash(keys.pricewatch!, prices.id, { first: 2 });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.errors).toBeUndefined();
    expect(Array.isArray(body.data.products.edges)).toBe(true);

    const search = new URLSearchParams({
      variables: JSON.stringify({ first: 1 }),
      extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: prices.id } }),
    });
    const get = await fetch(`${stack.gatewayUrl}/graphql?${search}`, { headers: { "x-api-key": keys.pricewatch!, "apollo-require-preflight": "true" } });
    expect(get.status).toBe(200);
    expect((await json(get)).errors).toBeUndefined();
  });

  it("a freeform query from a partner is refused before anything runs", async () => {
    let response!: Response;
    const counts = await countStatements(stack, async () => {
      response = await freeform(keys.acme!, "{ products(first: 1) { edges { node { id } } } }");
    });
    expect(response.status).toBe(400);
    expect((await json(response)).errors[0].extensions.code).toBe("PERSISTED_QUERY_ID_REQUIRED");
    // The users subgraph looked the key up (that is all it did); no catalog query ran.
    expect(counts).toEqual({ users: 2, products: 0, orders: 0, inventory: 0 });
  });

  it("an unknown id, or another partner's operation, is 404 PERSISTED_QUERY_NOT_IN_LIST", async () => {
    for (const id of ["f".repeat(64), op(pricewatch, "ProductPrices").id]) {
      const response = await byHash(keys.acme!, id);
      expect(response.status).toBe(404);
      expect((await json(response)).errors[0].extensions.code).toBe("PERSISTED_QUERY_NOT_IN_LIST");
    }
  });

  it("the listed body runs, whatever query text comes along with the id", async () => {
    const sku = op(acme, "ProductBySku");
    const response = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": keys.acme! },
      body: JSON.stringify({
        query: "{ users(first: 100) { edges { node { email } } } }",
        variables: { sku: "NO-SUCH-SKU" },
        extensions: { persistedQuery: { version: 1, sha256Hash: sku.id } },
      }),
    });
    expect(await json(response)).toEqual({ data: { productBySku: null } });
  });

  it("an unknown or revoked key is 401; a key with a bearer token is 400", async () => {
    const unknown = await byHash("cpk_not-a-key", op(acme, "ProductBySku").id, { sku: "x" });
    expect(unknown.status).toBe(401);
    expect((await json(unknown)).errors[0].extensions.code).toBe("UNAUTHENTICATED");

    await partner("leaving", "ENFORCE");
    const revoked = await admin(`mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: keyIds.leaving });
    expect(revoked.body.data!.revokeApiKey.revokedAt).toEqual(expect.any(String));
    const afterRevoke = await freeform(keys.leaving!, "{ categories { id } }");
    expect(afterRevoke.status).toBe(401);

    const both = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": keys.acme!, ...bearer(ADMIN_USER) },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: op(acme, "ProductBySku").id } } }),
    });
    expect(both.status).toBe(400);
  });

  it("a key that is not in our format is refused without a lookup", async () => {
    let status = 0;
    const counts = await countStatements(stack, async () => {
      status = (await freeform("cpk_short", "{ categories { id } }")).status;
    });
    expect(status).toBe(401);
    expect(counts).toEqual({ users: 0, products: 0, orders: 0, inventory: 0 });
  });

  it("a freeform GET from a partner is refused like a POST", async () => {
    const search = new URLSearchParams({ query: "{ categories { id } }" });
    const response = await fetch(`${stack.gatewayUrl}/graphql?${search}`, { headers: { "x-api-key": keys.acme!, "apollo-require-preflight": "true" } });
    expect(response.status).toBe(400);
    expect((await json(response)).errors[0].extensions.code).toBe("PERSISTED_QUERY_ID_REQUIRED");
  });

  it("moving a partner from AUDIT to ENFORCE stops its unlisted operations", async () => {
    await partner("graduating", "AUDIT");
    expect((await freeform(keys.graduating!, "{ categories { id } }")).status).toBe(200);
    const updated = await admin(`mutation { updatePartner(slug: "graduating", input: { mode: ENFORCE }) { mode apiKeys { prefix } } }`);
    expect(updated.body.data!.updatePartner.mode).toBe("ENFORCE");
    expect((await freeform(keys.graduating!, "{ categories { id } }")).status).toBe(400);
  });

  it("audit mode runs operations not in the list, and records them", async () => {
    const response = await freeform(keys.rollout!, "query Explore { categories { id } }");
    expect(response.status).toBe(200);
    expect((await json(response)).errors).toBeUndefined();
    const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
    // Names chosen by the client are logged, not used as partner labels (unbounded series); only
    // the request histogram keeps them, bounded by METRICS_MAX_OPERATION_NAMES.
    expect(metrics).toMatch(/gateway_partner_operations_total\{partner="rollout",operation="\(unlisted\)",outcome="freeform_audit"\} 1/);
    expect(metrics).not.toMatch(/^gateway_partner_operations_total\{[^}]*Explore/m);
    expect(metrics).toMatch(/gateway_partner_operations_total\{partner="acme",operation="",outcome="freeform_refused"\} [1-9]/);
  });

  it("a partner's quota is counted in Redis: over it, 429 RATE_LIMITED with Retry-After", async () => {
    for (let i = 0; i < 2; i++) expect((await freeform(keys.tiny!, "{ categories { id } }")).status).toBe(200);
    const over = await freeform(keys.tiny!, "{ categories { id } }");
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await json(over)).errors[0].extensions.code).toBe("RATE_LIMITED");
  });

  it("a partner's quota, not the general per-caller limit, decides", async () => {
    const strict = await startExtraGateway(stack, {
      REDIS_URL: stack.redisUrl,
      REDIS_KEY_PREFIX: `${stack.redisPrefix}strict-partners:`,
      RATE_LIMIT_POINTS: "2",
      RATE_LIMIT_ANONYMOUS_POINTS: "1000",
      PARTNER_KEY_CACHE_SECONDS: "0",
    });
    try {
      for (let i = 0; i < 4; i++) {
        const response = await fetch(`${strict.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": keys.pricewatch! },
          body: JSON.stringify({ variables: { first: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: op(pricewatch, "ProductPrices").id } } }),
        });
        expect(response.status).toBe(200);
      }
    } finally {
      await strict.close();
    }
  });

  it("partners and keys are listed for admins only, never with the keys themselves", async () => {
    const listed = await admin(`{ partners { slug mode quotaPerMinute apiKeys { prefix revokedAt } } }`);
    expect(listed.body.errors).toBeUndefined();
    const acmeRow = listed.body.data!.partners.find((p: { slug: string }) => p.slug === "acme");
    expect(acmeRow.apiKeys[0].prefix).toBe(keys.acme!.slice(0, 12));
    expect(JSON.stringify(listed.body)).not.toContain(keys.acme!);
    const customer = await gql(stack.gatewayUrl, `{ partners { slug } }`, {}, bearer({ id: ADMIN_USER.id, roles: ["CUSTOMER"] }));
    expect(customer.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
  });
});

describe("with Apollo Client", () => {
  /** Records every request body the client sends, to see what went over the wire. */
  function recordingFetch(sent: Record<string, unknown>[]): typeof fetch {
    return async (input, init) => {
      sent.push(JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>);
      return fetch(input, init);
    };
  }

  it("a partner's client with the persisted-queries link runs its listed operation by id alone", async () => {
    const sent: Record<string, unknown>[] = [];
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: createPersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: () => acme })).concat(
        new HttpLink({ uri: `${stack.gatewayUrl}/graphql`, headers: { "x-api-key": keys.acme! }, fetch: recordingFetch(sent) }),
      ),
    });
    const source = await readFile(path.join(PERSISTED_DIR, "acme", "ProductBySku.graphql"), "utf8");
    const result = await client.query({ query: clientGql(source), variables: { sku: "NO-SUCH-SKU" }, fetchPolicy: "no-cache" });
    expect(result.data).toEqual({ productBySku: null });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.query).toBeUndefined();
    expect(sent[0]!.extensions).toMatchObject({ persistedQuery: { version: 1, sha256Hash: op(acme, "ProductBySku").id } });
  });

  it("the same partner's freeform query, through a plain client, is refused", async () => {
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: new HttpLink({ uri: `${stack.gatewayUrl}/graphql`, headers: { "x-api-key": keys.acme! } }),
    });
    const failure = await client.query({ query: clientGql("query Mine { categories { id } }"), fetchPolicy: "no-cache" }).then(
      () => undefined,
      (error: unknown) => error as { statusCode?: number; bodyText?: string; errors?: unknown },
    );
    expect(failure).toBeDefined();
    expect(`${failure!.bodyText ?? ""}${JSON.stringify(failure!.errors ?? "")}`).toContain("PERSISTED_QUERY_ID_REQUIRED");
  });

  it("first-party APQ: the client registers its query once, then sends the hash alone", async () => {
    const sent: Record<string, unknown>[] = [];
    const link = () =>
      createPersistedQueryLink({ sha256: (query: string) => createHash("sha256").update(query).digest("hex") }).concat(
        new HttpLink({ uri: `${stack.gatewayUrl}/graphql`, fetch: recordingFetch(sent) }),
      );
    const query = clientGql(`query FirstParty${Date.now()} { categories { id name } }`);
    const first = new ApolloClient({ cache: new InMemoryCache(), link: link() });
    expect((await first.query({ query, fetchPolicy: "no-cache" })).data).toBeDefined();
    // Hash alone (not found), then hash with the query: registered.
    expect(sent.map((body) => typeof body.query)).toEqual(["undefined", "string"]);
    const second = new ApolloClient({ cache: new InMemoryCache(), link: link() });
    await second.query({ query, fetchPolicy: "no-cache" });
    expect(sent.map((body) => typeof body.query)).toEqual(["undefined", "string", "undefined"]);
  });
});

describe("a stale manifest", () => {
  it("is refused at load: the partner's operations are not in any list (404), nothing runs", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "stale-manifests-"));
    const stale = "query Stale { products(first: 1) { edges { node { id discontinuedField } } } }";
    await writeFile(
      path.join(dir, "acme.json"),
      JSON.stringify({ format: "apollo-persisted-query-manifest", version: 1, operations: [{ id: operationId(stale), name: "Stale", type: "query", body: stale }] }),
    );
    const gateway = await startExtraGateway(stack, { PARTNER_MANIFEST_DIR: dir, PARTNER_KEY_CACHE_SECONDS: "0" });
    try {
      const response = await fetch(`${gateway.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": keys.acme! },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId(stale) } } }),
      });
      expect(response.status).toBe(404);
      expect((await json(response)).errors[0].extensions.code).toBe("PERSISTED_QUERY_NOT_IN_LIST");
    } finally {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("partners that sell", () => {
  const address = { name: "Acme Fulfilment", line1: "1 Dock Road", city: "Rotterdam", postalCode: "3011", country: "NL" };

  async function product(onHand: number) {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const created = await createProduct(stack.prisma.products, { categoryId: leaf.id, price: "7.00" });
    await stack.prisma.inventory.stockItem.create({ data: { productId: created.id, onHand } });
    return created.id;
  }

  it("a partner places and pays its own order through its listed operations; freeform is refused", async () => {
    const productId = await product(5);
    const placed = await json(
      await byHash(keys.acme!, op(acme, "PlaceOrder").id, { lines: [{ productId, quantity: 2 }], address, idempotencyKey: "acme-order-0001" }),
    );
    expect(placed.errors).toBeUndefined();
    expect(placed.data.placeOrder).toMatchObject({ status: "PENDING", total: { amount: "14.00", currency: "USD" } });
    const order = await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: placed.data.placeOrder.id } });
    const acmePartner = await stack.prisma.users.partner.findUniqueOrThrow({ where: { slug: "acme" } });
    expect(order.userId).toBe(acmePartner.id);
    // Admins see it among all orders, marked as a partner's, with no user to resolve.
    const listed = await admin(`query ($id: ID!) { orders(filter: { userId: $id }) { edges { node { id placedByPartner user { fullName } history { actor } } } } }`, { id: acmePartner.id });
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data!.orders.edges).toEqual([{ node: { id: order.id, placedByPartner: true, user: null, history: [{ actor: "PARTNER" }] } }]);

    const paid = await json(await byHash(keys.acme!, op(acme, "PayOrder").id, { orderId: order.id, cardNumber: "4242424242424242" }));
    expect(paid.data.payOrder).toMatchObject({ status: "PROCESSING", payment: { status: "CAPTURED" } });

    const free = await freeform(keys.acme!, `mutation { cancelOrder(orderId: "${order.id}") { status } }`);
    expect(free.status).toBe(400);
    expect((await json(free)).errors[0].extensions.code).toBe("PERSISTED_QUERY_ID_REQUIRED");
    expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: order.id } })).status).toBe("PROCESSING");
  });

  it("an operation an AUDIT partner runs unlisted runs anonymously: it cannot act as the partner", async () => {
    const productId = await product(5);
    const response = await freeform(
      keys.rollout!,
      `mutation { placeOrder(lines: [{ productId: "${productId}", quantity: 1 }], idempotencyKey: "rollout-order-1", shippingAddress: { name: "R", line1: "1 St", city: "Oslo", postalCode: "0150", country: "NO" }) { id } }`,
    );
    expect((await json(response)).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    expect((await stack.prisma.inventory.stockItem.findUniqueOrThrow({ where: { productId } })).reserved).toBe(0);
  });

  it("orders beyond a partner's quota are refused before anything is reserved", async () => {
    const created = await admin(`mutation ($input: CreatePartnerInput!) { createPartner(input: $input) { slug } }`, {
      input: { slug: "shopbot", name: "Shopbot", mode: "ENFORCE", quotaPerMinute: 2, quotaPerDay: 100 },
    });
    expect(created.body.errors).toBeUndefined();
    const issued = await admin(`mutation { issueApiKey(slug: "shopbot") { key } }`);
    const key = issued.body.data!.issueApiKey.key as string;
    const shopbot = JSON.parse(await readFile(path.join(MANIFEST_DIR, "shopbot.json"), "utf8")) as PersistedQueryManifest;
    const productId = await product(10);
    const buy = (n: number) => byHash(key, op(shopbot, "BuyNow").id, { productId, quantity: 1, address, idempotencyKey: `shopbot-order-${n}-${productId}` });
    for (const n of [1, 2]) expect((await json(await buy(n))).data.placeOrder.status).toBe("PENDING");
    const third = await buy(3);
    expect(third.status).toBe(429);
    expect((await json(third)).errors[0].extensions.code).toBe("RATE_LIMITED");
    expect((await stack.prisma.inventory.stockItem.findUniqueOrThrow({ where: { productId } })).reserved).toBe(2);
    expect(await stack.prisma.orders.orderItem.count({ where: { productId } })).toBe(2);
  });
});
