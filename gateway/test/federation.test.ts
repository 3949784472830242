import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCategoryTree, createOrder, createProduct, createUser } from "../../test/support/fixtures.ts";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { gql, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
/** These tests are about data across subgraphs, so they run as an admin, who may see all of it. */
const asAdmin = (query: string, variables: Record<string, unknown> = {}) =>
  gql(stack.gatewayUrl, query, variables, bearer(ADMIN_USER));
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe("a query across all four subgraphs", () => {
  it("joins products, inventory, reviews' authors and a user's orders with their products", async () => {
    const { products, users, orders, inventory } = stack.prisma;
    const [author, buyer] = await Promise.all([createUser(users), createUser(users)]);
    const { leaf } = await createCategoryTree(products);
    const product = await createProduct(products, { categoryId: leaf.id, price: "25.50", weightGrams: 2500 });
    await inventory.stockItem.create({ data: { productId: product.id, onHand: 7, reserved: 2 } });
    await products.review.create({ data: { productId: product.id, authorId: author.id, rating: 4, body: "Nice" } });
    const order = await createOrder(orders, buyer.id, [{ productId: product.id, quantity: 2, unitPrice: "24.00" }]);

    const { status, body } = await asAdmin(
      `query ($productId: ID!, $userId: ID!) {
        product(id: $productId) {
          name price { amount currency }
          inventory { onHand reserved available } inStock
          shippingEstimate { minDays maxDays cost { amount currency } }
          category { id parent { id parent { id } } }
          reviews { edges { node { rating author { id fullName } } } }
          reviewSummary { count averageRating }
        }
        user(id: $userId) {
          fullName
          orders(first: 5) {
            totalCount
            edges { node { id total { amount } items { quantity unitPrice { amount } lineTotal { amount } product { id name inventory { available } } } user { id } } }
          }
        }
      }`,
      { productId: product.id, userId: buyer.id },
    );

    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data!.product).toEqual({
      name: product.name,
      price: { amount: "25.50", currency: "USD" },
      inventory: { onHand: 7, reserved: 2, available: 5 },
      inStock: true,
      // 2.5 kg is three started kilograms: 4.99 + 2 * 1.50, in stock so 2 to 4 days.
      shippingEstimate: { minDays: 2, maxDays: 4, cost: { amount: "7.99", currency: "USD" } },
      category: { id: leaf.id, parent: { id: leaf.parentId, parent: { id: expect.any(String) } } },
      reviews: { edges: [{ node: { rating: 4, author: { id: author.id, fullName: `${author.firstName} ${author.lastName}` } } }] },
      reviewSummary: { count: 1, averageRating: 4 },
    });
    expect(body.data!.user.orders).toEqual({
      totalCount: 1,
      edges: [
        {
          node: {
            id: order.id,
            total: { amount: "48.00" },
            items: [
              {
                quantity: 2,
                unitPrice: { amount: "24.00" },
                lineTotal: { amount: "48.00" },
                product: { id: product.id, name: product.name, inventory: { available: 5 } },
              },
            ],
            user: { id: buyer.id },
          },
        },
      ],
    });
  });

  it("answers an unknown id with null and no error", async () => {
    const { status, body } = await asAdmin(
      `{ product(id: "00000000-0000-4000-8000-000000000000") { id } user(id: "00000000-0000-4000-8000-000000000000") { id } order(id: "00000000-0000-4000-8000-000000000000") { id } }`,
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ product: null, user: null, order: null });
  });
});

