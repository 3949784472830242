import { randomUUID } from "node:crypto";
import { peerClient, SERVICE_SCOPES, signIdentity, signServiceIdentity } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, ADMIN_USER, bearer, testAuthConfig } from "../../test/support/auth.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { createCategoryTree, createOrder, createProduct, createUser } from "../../test/support/fixtures.ts";
import { gql, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  // A short purchase check, so the "orders hangs" case answers within a second.
  stack = await startStack({}, { subgraphEnv: { REVIEW_PURCHASE_CHECK_TIMEOUT_MS: "500" } });
});
afterAll(async () => {
  await stack?.close();
});

const REVIEW_FIELDS = `id rating title body verifiedPurchase author { id } product { id }`;
const CREATE = `mutation ($input: CreateReviewInput!) { createReview(input: $input) { ${REVIEW_FIELDS} } }`;
const UPDATE = `mutation ($id: ID!, $input: UpdateReviewInput!) { updateReview(id: $id, input: $input) { ${REVIEW_FIELDS} } }`;
const DELETE = `mutation ($id: ID!) { deleteReview(id: $id) }`;
const HIDE = `mutation ($id: ID!, $reason: String) { hideReview(id: $id, reason: $reason) { id } }`;
const UNHIDE = `mutation ($id: ID!) { unhideReview(id: $id) { id } }`;
const PAGE = `query ($id: ID!, $first: Int, $after: String) { product(id: $id) {
  reviewSummary { count averageRating }
  reviews(first: $first, after: $after) { totalCount edges { cursor node { id rating } } pageInfo { hasNextPage endCursor } }
} }`;

async function product() {
  const { leaf } = await createCategoryTree(stack.prisma.products);
  return { product: await createProduct(stack.prisma.products, { categoryId: leaf.id }), leaf };
}

async function customer() {
  const user = await createUser(stack.prisma.users);
  return { user, headers: bearer({ id: user.id }) };
}

const reviewInput = (productId: string, extra: Record<string, unknown> = {}) => ({
  productId,
  rating: 4,
  title: "Does the job",
  body: "Sturdy, quiet and easy to clean.",
  ...extra,
});

const reviewsOf = (productId: string) => stack.prisma.products.review.findMany({ where: { productId }, orderBy: { createdAt: "asc" } });

