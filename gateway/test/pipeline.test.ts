import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { createCategoryTree, createProduct, createUser } from "../../test/support/fixtures.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { eventually } from "../../test/support/selling.ts";
import { countStatements, metricValue, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const PRODUCT = `query Product($id: ID!) { product(id: $id) { id name price { amount } inStock } }`;

async function stockedProduct() {
  const { leaf } = await createCategoryTree(stack.prisma.products);
  const product = await createProduct(stack.prisma.products, { categoryId: leaf.id });
  await stack.prisma.inventory.stockItem.create({ data: { productId: product.id, onHand: 5 } });
  return product;
}

/** A raw POST, so a test can compare bytes and headers exactly. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const stageCount = (url: string, stage: string) => metricValue(url, `gateway_pipeline_stage_seconds_count{stage="${stage}"}`);

describe("the request pipeline", () => {
  let gateway: Awaited<ReturnType<typeof startExtraGateway>>;
  beforeAll(async () => {
    gateway = await startExtraGateway(stack, { PIPELINE_TIMING: "true" });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("answers a repeated query from the cache before GraphQL runs, with the bytes and headers GraphQL sent", async () => {
    const product = await stockedProduct();
    const body = { query: PRODUCT, variables: { id: product.id } };
    const first = await post(gateway.url, body);
    expect(first.headers.get("x-cache")).toBe("MISS");
    // The first answer for this text came from GraphQL; the stored copy is read through it.
    const second = await post(gateway.url, body);
    expect(second.headers.get("x-cache")).toBe("HIT");

    const graphqlBefore = await stageCount(gateway.url, "graphql");
    const cacheBefore = await stageCount(gateway.url, "response-cache");
    let third!: Awaited<ReturnType<typeof post>>;
    const counts = await countStatements(stack, async () => {
      third = await post(gateway.url, body);
    });
    expect(counts).toEqual({ users: 0, products: 0, orders: 0, inventory: 0 });
    expect(third.headers.get("x-cache")).toBe("HIT");
    // Answered by the response-cache stage: the graphql stage did not run for it.
    expect(await stageCount(gateway.url, "response-cache")).toBe(cacheBefore + 1);
    expect(await stageCount(gateway.url, "graphql")).toBe(graphqlBefore);
    expect(third.status).toBe(200);
    expect(third.text).toBe(first.text);
    for (const name of ["content-type", "cache-control", "x-cache"]) expect([name, third.headers.get(name)]).toEqual([name, second.headers.get(name)]);
    expect(third.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(third.headers.get("cache-control")).toBe("max-age=30, public");
    expect(Number(third.headers.get("age"))).toBeLessThan(30);
    expect(third.headers.get("x-request-id")).toBeTruthy();

    // The media type follows the Accept header, as Apollo Server chooses it.
    const preferred = await post(gateway.url, body, { accept: "application/graphql-response+json" });
    expect(preferred.headers.get("x-cache")).toBe("HIT");
    expect(preferred.headers.get("content-type")).toBe("application/graphql-response+json; charset=utf-8");
    expect(preferred.text).toBe(first.text);
  });

  it("a persisted-query id alone hits the same entry; an id that does not match the text is Apollo's to refuse", async () => {
    const product = await stockedProduct();
    const sha256Hash = createHash("sha256").update(PRODUCT).digest("hex");
    const full = { query: PRODUCT, variables: { id: product.id }, extensions: { persistedQuery: { version: 1, sha256Hash } } };
    const first = await post(gateway.url, full);
    expect(first.headers.get("x-cache")).toBe("MISS");
    const byId = await post(gateway.url, { variables: { id: product.id }, extensions: { persistedQuery: { version: 1, sha256Hash } } });
    expect(byId.headers.get("x-cache")).toBe("HIT");
    expect(byId.text).toBe(first.text);

    const mismatched = await post(gateway.url, { ...full, extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } });
    expect(mismatched.status).toBe(400);
    expect(JSON.parse(mismatched.text).errors[0].message).toMatch(/sha/i);
  });

  it("never serves an anonymous entry to a signed-in caller, nor one user's private entry to another", async () => {
    const product = await stockedProduct();
    const body = { query: PRODUCT, variables: { id: product.id } };
    await post(gateway.url, body);
    expect((await post(gateway.url, body)).headers.get("x-cache")).toBe("HIT");
    const alice = await createUser(stack.prisma.users);
    const bob = await createUser(stack.prisma.users);
    const asAlice = await post(gateway.url, body, bearer(alice));
    expect(asAlice.headers.get("x-cache")).toBe("MISS");
    expect(asAlice.headers.get("cache-control")).toBe("max-age=30, private");

    const ME = { query: `query Me { me { id email } }` };
    const aliceMe = await post(gateway.url, ME, bearer(alice));
    expect((await post(gateway.url, ME, bearer(alice))).headers.get("x-cache")).toBe("HIT");
    const bobMe = await post(gateway.url, ME, bearer(bob));
    expect(bobMe.headers.get("x-cache")).toBe("MISS");
    expect(JSON.parse(bobMe.text).data.me.id).toBe(bob.id);
    expect(JSON.parse(aliceMe.text).data.me.id).toBe(alice.id);
  });

  it("variables nested past the input depth limit get a 400 MAX_INPUT_DEPTH_EXCEEDED, not a crash, whether or not the document is known", async () => {
    const product = await stockedProduct();
    const LISTING = `query Listing($filter: ProductFilter) { products(filter: $filter, first: 2) { totalCount } }`;
    await post(gateway.url, { query: LISTING, variables: { filter: {} } });
    const depth = 5_000;
    const deep = `${'{"inStock":'.repeat(depth)}"x"${"}".repeat(depth)}`;
    for (const query of [LISTING, `${LISTING} `]) {
      const answer = await post(gateway.url, `{"query":${JSON.stringify(query)},"variables":{"filter":${deep}}}`);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.text).errors[0].extensions).toMatchObject({ code: "MAX_INPUT_DEPTH_EXCEEDED", limit: 64 });
    }
    // The gateway is still serving.
    expect((await post(gateway.url, { query: PRODUCT, variables: { id: product.id } })).status).toBe(200);
  });
});

describe("identical subgraph calls in flight", () => {
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let gateway: Awaited<ReturnType<typeof startExtraGateway>>;
  beforeAll(async () => {
    proxy = await startFaultProxy(() => `${stack.subgraphs.products.url}/graphql`);
    gateway = await startExtraGateway(stack, { PRODUCTS_SUBGRAPH_URL: proxy.url, RESPONSE_CACHE_ENABLED: "false" });
  });
  afterAll(async () => {
    proxy?.release();
    await gateway?.close();
    await proxy?.close();
  });

  const shared = () => metricValue(gateway.url, `gateway_subgraph_calls_total{subgraph="products",shared="true"}`);

  /** Sends `requests` at once while the proxy holds products calls; releases once `joined` more calls were shared. */
  async function whileHeld(requests: (() => Promise<Awaited<ReturnType<typeof post>>>)[], expectedCalls: number, joined: number) {
    const sharedBefore = await shared();
    const receivedBefore = proxy.received;
    proxy.setMode("hold");
    try {
      const answers = Promise.all(requests.map((send) => send()));
      await eventually(async () => {
        expect(proxy.received - receivedBefore).toBe(expectedCalls);
        expect((await shared()) - sharedBefore).toBe(joined);
      });
      proxy.release();
      return { answers: await answers, calls: proxy.received - receivedBefore };
    } finally {
      proxy.setMode("pass");
      proxy.release();
    }
  }

  it("one call serves every identical query of one viewer, and each caller gets the whole answer", async () => {
    const product = await stockedProduct();
    const body = { query: PRODUCT, variables: { id: product.id } };
    const { answers, calls } = await whileHeld([1, 2, 3, 4].map(() => () => post(gateway.url, body)), 1, 3);
    expect(calls).toBe(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({ data: { product: { id: product.id, name: product.name, price: { amount: expect.any(String) }, inStock: true } } });
    }
  });

  it("different viewers never share a call, and mutations are never shared", async () => {
    const product = await stockedProduct();
    const [alice, bob] = [await createUser(stack.prisma.users), await createUser(stack.prisma.users)];
    const body = { query: PRODUCT, variables: { id: product.id } };
    const viewers = await whileHeld(
      [() => post(gateway.url, body, bearer(alice)), () => post(gateway.url, body, bearer(bob)), () => post(gateway.url, body)],
      3,
      0,
    );
    expect(viewers.answers.map((answer) => answer.status)).toEqual([200, 200, 200]);

    const RENAME = `mutation Rename($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name } }`;
    const rename = { query: RENAME, variables: { id: product.id, input: { name: `Renamed ${product.id.slice(0, 8)}` } } };
    const mutations = await whileHeld([1, 2].map(() => () => post(gateway.url, rename, bearer(ADMIN_USER))), 2, 0);
    for (const answer of mutations.answers) expect(JSON.parse(answer.text).data.updateProduct.name).toBe(rename.variables.input.name);
  });
});