describe("product listing: filters and cursor pagination", () => {
  it("pages through a category and its subcategories in price order without gaps or repeats", async () => {
    const { products } = stack.prisma;
    const { root, child, leaf } = await createCategoryTree(products);
    const created: Awaited<ReturnType<typeof createProduct>>[] = [];
    for (const [price, categoryId] of [["5.00", leaf.id], ["1.00", leaf.id], ["3.00", child.id], ["3.00", leaf.id], ["9.99", leaf.id]] as const) {
      created.push(await createProduct(products, { categoryId, price }));
    }
    await createProduct(products, { categoryId: leaf.id, price: "2.00", status: "ARCHIVED" });

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const { body }: { body: { data?: any; errors?: unknown } } = await asAdmin(
        `query ($filter: ProductFilter, $after: String) {
          products(filter: $filter, sort: PRICE_ASC, first: 2, after: $after) {
            totalCount edges { cursor node { id price { amount } } } pageInfo { hasNextPage endCursor }
          }
        }`,
        { filter: { categoryId: root.id, includeSubcategories: true }, after },
      );
      expect(body.errors).toBeUndefined();
      expect(body.data.products.totalCount).toBe(5);
      seen.push(...body.data.products.edges.map((edge: { node: { price: { amount: string } } }) => edge.node.price.amount));
      after = body.data.products.pageInfo.hasNextPage ? body.data.products.pageInfo.endCursor : null;
      pages++;
    } while (after && pages < 10);

    expect(seen).toEqual(["1.00", "3.00", "3.00", "5.00", "9.99"]);
    expect(pages).toBe(3);
  });

  it("filters by exact category, price range, search and status", async () => {
    const { products } = stack.prisma;
    const { child, leaf } = await createCategoryTree(products);
    const cheap = await createProduct(products, { categoryId: leaf.id, price: "4.00", name: "Blue kettle" });
    await createProduct(products, { categoryId: leaf.id, price: "40.00", name: "Red kettle" });
    await createProduct(products, { categoryId: child.id, price: "12.00", name: "Green kettle" });
    const archived = await createProduct(products, { categoryId: leaf.id, price: "6.00", status: "ARCHIVED" });

    const query = `query ($filter: ProductFilter) { products(filter: $filter, first: 10) { totalCount edges { node { id name } } } }`;
    const names = async (filter: Record<string, unknown>) => {
      const { body } = await asAdmin(query, { filter });
      expect(body.errors).toBeUndefined();
      return body.data!.products.edges.map((edge: { node: { name: string } }) => edge.node.name).sort();
    };
    // A category filter takes in the categories below it unless told otherwise.
    expect(await names({ categoryId: child.id })).toEqual(["Blue kettle", "Green kettle", "Red kettle"]);
    expect(await names({ categoryId: child.id, includeSubcategories: false })).toEqual(["Green kettle"]);
    expect(await names({ categoryId: child.id, includeSubcategories: true })).toEqual(["Blue kettle", "Green kettle", "Red kettle"]);
    expect(await names({ categoryId: leaf.id, minPrice: "4.00", maxPrice: "12" })).toEqual(["Blue kettle"]);
    expect(await names({ categoryId: child.id, includeSubcategories: true, search: "RED KET" })).toEqual(["Red kettle"]);
    // Search is by words: punctuation separates them and is never a wildcard.
    const discount = await createProduct(products, { categoryId: leaf.id, name: "Kettle 100% steel" });
    expect(await names({ categoryId: leaf.id, search: "100%" })).toEqual([discount.name]);
    expect(await names({ categoryId: leaf.id, search: "%" })).toEqual([]);
    expect(await names({ categoryId: leaf.id, search: "Blue_kettle" })).toEqual(["Blue kettle"]);
    expect(await names({ categoryId: leaf.id, search: "\\" })).toEqual([]);
    const { body } = await asAdmin(query, { filter: { categoryId: leaf.id, status: "ARCHIVED" } });
    expect(body.data!.products.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([archived.id]);
    expect(cheap.id).toBeTruthy();
  });
});