describe("writing reviews", () => {
  it("a buyer's review is a verified purchase, a non-buyer's is not; PENDING and CANCELLED orders are no purchase", async () => {
    const { product: p } = await product();
    const [buyer, browser, unpaid, cancelled] = await Promise.all([customer(), customer(), customer(), customer()]);
    await createOrder(stack.prisma.orders, buyer.user.id, [{ productId: p.id, quantity: 1, unitPrice: "10.00" }]);
    for (const [who, status] of [[unpaid, "PENDING"], [cancelled, "CANCELLED"]] as const) {
      const order = await createOrder(stack.prisma.orders, who.user.id, [{ productId: p.id, quantity: 1, unitPrice: "10.00" }]);
      await stack.prisma.orders.order.update({ where: { id: order.id }, data: { status } });
    }

    const bought = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, buyer.headers);
    expect(bought.body.errors).toBeUndefined();
    expect(bought.body.data!.createReview).toMatchObject({ rating: 4, title: "Does the job", verifiedPurchase: true, author: { id: buyer.user.id }, product: { id: p.id } });
    for (const who of [browser, unpaid, cancelled]) {
      const { body } = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { title: null }) }, who.headers);
      expect(body.errors).toBeUndefined();
      expect(body.data!.createReview).toMatchObject({ verifiedPurchase: false, title: null, author: { id: who.user.id } });
    }
  });

  it("one review per product per customer: a second is CONFLICT (REVIEW_EXISTS) and nothing more is written", async () => {
    const { product: p } = await product();
    const author = await customer();
    const first = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, author.headers);
    const second = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { rating: 1 }) }, author.headers);
    expect(second.body.data).toBeNull();
    expect(second.body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", reason: "REVIEW_EXISTS", reviewId: first.body.data!.createReview.id });
    // Two at once: the unique index lets one through.
    const other = await customer();
    const racing = await Promise.all([1, 2].map(() => gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, other.headers)));
    expect(racing.filter((r) => r.body.data?.createReview).length).toBe(1);
    expect(racing.find((r) => r.body.errors)!.body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", reason: "REVIEW_EXISTS" });
    expect((await reviewsOf(p.id)).map((r) => r.rating)).toEqual([4, 4]);
  });

  it("invalid input is BAD_USER_INPUT naming the field, an unknown product NOT_FOUND, anonymous UNAUTHENTICATED; nothing is written", async () => {
    const { product: p } = await product();
    const author = await customer();
    const cases: [Record<string, unknown>, string][] = [
      [{ rating: 0 }, "input.rating"],
      [{ rating: 6 }, "input.rating"],
      [{ rating: 4.5 }, "input.rating"],
      [{ body: "Too short" }, "input.body"],
      [{ body: "x".repeat(5001) }, "input.body"],
      [{ title: "t".repeat(121) }, "input.title"],
    ];
    for (const [extra, field] of cases) {
      const { body } = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, extra) }, author.headers);
      // 4.5 is refused by GraphQL's Int coercion before our validation: a different code, same outcome.
      if (extra.rating === 4.5) expect(body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
      else expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    }
    const unknown = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(randomUUID()) }, author.headers);
    expect(unknown.body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    const anonymous = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) });
    expect(anonymous.body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    expect(await reviewsOf(p.id)).toEqual([]);
  });

  it("only the author edits or deletes a review (FORBIDDEN for anyone else); a moderator may delete it", async () => {
    const { product: p } = await product();
    const [author, stranger] = await Promise.all([customer(), customer()]);
    const { body } = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, author.headers);
    const id = body.data!.createReview.id as string;

    const edit = await gql(stack.gatewayUrl, UPDATE, { id, input: { rating: 1, body: "Broke within a week, sadly." } }, stranger.headers);
    expect(edit.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    const remove = await gql(stack.gatewayUrl, DELETE, { id }, stranger.headers);
    expect(remove.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await reviewsOf(p.id)).map((r) => [r.rating, r.body])).toEqual([[4, "Sturdy, quiet and easy to clean."]]);

    const own = await gql(stack.gatewayUrl, UPDATE, { id, input: { rating: 2, title: null } }, author.headers);
    expect(own.body.data!.updateReview).toMatchObject({ id, rating: 2, title: null, body: "Sturdy, quiet and easy to clean." });
    const invalid = await gql(stack.gatewayUrl, UPDATE, { id, input: { body: "short" } }, author.headers);
    expect(invalid.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.body" });

    const moderated = await gql(stack.gatewayUrl, DELETE, { id }, bearer(ADMIN_USER));
    expect(moderated.body.data).toEqual({ deleteReview: id });
    expect(await reviewsOf(p.id)).toEqual([]);
  });

  it("orders unreachable or too slow: SERVICE_UNAVAILABLE and nothing written", async () => {
    const { product: p } = await product();
    const author = await customer();
    const ordersUrl = `${stack.subgraphs.orders.url}/graphql`;
    const proxy = await startFaultProxy(() => ordersUrl);
    try {
      stack.setPeerUrl("orders", "http://127.0.0.1:1/graphql");
      const down = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, author.headers);
      expect(down.body.errors![0]!.extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
      expect(down.body.errors![0]!.message).not.toContain("127.0.0.1");

      stack.setPeerUrl("orders", proxy.url);
      proxy.setMode("hang");
      const slow = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, author.headers);
      expect(slow.body.errors![0]!.extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
      expect(await reviewsOf(p.id)).toEqual([]);

      proxy.setMode("pass");
      const back = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, author.headers);
      expect(back.body.data!.createReview).toMatchObject({ verifiedPurchase: false });
    } finally {
      stack.setPeerUrl("orders", ordersUrl);
      await proxy.close();
    }
  });

  it("purchasedProducts is not in the API and answers only the service scope purchases:read", async () => {
    const viaGateway = await gql(stack.gatewayUrl, `{ purchasedProducts(userId: "${randomUUID()}", productIds: []) }`, {}, bearer(ADMIN_USER));
    expect(viaGateway.body.errors![0]!.extensions!.code).toBe("GRAPHQL_VALIDATION_FAILED");
    const { product: p } = await product();
    const buyer = await customer();
    await createOrder(stack.prisma.orders, buyer.user.id, [{ productId: p.id, quantity: 1, unitPrice: "10.00" }]);
    const call = peerClient("orders", () => `${stack.subgraphs.orders.url}/graphql`, { timeoutMs: 10_000 });
    const query = `query ($u: ID!, $p: [ID!]!) { purchasedProducts(userId: $u, productIds: $p) }`;
    const variables = { u: buyer.user.id, p: [p.id, randomUUID()] };
    const secret = testAuthConfig.internalSecrets[0]!;
    const asService = await call<{ purchasedProducts: string[] }>({ requestId: randomUUID(), identityToken: signServiceIdentity(secret, [SERVICE_SCOPES.PURCHASES_READ]) }, query, variables);
    expect(asService.data.purchasedProducts).toEqual([p.id]);
    await expect(call({ requestId: randomUUID(), identityToken: signIdentity(secret, ADMIN) }, query, variables)).rejects.toMatchObject({
      extensions: { code: "FORBIDDEN" },
    });
  });
});

