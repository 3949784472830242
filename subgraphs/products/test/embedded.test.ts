import { applyMigrations, cacheInvalidator, openEmbedded, subgraphAuth, type Database, type SubgraphApp } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma, type ProductsPrisma } from "../src/prisma.ts";
import { buildProductsServer } from "../src/server.ts";
import { ADMIN, testAuthConfig } from "../../../test/support/auth.ts";
import { logger } from "../../../test/support/stack.ts";

// The embedded database's driver adapter reports raw PostgreSQL errors instead of Prisma codes;
// clients must get the same error contract as on a real server.
let db: Database;
let prisma: ProductsPrisma;
let server: SubgraphApp;
beforeAll(async () => {
  db = await openEmbedded(undefined);
  await applyMigrations(db, "products");
  prisma = createPrisma(db.adapter);
  server = await buildProductsServer({
    prisma,
    db,
    logger,
    introspection: false,
    peers: () => undefined,
    auth: subgraphAuth({}, testAuthConfig),
    cache: cacheInvalidator(undefined, logger),
    env: {},
  });
});
afterAll(async () => {
  await server?.stop();
  await prisma?.$disconnect();
  await db?.close();
});

describe("products on embedded PostgreSQL (PGlite)", () => {
  it("a duplicate category slug or SKU is CONFLICT naming the field, and nothing is written", async () => {
    const create = `mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { id } }`;
    const first = await server.execute(create, { input: { name: "Books" } }, ADMIN);
    expect(first.errors).toBeUndefined();
    const again = await server.execute(create, { input: { name: "Books" } }, ADMIN);
    expect(again.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", field: "slug" });
    expect(await prisma.category.count()).toBe(1);

    const categoryId = (first.data!.createCategory as { id: string }).id;
    const product = `mutation ($input: CreateProductInput!) { createProduct(input: $input) { id } }`;
    const input = { sku: "dup-1", name: "Pen", price: { amount: "1.00", currency: "USD" }, weightGrams: 10, categoryId };
    expect((await server.execute(product, { input }, ADMIN)).errors).toBeUndefined();
    const duplicate = await server.execute(product, { input: { ...input, name: "Other pen" } }, ADMIN);
    expect(duplicate.errors![0]).toMatchObject({ message: "A product with this SKU already exists.", extensions: { code: "CONFLICT", field: "sku" } });
    expect(await prisma.product.count()).toBe(1);
  });

  it("tree changes (rename, move, the review summary's hidden filter) run on PGlite too: its table lock and its triggers", async () => {
    const create = `mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { id } }`;
    const top = (await server.execute(create, { input: { name: "Stationery" } }, ADMIN)).data!.createCategory as { id: string };
    const books = await prisma.category.findUniqueOrThrow({ where: { slug: "books" } });
    const moved = await server.execute(`mutation ($id: ID!, $p: ID) { moveCategory(id: $id, parentId: $p) { depth } }`, { id: books.id, p: top.id }, ADMIN);
    expect(moved.errors).toBeUndefined();
    expect(moved.data!.moveCategory).toEqual({ depth: 1 });
    const renamed = await server.execute(`mutation ($id: ID!) { updateCategory(id: $id, input: { name: "Notebooks" }) { name } }`, { id: top.id }, ADMIN);
    expect(renamed.errors).toBeUndefined();
    // One visible review and one hidden: the listing's summary counts the visible one only.
    const product = await prisma.product.findFirstOrThrow();
    const review = { productId: product.id, rating: 4, body: "Writes smoothly." };
    await prisma.review.create({ data: { ...review, authorId: "00000000-0000-4000-8000-000000000001" } });
    await prisma.review.create({ data: { ...review, rating: 1, authorId: "00000000-0000-4000-8000-000000000002", hiddenAt: new Date() } });
    const found = await server.execute(`{ products(filter: { search: "notebooks" }) { totalCount edges { node { reviewSummary { count averageRating } } } } }`, {}, null);
    expect(found.data!.products).toEqual({ totalCount: 1, edges: [{ node: { reviewSummary: { count: 1, averageRating: 4 } } }] });
  });
});
