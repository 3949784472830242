import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCategoryTree, createProduct, token } from "../../test/support/fixtures.ts";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { eventually } from "../../test/support/selling.ts";
import { gql, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
const anonymous = (query: string, variables: Record<string, unknown> = {}) => gql(stack.gatewayUrl, query, variables);
const asAdmin = (query: string, variables: Record<string, unknown> = {}) => gql(stack.gatewayUrl, query, variables, bearer(ADMIN_USER));

beforeAll(async () => {
  // This stack's products subgraph follows inventory's stock feed (off in other test stacks).
  stack = await startStack({}, { subgraphEnv: { STOCK_SYNC_INTERVAL_MS: "200" } });
});
afterAll(async () => {
  await stack?.close();
});

interface Listing {
  totalCount: number;
  edges: { cursor: string; node: { id: string; name: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const LIST = `query ($filter: ProductFilter, $sort: ProductSort, $first: Int, $after: String) {
  products(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor }
  }
}`;

async function list(filter: Record<string, unknown>, extra: { sort?: string; first?: number; after?: string } = {}): Promise<Listing> {
  const { body } = await anonymous(LIST, { filter, ...extra });
  expect(body.errors).toBeUndefined();
  return body.data!.products as Listing;
}

/** Every page of a listing, `first` at a time. */
async function allPages(filter: Record<string, unknown>, first: number, sort?: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const page = await list(filter, { first, ...(after ? { after } : {}), ...(sort ? { sort } : {}) });
    ids.push(...page.edges.map((edge) => edge.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor!;
  }
  throw new Error("more than 50 pages");
}

describe("search: relevance and typos", () => {
  it("ranks an exact name above a partial name above a description match, and is the default order with a term", async () => {
    const { products } = stack.prisma;
    const { root, leaf } = await createCategoryTree(products);
    const word = `zephyr${token()}`;
    // Created in the reverse of the expected relevance, so NEWEST order cannot pass for it.
    const exact = await createProduct(products, { categoryId: leaf.id, name: `${word} lamp` });
    const partial = await createProduct(products, { categoryId: leaf.id, name: `${word} lamp shade holder` });
    const byDescription = await products.product.update({
      where: { id: (await createProduct(products, { categoryId: leaf.id, name: "Desk light" })).id },
      data: { description: `Works as well as a ${word} lamp, for less.` },
    });

    const found = await list({ categoryId: root.id, search: `${word} lamp` });
    expect(found.edges.map((edge) => edge.node.id)).toEqual([exact.id, partial.id, byDescription.id]);
    expect(found.totalCount).toBe(3);
    // Stemming: the plural finds the singular.
    expect((await list({ categoryId: root.id, search: `${word} lamps` })).edges[0]!.node.id).toBe(exact.id);
    // Without a term, the order is newest first again.
    expect((await list({ categoryId: root.id })).edges.map((edge) => edge.node.id)).toEqual([byDescription.id, partial.id, exact.id]);
  });

  it("finds a product whose name is misspelt by one letter, or typed only in part, and not an unrelated one", async () => {
    const { products } = stack.prisma;
    const { root, leaf } = await createCategoryTree(products);
    const word = `quasar${token().replace(/\d/g, "q")}`;
    const kettle = await createProduct(products, { categoryId: leaf.id, name: `${word} kettle` });
    await createProduct(products, { categoryId: leaf.id, name: "Toaster" });
    const typo = word.slice(0, 3) + word.slice(4); // one letter left out
    expect((await list({ categoryId: root.id, search: `${typo} kettle` })).edges.map((edge) => edge.node.id)).toEqual([kettle.id]);
    expect((await list({ categoryId: root.id, search: `${word} ketle` })).edges.map((edge) => edge.node.id)).toEqual([kettle.id]);
    expect((await list({ categoryId: root.id, search: `${word} ket` })).edges.map((edge) => edge.node.id)).toEqual([kettle.id]);
    expect((await list({ categoryId: root.id, search: "espresso grinder" })).totalCount).toBe(0);
  });

  it("marks where a term matched, as plain text parts: the name's words and the description's passages; by spelling too; nothing without a term", async () => {
    const { products } = stack.prisma;
    const { root, leaf } = await createCategoryTree(products);
    const word = `orbit${token().replace(/\d/g, "o")}`;
    const lamp = await createProduct(products, { categoryId: leaf.id, name: `${word} <b>lamp</b>` });
    await products.product.update({ where: { id: lamp.id }, data: { description: `Bright. Dims to a glow. Fits any ${word} shade. Made of oak.` } });
    const HIGHLIGHT = `query ($filter: ProductFilter) { products(filter: $filter) { edges { node { id } highlight {
      name { text match } description { text match } } } } }`;
    const ask = async (filter: Record<string, unknown>) => {
      const { body } = await anonymous(HIGHLIGHT, { filter });
      expect(body.errors).toBeUndefined();
      return body.data!.products.edges as { node: { id: string }; highlight: any }[];
    };

    const [byWords] = await ask({ categoryId: root.id, search: `${word} lamps` });
    // Stemmed (lamps: lamp); the text is returned as written, markup included, never interpreted.
    expect(byWords!.highlight.name).toEqual([
      { text: word, match: true },
      { text: " <b>", match: false },
      { text: "lamp", match: true },
      { text: "</b>", match: false },
    ]);
    expect(byWords!.highlight.description.filter((part: { match: boolean }) => part.match).map((part: { text: string }) => part.text)).toEqual([word]);
    expect(byWords!.highlight.description.map((part: { text: string }) => part.text).join("")).toContain(`Fits any ${word} shade`);

    // A spelling match marks the name's words close to the term's; the description is not searched then.
    const [bySpelling] = await ask({ categoryId: root.id, search: word.slice(0, 3) + word.slice(4) });
    expect(bySpelling!.node.id).toBe(lamp.id);
    expect(bySpelling!.highlight).toEqual({ name: [{ text: word, match: true }, { text: " <b>lamp</b>", match: false }], description: null });

    const [listed] = await ask({ categoryId: root.id });
    expect(listed!.highlight).toBeNull();

    // The marks cannot be forged: names refuse control characters.
    const { body } = await asAdmin(`mutation ($input: UpdateProductInput!, $id: ID!) { updateProduct(id: $id, input: $input) { id } }`, {
      id: lamp.id,
      input: { name: "Lamp \u0001x" },
    });
    expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.name" });
  });

  it("matches category names and SKUs, and follows a category renamed after the product was filed", async () => {
    const { products } = stack.prisma;
    const { root, child, leaf } = await createCategoryTree(products);
    const product = await createProduct(products, { categoryId: leaf.id, name: "Plain thing" });
    const word = `nimbus${token().replace(/\d/g, "n")}`;
    expect((await list({ categoryId: root.id, search: word })).totalCount).toBe(0);
    // Renamed in the database directly (nothing purges the cached answer above): asked as a new page size.
    await products.category.update({ where: { id: child.id }, data: { name: `${word} gear` } });
    expect((await list({ categoryId: root.id, search: word }, { first: 11 })).edges.map((edge) => edge.node.id)).toEqual([product.id]);
    expect((await list({ categoryId: root.id, search: product.sku })).edges.map((edge) => edge.node.id)).toEqual([product.id]);
  });

  it("pages through a ranked result with ties without skipping or repeating a product", async () => {
    const { products } = stack.prisma;
    const { root, leaf } = await createCategoryTree(products);
    const word = `orbit${token().replace(/\d/g, "o")}`;
    // Seven identical names tie on rank; two differ. The id breaks ties.
    for (let i = 0; i < 7; i++) await createProduct(products, { categoryId: leaf.id, name: `${word} chair` });
    await createProduct(products, { categoryId: leaf.id, name: `${word} chair deluxe edition` });
    await createProduct(products, { categoryId: leaf.id, name: `Stool like an ${word} chair` });
    const whole = (await list({ categoryId: root.id, search: `${word} chair` }, { first: 100 })).edges.map((edge) => edge.node.id);
    expect(whole).toHaveLength(9);
    expect(await allPages({ categoryId: root.id, search: `${word} chair` }, 2)).toEqual(whole);
    expect(await allPages({ categoryId: root.id, search: `${word} chair` }, 4)).toEqual(whole);
  });

  it("refuses a relevance cursor for another term, and bad search input, with BAD_USER_INPUT", async () => {
    const { products } = stack.prisma;
    const { root, leaf } = await createCategoryTree(products);
    const word = `vortex${token().replace(/\d/g, "v")}`;
    for (let i = 0; i < 3; i++) await createProduct(products, { categoryId: leaf.id, name: `${word} fan` });
    const first = await list({ categoryId: root.id, search: `${word} fan` }, { first: 1 });
    const other = await anonymous(LIST, { filter: { categoryId: root.id, search: `${word} fans heater` }, after: first.pageInfo.endCursor });
    expect(other.status).toBe(200);
    expect(other.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const long = await anonymous(LIST, { filter: { search: "x".repeat(101) } });
    expect(long.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});

const FACETS = `query ($filter: ProductFilter, $boundaries: [Decimal!]) {
  products(filter: $filter, first: 1) {
    totalCount
    facets {
      categories { category { id } count }
      priceRanges(boundaries: $boundaries) { minPrice maxPrice count }
      availability { inStock outOfStock }
    }
  }
}`;

describe("facets", () => {
  it("count, for the current filter, what choosing each value would list", async () => {
    const { products } = stack.prisma;
    const { root, child, leaf } = await createCategoryTree(products);
    const word = `facet${token().replace(/\d/g, "f")}`;
    const made = [];
    for (const [price, categoryId] of [["5.00", leaf.id], ["15.00", leaf.id], ["15.00", child.id], ["30.00", child.id], ["99.99", leaf.id]] as const) {
      made.push(await createProduct(products, { categoryId, price, name: `${word} mug` }));
    }
    await createProduct(products, { categoryId: leaf.id, price: "15.00", name: "Unrelated plate" });
    // Two are stocked through inventory's own API; availability reaches products through the stock feed.
    for (const product of made.slice(0, 2)) {
      const { body } = await asAdmin(`mutation ($id: ID!) { adjustStock(productId: $id, delta: 3, reason: RECEIVED) { inStock } }`, { id: product.id });
      expect(body.errors).toBeUndefined();
    }

    const base = { categoryId: root.id, search: `${word} mug` };
    const facets = async (filter: Record<string, unknown>) => {
      const { body } = await anonymous(FACETS, { filter, boundaries: ["10", "20.00", "50"] });
      expect(body.errors).toBeUndefined();
      return body.data!.products as { totalCount: number; facets: any };
    };
    const answer = await eventually(async () => {
      const result = await facets(base);
      expect(result.facets.availability).toEqual({ inStock: 2, outOfStock: 3 });
      return result;
    });
    expect(answer.totalCount).toBe(5);
    expect(answer.facets.categories).toEqual([
      { category: { id: root.id }, count: 5 },
      { category: { id: child.id }, count: 5 },
      { category: { id: leaf.id }, count: 3 },
    ]);
    expect(answer.facets.priceRanges).toEqual([
      { minPrice: null, maxPrice: "9.99", count: 1 },
      { minPrice: "10.00", maxPrice: "19.99", count: 2 },
      { minPrice: "20.00", maxPrice: "49.99", count: 1 },
      { minPrice: "50.00", maxPrice: null, count: 1 },
    ]);

    // Each count is the total the listing has with that value chosen.
    for (const { category, count } of answer.facets.categories) {
      expect((await list({ ...base, categoryId: category.id })).totalCount).toBe(count);
    }
    for (const range of answer.facets.priceRanges) {
      const bounds = { ...(range.minPrice ? { minPrice: range.minPrice } : {}), ...(range.maxPrice ? { maxPrice: range.maxPrice } : {}) };
      expect((await list({ ...base, ...bounds })).totalCount).toBe(range.count);
    }
    expect((await list({ ...base, inStock: true })).totalCount).toBe(2);
    expect((await list({ ...base, inStock: false })).totalCount).toBe(3);

    // A facet ignores its own dimension only: choosing a price range narrows the other facets.
    const narrowed = await facets({ ...base, minPrice: "10.00", maxPrice: "19.99" });
    expect(narrowed.totalCount).toBe(2);
    expect(narrowed.facets.availability).toEqual({ inStock: 1, outOfStock: 1 });
    expect(narrowed.facets.priceRanges.map((range: { count: number }) => range.count)).toEqual([1, 2, 1, 1]);
    expect(narrowed.facets.categories).toContainEqual({ category: { id: leaf.id }, count: 1 });
  });

  it("match a term the same way for every facet value and for the listing that value gives", async () => {
    const { products } = stack.prisma;
    const [a, c] = [await createCategoryTree(products), await createCategoryTree(products)];
    const stem = token().replace(/\d/g, "q").toLowerCase();
    const word = `qu${stem}alite`;
    // In A, the word itself, in a description; in C, only a name spelt close to it.
    const described = await createProduct(products, { categoryId: a.leaf.id, name: "Plain vase" });
    await products.product.update({ where: { id: described.id }, data: { description: `Made of ${word}, polished.` } });
    await createProduct(products, { categoryId: c.leaf.id, name: `qu${stem}alyte lamp` });

    // Within C the words match nothing, but they do in the catalog: the listing and every facet
    // match by words, so C lists nothing and A's count is what choosing A lists.
    const { body } = await anonymous(FACETS, { filter: { search: word, categoryId: c.root.id }, boundaries: ["10"] });
    expect(body.errors).toBeUndefined();
    const answer = body.data!.products as { totalCount: number; facets: { categories: { category: { id: string }; count: number }[] } };
    const countOf = (id: string) => answer.facets.categories.find((facet) => facet.category.id === id)?.count ?? 0;
    expect(answer.totalCount).toBe(0);
    for (const root of [a.root, c.root]) {
      expect((await list({ search: word, categoryId: root.id })).totalCount).toBe(countOf(root.id));
    }
    expect(countOf(a.root.id)).toBe(1);
  });

  it("follows stock leaving: a product sold out drops out of inStock", async () => {
    const { products } = stack.prisma;
    const { root, leaf } = await createCategoryTree(products);
    const product = await createProduct(products, { categoryId: leaf.id, name: "Last one" });
    const adjust = (delta: number, reason: string) =>
      asAdmin(`mutation ($id: ID!, $d: Int!, $r: StockMovementReason!) { adjustStock(productId: $id, delta: $d, reason: $r) { inStock } }`, { id: product.id, d: delta, r: reason });
    expect((await adjust(1, "RECEIVED")).body.errors).toBeUndefined();
    await eventually(async () => expect((await list({ categoryId: root.id, inStock: true })).totalCount).toBe(1));
    expect((await adjust(-1, "DAMAGED")).body.errors).toBeUndefined();
    await eventually(async () => expect((await list({ categoryId: root.id, inStock: false })).totalCount).toBe(1));
    expect((await list({ categoryId: root.id, inStock: true })).totalCount).toBe(0);
  });

  it("refuses price boundaries that are not ascending positive amounts", async () => {
    for (const boundaries of [["20", "10"], ["10", "10"], ["0"], ["-5"], ["1.234"], []]) {
      const { status, body } = await anonymous(FACETS, { filter: {}, boundaries });
      expect(status, JSON.stringify(boundaries)).toBe(200);
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(boundaries)).toBe("BAD_USER_INPUT");
    }
  });
});

describe("Category.products", () => {
  it("lists a category's products with the subcategories' by default, like the products filter", async () => {
    const { products } = stack.prisma;
    const { root, child, leaf } = await createCategoryTree(products);
    const inLeaf = await createProduct(products, { categoryId: leaf.id, name: "Leaf item" });
    const inChild = await createProduct(products, { categoryId: child.id, name: "Child item" });
    const query = `query ($id: ID!, $filter: ProductFilter) {
      category(id: $id) { products(filter: $filter, sort: NAME_ASC) { totalCount edges { node { id } } facets { categories { category { id } count } } } }
    }`;
    const { body } = await anonymous(query, { id: child.id });
    expect(body.errors).toBeUndefined();
    expect(body.data!.category.products.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([inChild.id, inLeaf.id]);
    expect(body.data!.category.products.totalCount).toBe(2);
    const direct = await anonymous(query, { id: child.id, filter: { includeSubcategories: false } });
    expect(direct.body.data!.category.products.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([inChild.id]);
    const fromRoot = await list({ categoryId: root.id }, { sort: "NAME_ASC" });
    expect(fromRoot.edges.map((edge) => edge.node.id)).toEqual([inChild.id, inLeaf.id]);

    const conflicting = await anonymous(query, { id: child.id, filter: { categoryId: root.id } });
    expect(conflicting.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