describe("reading reviews", () => {
  it("pages newest first, stable while reviews are added, with totalCount and the summary over visible reviews", async () => {
    const { product: p } = await product();
    const authors = await Promise.all([1, 2, 3, 4, 5].map(() => customer()));
    const ids: string[] = [];
    for (const [i, author] of authors.entries()) {
      const { body } = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { rating: i + 1 }) }, author.headers);
      ids.push(body.data!.createReview.id);
    }
    const first = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 2 });
    expect(first.body.data!.product.reviews).toMatchObject({ totalCount: 5, pageInfo: { hasNextPage: true } });
    // A review written between pages does not shift the next page.
    const late = await customer();
    await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { rating: 5 }) }, late.headers);
    const seen = first.body.data!.product.reviews.edges.map((e: { node: { id: string } }) => e.node.id);
    let after = first.body.data!.product.reviews.pageInfo.endCursor as string;
    for (;;) {
      const { body } = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 2, after });
      seen.push(...body.data!.product.reviews.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!body.data!.product.reviews.pageInfo.hasNextPage) break;
      after = body.data!.product.reviews.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());

    const bad = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 2, after: "bm90LWEtY3Vyc29y" });
    expect(bad.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
    const tooMany = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 101 });
    expect(tooMany.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
  });

  it("a hidden review leaves the list, the summary and listings, and the cached product page is purged; unhiding brings it back", async () => {
    const { product: p, leaf } = await product();
    const [a, b] = await Promise.all([customer(), customer()]);
    await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { rating: 5 }) }, a.headers);
    const { body } = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { rating: 1 }) }, b.headers);
    const hiddenId = body.data!.createReview.id as string;
    const LISTING = `query ($c: ID!) { products(filter: { categoryId: $c }) { edges { node { id reviewSummary { count averageRating } } } } }`;

    const page = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 });
    expect(page.body.data!.product.reviewSummary).toEqual({ count: 2, averageRating: 3 });
    expect((await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 })).headers.get("x-cache")).toBe("HIT");
    await gql(stack.gatewayUrl, LISTING, { c: leaf.id });
    expect((await gql(stack.gatewayUrl, LISTING, { c: leaf.id })).headers.get("x-cache")).toBe("HIT");

    const refused = await gql(stack.gatewayUrl, HIDE, { id: hiddenId }, b.headers);
    expect(refused.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    const hidden = await gql(stack.gatewayUrl, HIDE, { id: hiddenId, reason: "Spam" }, bearer(ADMIN_USER));
    expect(hidden.body.errors).toBeUndefined();

    const after = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 });
    expect(after.headers.get("x-cache")).toBe("MISS");
    expect(after.body.data!.product.reviewSummary).toEqual({ count: 1, averageRating: 5 });
    expect(after.body.data!.product.reviews.totalCount).toBe(1);
    expect(after.body.data!.product.reviews.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(hiddenId);
    const listing = await gql(stack.gatewayUrl, LISTING, { c: leaf.id });
    expect(listing.headers.get("x-cache")).toBe("MISS");
    expect(listing.body.data!.products.edges[0].node.reviewSummary).toEqual({ count: 1, averageRating: 5 });
    // The hidden review is gone to entity lookups too, and its author cannot write another.
    const again = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, b.headers);
    expect(again.body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", reason: "REVIEW_EXISTS" });
    // To anyone else it does not exist: not FORBIDDEN, which would confirm it.
    expect((await gql(stack.gatewayUrl, UPDATE, { id: hiddenId, input: { rating: 4 } }, a.headers)).body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect((await gql(stack.gatewayUrl, DELETE, { id: hiddenId }, a.headers)).body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    // Its author still may (edit it while it is hidden).
    expect((await gql(stack.gatewayUrl, UPDATE, { id: hiddenId, input: { rating: 2 } }, b.headers)).body.errors).toBeUndefined();

    await gql(stack.gatewayUrl, UNHIDE, { id: hiddenId }, bearer(ADMIN_USER));
    const shown = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 });
    expect(shown.body.data!.product.reviewSummary).toEqual({ count: 2, averageRating: 3.5 });
  });

  it("an author's edit purges the cached product page", async () => {
    const { product: p } = await product();
    const author = await customer();
    const { body } = await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id, { rating: 2 }) }, author.headers);
    await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 });
    expect((await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 })).headers.get("x-cache")).toBe("HIT");
    await gql(stack.gatewayUrl, UPDATE, { id: body.data!.createReview.id, input: { rating: 5 } }, author.headers);
    const fresh = await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 });
    expect(fresh.body.data!.product.reviewSummary).toEqual({ count: 1, averageRating: 5 });
    await gql(stack.gatewayUrl, DELETE, { id: body.data!.createReview.id }, author.headers);
    expect((await gql(stack.gatewayUrl, PAGE, { id: p.id, first: 10 })).body.data!.product.reviewSummary).toEqual({ count: 0, averageRating: null });
  });
});

