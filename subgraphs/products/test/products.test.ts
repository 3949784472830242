import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { productsSubgraph } from "../src/module.ts";
import { createCategoryTree, createProduct } from "../../../test/support/fixtures.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";
import { ADMIN } from "../../../test/support/auth.ts";
import type { ProductsPrisma } from "../src/prisma.ts";

let h: SubgraphHarness<ProductsPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(productsSubgraph, { viewer: ADMIN }); // data behaviour, tested as an admin
});
afterAll(async () => {
  await h?.close();
});

describe("products subgraph", () => {
  it("resolves Product entities by id and by sku, and Review authors as User references", async () => {
    const { leaf } = await createCategoryTree(h.prisma);
    const product = await createProduct(h.prisma, { categoryId: leaf.id, price: "12.34" });
    const authorId = "6f2b7e1c-1111-4a2b-9c3d-000000000001";
    const review = await h.prisma.review.create({ data: { productId: product.id, authorId, rating: 5, body: "Great" } });
    const result = await h.execute(
      `query ($r: [_Any!]!) { _entities(representations: $r) {
        ... on Product { id sku price { amount currency } reviewSummary { count averageRating } }
        ... on Review { id rating author { id } product { id } }
      } }`,
      {
        r: [
          { __typename: "Product", sku: product.sku },
          { __typename: "Product", id: product.id },
          { __typename: "Review", id: review.id },
          { __typename: "Product", id: "x" },
        ],
      },
    );
    expect(result.errors).toBeUndefined();
    const expected = { id: product.id, sku: product.sku, price: { amount: "12.34", currency: "USD" }, reviewSummary: { count: 1, averageRating: 5 } };
    expect(result.data!._entities).toEqual([
      expected,
      expected,
      { id: review.id, rating: 5, author: { id: authorId }, product: { id: product.id } },
      null,
    ]);
  });

  it("returns the category tree with parents and children", async () => {
    const { root, child, leaf } = await createCategoryTree(h.prisma);
    const result = await h.execute(
      `query ($id: ID!) { category(id: $id) { slug depth parent { id parent { id } } children { id } } }`,
      { id: child.id },
    );
    expect(result.data!.category).toEqual({ slug: child.slug, depth: 1, parent: { id: root.id, parent: null }, children: [{ id: leaf.id }] });
    const roots = await h.execute(`{ categories { id depth } }`);
    expect((roots.data!.categories as { id: string; depth: number }[]).every((c) => c.depth === 0)).toBe(true);
    expect((roots.data!.categories as { id: string }[]).map((c) => c.id)).toContain(root.id);
  });

  it("createCategory nests under a parent and derives the slug; a duplicate slug is a CONFLICT", async () => {
    const { leaf } = await createCategoryTree(h.prisma);
    const slug = `deep-${Date.now().toString(36)}`;
    const created = await h.execute(
      `mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { slug depth parent { id } } }`,
      { input: { name: "Deep", slug, parentId: leaf.id } },
    );
    expect(created.errors).toBeUndefined();
    expect(created.data!.createCategory).toEqual({ slug, depth: 3, parent: { id: leaf.id } });
    const products = await h.execute(`query ($c: ID) { products(filter: { categoryId: $c, includeSubcategories: true }) { totalCount } }`, {
      c: leaf.id,
    });
    expect(products.data!.products).toEqual({ totalCount: 0 });

    const duplicate = await h.execute(`mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { id } }`, {
      input: { name: "Again", slug },
    });
    expect(duplicate.errors![0]!.extensions).toMatchObject({ code: "CONFLICT" });
    // Nothing written: counted by what this test wrote (other files add categories to the same database meanwhile).
    expect(await h.prisma.category.count({ where: { OR: [{ slug }, { name: "Again" }] } })).toBe(1);
  });

  it("updateProduct changes only the given fields; archiveProduct hides it from the default listing", async () => {
    const { leaf } = await createCategoryTree(h.prisma);
    const product = await createProduct(h.prisma, { categoryId: leaf.id, price: "10.00", name: "Before" });
    const updated = await h.execute(
      `mutation ($id: ID!) { updateProduct(id: $id, input: { price: { amount: "12.50", currency: "USD" } }) { name price { amount } } }`,
      { id: product.id },
    );
    expect(updated.data!.updateProduct).toEqual({ name: "Before", price: { amount: "12.50" } });

    const archived = await h.execute(`mutation ($id: ID!) { archiveProduct(id: $id) { status } }`, { id: product.id });
    expect(archived.data!.archiveProduct).toEqual({ status: "ARCHIVED" });
    const listed = await h.execute(`query ($c: ID) { products(filter: { categoryId: $c }) { totalCount } }`, { c: leaf.id });
    expect(listed.data!.products).toEqual({ totalCount: 0 });
  });

  it("update and archive of an unknown product are NOT_FOUND; an empty update is BAD_USER_INPUT", async () => {
    const unknown = "00000000-0000-4000-8000-00000000abcd";
    const update = await h.execute(`mutation ($id: ID!) { updateProduct(id: $id, input: { name: "x" }) { id } }`, { id: unknown });
    expect(update.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    const archive = await h.execute(`mutation ($id: ID!) { archiveProduct(id: $id) { id } }`, { id: unknown });
    expect(archive.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    const { leaf } = await createCategoryTree(h.prisma);
    const product = await createProduct(h.prisma, { categoryId: leaf.id });
    const empty = await h.execute(`mutation ($id: ID!) { updateProduct(id: $id, input: {}) { id } }`, { id: product.id });
    expect(empty.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input" });
  });

  async function collect(categoryId: string, sort: string): Promise<string[]> {
    const ids: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r = await h.execute(
        `query ($c: ID, $after: String) { products(filter: { categoryId: $c }, sort: ${sort}, first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
        { c: categoryId, after },
      );
      expect(r.errors).toBeUndefined();
      const page = r.data!.products as { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
      ids.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    return ids;
  }

  it("sorts by name, one row per page, with the id breaking ties", async () => {
    const { leaf } = await createCategoryTree(h.prisma);
    const made: Awaited<ReturnType<typeof createProduct>>[] = [];
    for (const name of ["Cedar", "Ash", "Birch", "Ash"]) made.push(await createProduct(h.prisma, { categoryId: leaf.id, name }));
    const ashes = made.filter((p) => p.name === "Ash").map((p) => p.id).sort();
    const byName = await collect(leaf.id, "NAME_ASC");
    expect(byName).toEqual([...ashes, made[2]!.id, made[0]!.id]);
  });

  it("sorts newest first, including rows created in the same millisecond", async () => {
    const { leaf } = await createCategoryTree(h.prisma);
    const day = (d: number) => new Date(Date.UTC(2026, 0, d));
    const old = await createProduct(h.prisma, { categoryId: leaf.id, createdAt: day(1) });
    const mid = [await createProduct(h.prisma, { categoryId: leaf.id, createdAt: day(5) }), await createProduct(h.prisma, { categoryId: leaf.id, createdAt: day(5) })];
    const latest = await createProduct(h.prisma, { categoryId: leaf.id, createdAt: day(9) });
    const midDesc = mid.map((p) => p.id).sort().reverse();
    expect(await collect(leaf.id, "NEWEST")).toEqual([latest.id, ...midDesc, old.id]);
  });

  it("derives slugs that fold accents and never end in a dash", async () => {
    const { slugOf } = await import("../src/validation.ts");
    expect(slugOf("Crème Brûlée & Co.")).toBe("creme-brulee-and-co");
    const long = slugOf(`${"&".repeat(39)}ab x`);
    expect(long.length).toBeLessThanOrEqual(120);
    expect(long).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(slugOf("!!!")).toBe("");
  });
});