function forged(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

describe("bad input gets a stable code and a clear message", () => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    ["malformed product id", `query ($id: ID!) { product(id: $id) { id } }`, { id: "42" }, "id"],
    ["malformed user id", `query ($id: ID!) { user(id: $id) { id } }`, { id: "not-a-uuid" }, "id"],
    ["malformed order id", `query ($id: ID!) { order(id: $id) { id } }`, { id: "1 OR 1=1" }, "id"],
    ["first above the maximum", `{ products(first: 101) { totalCount } }`, {}, "first"],
    ["first below one", `{ products(first: 0) { totalCount } }`, {}, "first"],
    ["negative price", `{ products(filter: { minPrice: "-1" }) { totalCount } }`, {}, "filter.minPrice"],
    ["inverted price range", `{ products(filter: { minPrice: "10", maxPrice: "5" }) { totalCount } }`, {}, "filter.minPrice"],
    ["an unknown cursor", `{ products(after: "bm90LWEtY3Vyc29y") { totalCount } }`, {}, "after"],
    ["a cursor that is not base64", `{ products(after: "!!!") { totalCount } }`, {}, "after"],
    ["malformed category filter", `{ products(filter: { categoryId: "x" }) { totalCount } }`, {}, "filter.categoryId"],
    ["orders page too large", `query ($id: ID!) { user(id: $id) { orders(first: 500) { totalCount } } }`, { id: "__USER__" }, "first"],
    // Well-formed cursors carrying values the server never writes (dates PostgreSQL cannot store).
    ["a forged products cursor", `query ($a: String) { products(after: $a) { totalCount } }`, { a: forged(["products:NEWEST", "+275760-09-13T00:00:00.000Z", "6f2b7e1c-1111-4a2b-9c3d-000000000001"]) }, "after"],
    ["a forged users cursor", `query ($a: String) { users(after: $a) { totalCount } }`, { a: forged(["users:createdAt", "-271821-04-20T00:00:00.000Z", "6f2b7e1c-1111-4a2b-9c3d-000000000001"]) }, "after"],
    ["a forged orders cursor", `query ($id: ID!, $a: String) { user(id: $id) { orders(after: $a) { totalCount } } }`, { id: "__USER__", a: forged(["orders:newest", "2026-13-45T00:00:00.000Z", "6f2b7e1c-1111-4a2b-9c3d-000000000001"]) }, "after"],
    ["a price cursor holding text", `query ($a: String) { products(sort: PRICE_ASC, after: $a) { totalCount } }`, { a: forged(["products:PRICE_ASC", "1e999", "6f2b7e1c-1111-4a2b-9c3d-000000000001"]) }, "after"],
  ];

  it.each(cases)("%s -> BAD_USER_INPUT", async (_name, query, variables, field) => {
    const user = await createUser(stack.prisma.users);
    const vars = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, v === "__USER__" ? user.id : v]));
    const { status, body } = await asAdmin(query, vars);
    expect(status).toBe(200);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(body.errors![0]!.message).not.toMatch(/prisma|postgres|sql|stack/i);
  });

  it("rejects a cursor issued for a different ordering", async () => {
    const { products } = stack.prisma;
    const { leaf } = await createCategoryTree(products);
    await createProduct(products, { categoryId: leaf.id });
    await createProduct(products, { categoryId: leaf.id });
    const first = await asAdmin(`query ($c: ID) { products(filter: { categoryId: $c }, first: 1, sort: NEWEST) { pageInfo { endCursor } } }`, { c: leaf.id });
    const cursor = first.body.data!.products.pageInfo.endCursor;
    const { body } = await asAdmin(`query ($a: String) { products(first: 1, sort: PRICE_ASC, after: $a) { totalCount } }`, { a: cursor });
    expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
  });

  it("rejects a malformed decimal before it reaches the database", async () => {
    const { body } = await asAdmin(`query ($p: Decimal) { products(filter: { minPrice: $p }) { totalCount } }`, { p: "12abc" });
    expect(body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
    expect(body.data ?? null).toBeNull();
  });

  it.each([
    ["a NUL byte in a variable", `query ($s: String) { products(filter: { search: $s }) { totalCount } }`, { s: "ab\u0000c" }],
    ["an unpaired surrogate in a variable", `query ($s: String!) { productBySku(sku: $s) { id } }`, { s: "\ud800" }],
    ["a NUL byte in a literal", `{ products(filter: { search: "a\\u0000b" }) { totalCount } }`, {}],
    ["a NUL byte in mutation input", `mutation ($n: String!) { createCategory(input: { name: $n }) { id } }`, { n: "Bad\u0000Name" }],
  ])("rejects %s with 400 BAD_USER_INPUT before anything runs", async (_name, query, variables) => {
    const { status, body } = await asAdmin(query, variables);
    expect(status).toBe(400);
    expect(body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
    // By name: other test files create categories at the same time.
    expect(await stack.prisma.products.category.count({ where: { name: { startsWith: "Bad" } } })).toBe(0);
  });

  it("answers an unknown field with 400 and GRAPHQL_VALIDATION_FAILED", async () => {
    const { status, body } = await asAdmin(`{ products { nope } }`);
    expect(status).toBe(400);
    expect(body.errors![0]!.extensions!.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });
});

describe("mutations validate their input and write nothing on failure", () => {
  const create = `mutation ($input: CreateProductInput!) { createProduct(input: $input) { id sku price { amount currency } } }`;

  it("creates a valid product, normalising SKU and currency", async () => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const sku = `new-${Date.now()}`;
    const { body } = await asAdmin(create, {
      input: { sku, name: "Kettle", price: { amount: "19.90", currency: "eur" }, weightGrams: 900, categoryId: leaf.id },
    });
    expect(body.errors).toBeUndefined();
    expect(body.data!.createProduct).toMatchObject({ sku: sku.toUpperCase(), price: { amount: "19.90", currency: "EUR" } });
  });

  it.each([
    ["empty name", { name: "   " }, "BAD_USER_INPUT", "input.name"],
    ["negative price", { price: { amount: "-1.00", currency: "USD" } }, "BAD_USER_INPUT", "input.price.amount"],
    ["unknown currency", { price: { amount: "1.00", currency: "USS" } }, "BAD_USER_INPUT", "input.price.currency"],
    ["negative weight", { weightGrams: -5 }, "BAD_USER_INPUT", "input.weightGrams"],
    ["unknown category", { categoryId: "00000000-0000-4000-8000-000000000000" }, "BAD_USER_INPUT", "input.categoryId"],
    ["malformed category", { categoryId: "abc" }, "BAD_USER_INPUT", "input.categoryId"],
  ])("%s -> %s", async (_name, patch, code, field) => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const sku = `BAD-${Math.random().toString(36).slice(2, 10)}`.toUpperCase();
    const { body } = await asAdmin(create, {
      input: { sku, name: "Kettle", price: { amount: "1.00", currency: "USD" }, weightGrams: 1, categoryId: leaf.id, ...patch },
    });
    expect(body.errors![0]!.extensions).toMatchObject({ code, field });
    expect(await stack.prisma.products.product.count({ where: { sku } })).toBe(0);
  });

  it("a duplicate SKU is a CONFLICT, not a database error, and the original is untouched", async () => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const existing = await createProduct(stack.prisma.products, { categoryId: leaf.id, price: "3.00" });
    const { body } = await asAdmin(create, {
      input: { sku: existing.sku.toLowerCase(), name: "Copy", price: { amount: "99.00", currency: "USD" }, weightGrams: 1, categoryId: leaf.id },
    });
    expect(body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", field: "sku" });
    expect(body.errors![0]!.message).toBe("A product with this SKU already exists.");
    const after = await stack.prisma.products.product.findMany({ where: { sku: existing.sku } });
    expect(after).toHaveLength(1);
    expect(after[0]!.priceAmount.toFixed(2)).toBe("3.00");
  });

  it("adjustStock for a product that does not exist is NOT_FOUND and records nothing", async () => {
    const productId = "6f2b7e1c-2222-4a2b-9c3d-000000000009";
    const { body } = await asAdmin(`mutation ($id: ID!) { adjustStock(productId: $id, delta: 5, reason: RECEIVED) { id name } }`, { id: productId });
    expect(body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect(await stack.prisma.inventory.stockItem.count({ where: { productId } })).toBe(0);
  });

  it("adjustStock creates the first stock of a new product", async () => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const product = await createProduct(stack.prisma.products, { categoryId: leaf.id });
    const { body } = await asAdmin(`mutation ($id: ID!) { adjustStock(productId: $id, delta: 5, reason: RECEIVED) { name inStock inventory { onHand } } }`, { id: product.id });
    expect(body.errors).toBeUndefined();
    expect(body.data!.adjustStock).toEqual({ name: product.name, inStock: true, inventory: { onHand: 5 } });
  });

  it("adjustStock refuses to go below what is reserved and records nothing", async () => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    const product = await createProduct(stack.prisma.products, { categoryId: leaf.id });
    await stack.prisma.inventory.stockItem.create({ data: { productId: product.id, onHand: 5, reserved: 3 } });
    const adjust = `mutation ($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: SOLD) { inventory { onHand available } } }`;
    const refused = await asAdmin(adjust, { id: product.id, d: -3 });
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: "INSUFFICIENT_STOCK" });
    expect(await stack.prisma.inventory.stockMovement.count({ where: { productId: product.id } })).toBe(0);

    const ok = await asAdmin(adjust, { id: product.id, d: -2 });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data!.adjustStock).toEqual({ inventory: { onHand: 3, available: 0 } });
    expect(await stack.prisma.inventory.stockMovement.count({ where: { productId: product.id } })).toBe(1);
  });
});