describe("review write limit", () => {
  it("refuses the N+1th review write of a user in the window with 429 RATE_LIMITED and Retry-After; one write per request", async () => {
    const gateway = await startExtraGateway(stack, { REDIS_URL: stack.redisUrl, REDIS_KEY_PREFIX: `${stack.redisPrefix}rl-${randomUUID().slice(0, 8)}:`, REVIEW_RATE_LIMIT_POINTS: "3", REVIEW_RATE_LIMIT_WINDOW_SECONDS: "3600" });
    try {
      const { product: p } = await product();
      const [author, other] = await Promise.all([customer(), customer()]);
      const created = await gql(gateway.url, CREATE, { input: reviewInput(p.id) }, author.headers);
      const id = created.body.data!.createReview.id as string;
      for (const rating of [2, 3]) {
        const { status } = await gql(gateway.url, UPDATE, { id, input: { rating } }, author.headers);
        expect(status).toBe(200);
      }
      const refused = await gql(gateway.url, UPDATE, { id, input: { rating: 1 } }, author.headers);
      expect(refused.status).toBe(429);
      expect(refused.body.errors![0]!.extensions!.code).toBe("RATE_LIMITED");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await reviewsOf(p.id))[0]!.rating).toBe(3);
      // Per user: another customer still writes.
      expect((await gql(gateway.url, CREATE, { input: reviewInput(p.id) }, other.headers)).status).toBe(200);
      // Moderators are not counted: clearing a flood of spam takes more deletes than the budget.
      const spam: string[] = [];
      for (let i = 0; i < 4; i++) {
        spam.push((await gql(stack.gatewayUrl, CREATE, { input: reviewInput(p.id) }, (await customer()).headers)).body.data!.createReview.id as string);
      }
      for (const spamId of spam) expect((await gql(gateway.url, DELETE, { id: spamId }, bearer(ADMIN_USER))).body.errors).toBeUndefined();

      const twice = await gql(
        gateway.url,
        `mutation ($a: CreateReviewInput!) { a: createReview(input: $a) { id } b: createReview(input: $a) { id } }`,
        { a: reviewInput(p.id) },
        (await customer()).headers,
      );
      expect(twice.status).toBe(400);
      expect(twice.body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
    } finally {
      await gateway.close();
    }
  });
});
