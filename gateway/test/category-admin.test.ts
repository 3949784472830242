import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { createCategoryTree, createProduct, createUser, token } from "../../test/support/fixtures.ts";
import { eventually } from "../../test/support/selling.ts";
import { gql, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const asAdmin = (query: string, variables: Record<string, unknown> = {}) => gql(stack.gatewayUrl, query, variables, bearer(ADMIN_USER));
const MOVE = `mutation ($id: ID!, $parentId: ID) { moveCategory(id: $id, parentId: $parentId) { id depth parent { id } } }`;
const UPDATE = `mutation ($id: ID!, $input: UpdateCategoryInput!) { updateCategory(id: $id, input: $input) { id name slug } }`;
const DELETE = `mutation ($id: ID!, $to: ID) { deleteCategory(id: $id, moveProductsTo: $to) }`;
const CATEGORY = `query ($id: ID!) { category(id: $id) { id name depth parent { id } children { id name } products { totalCount edges { node { id } } } } }`;

/** A word of letters only, unique to a test (full-text search stems words; digits would split them). */
const word = () => `zq${token().replace(/\d/g, (d) => "abcdefghij"[Number(d)]!)}`;

/** The stored tree under (and including) a root: id -> { parentId, path, depth }. */
async function treeOf(rootId: string) {
  const rows = await stack.prisma.products.category.findMany({ where: { path: { contains: rootId } }, orderBy: { depth: "asc" } });
  return Object.fromEntries(rows.map((row) => [row.id, { parentId: row.parentId, path: row.path, depth: row.depth }]));
}

/** A chain of `levels` categories, root first. */
async function chain(levels: number) {
  const ids: string[] = [];
  for (let i = 0; i < levels; i++) {
    const { body } = await asAdmin(`mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { id } }`, {
      input: { name: `Level ${i} ${token()}`, parentId: ids.at(-1) ?? null },
    });
    expect(body.errors).toBeUndefined();
    ids.push(body.data!.createCategory.id);
  }
  return ids;
}

describe("category administration", () => {
  it("refuses a move under the category itself or one of its descendants (CATEGORY_CYCLE); the tree is unchanged", async () => {
    const { root, child, leaf } = await createCategoryTree(stack.prisma.products);
    const before = await treeOf(root.id);
    for (const parentId of [root.id, child.id, leaf.id]) {
      const { body } = await asAdmin(MOVE, { id: root.id, parentId });
      expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "parentId", reason: "CATEGORY_CYCLE" });
    }
    expect(await treeOf(root.id)).toEqual(before);
  });

  it("refuses a move that would nest any category below the depth limit (CATEGORY_TOO_DEEP)", async () => {
    const deep = await chain(4); // depths 0..3
    const { root, leaf } = await createCategoryTree(stack.prisma.products); // 3 levels: would reach depth 6
    const { body } = await asAdmin(MOVE, { id: root.id, parentId: deep[3] });
    expect(body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "parentId", reason: "CATEGORY_TOO_DEEP" });
    expect((await stack.prisma.products.category.findUniqueOrThrow({ where: { id: root.id } })).parentId).toBeNull();
    // One level higher it fits exactly (the leaf lands on depth 5).
    const fits = await asAdmin(MOVE, { id: root.id, parentId: deep[2] });
    expect(fits.body.data!.moveCategory).toEqual({ id: root.id, depth: 3, parent: { id: deep[2] } });
    expect((await stack.prisma.products.category.findUniqueOrThrow({ where: { id: leaf.id } })).depth).toBe(5);
  });

  it("moves a subtree: paths and depths below it follow, its products list under the new parent, cached answers are purged", async () => {
    const from = await createCategoryTree(stack.prisma.products);
    const to = await createCategoryTree(stack.prisma.products);
    const product = await createProduct(stack.prisma.products, { categoryId: from.leaf.id });
    await gql(stack.gatewayUrl, CATEGORY, { id: to.root.id });
    const cached = await gql(stack.gatewayUrl, CATEGORY, { id: to.root.id });
    expect(cached.headers.get("x-cache")).toBe("HIT");
    expect(cached.body.data!.category.products.totalCount).toBe(0);

    const { body } = await asAdmin(MOVE, { id: from.child.id, parentId: to.leaf.id });
    expect(body.data!.moveCategory).toEqual({ id: from.child.id, depth: 3, parent: { id: to.leaf.id } });
    const tree = await treeOf(to.root.id);
    expect(tree[from.child.id]).toEqual({ parentId: to.leaf.id, path: `${to.leaf.path}${from.child.id}/`, depth: 3 });
    expect(tree[from.leaf.id]).toEqual({ parentId: from.child.id, path: `${to.leaf.path}${from.child.id}/${from.leaf.id}/`, depth: 4 });

    const fresh = await gql(stack.gatewayUrl, CATEGORY, { id: to.root.id });
    expect(fresh.headers.get("x-cache")).toBe("MISS");
    expect(fresh.body.data!.category.products.edges).toEqual([{ node: { id: product.id } }]);
    const old = await gql(stack.gatewayUrl, CATEGORY, { id: from.root.id });
    expect(old.body.data!.category).toMatchObject({ children: [], products: { totalCount: 0 } });

    // To the top level and back to where it was.
    const toRoot = await asAdmin(MOVE, { id: from.child.id, parentId: null });
    expect(toRoot.body.data!.moveCategory).toEqual({ id: from.child.id, depth: 0, parent: null });
    expect((await treeOf(from.child.id))[from.leaf.id]).toEqual({ parentId: from.child.id, path: `/${from.child.id}/${from.leaf.id}/`, depth: 1 });
  });

  it("two moves at once cannot make a cycle together: the tree lock serialises them", async () => {
    const a = await createCategoryTree(stack.prisma.products);
    const b = await createCategoryTree(stack.prisma.products);
    const [ab, ba] = await Promise.all([asAdmin(MOVE, { id: a.root.id, parentId: b.leaf.id }), asAdmin(MOVE, { id: b.root.id, parentId: a.leaf.id })]);
    const outcomes = [ab, ba].map((r) => (r.body.errors ? r.body.errors[0]!.extensions!.reason : "moved"));
    expect(outcomes.sort()).toEqual(["CATEGORY_CYCLE", "moved"]);
    // Every path still starts at a root and every parent is the previous id on the path.
    const rows = await stack.prisma.products.category.findMany({ where: { OR: [{ path: { contains: a.root.id } }, { path: { contains: b.root.id } }] } });
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      const ids = row.path.split("/").filter(Boolean);
      expect(ids.at(-1)).toBe(row.id);
      expect(ids.at(-2) ?? null).toBe(row.parentId);
      expect(ids.length - 1).toBe(row.depth);
    }
  });

  it("refuses to delete a category with subcategories or (without moveProductsTo) products; with moveProductsTo its products move", async () => {
    const { root, child, leaf } = await createCategoryTree(stack.prisma.products);
    const target = await createCategoryTree(stack.prisma.products);
    const products = await Promise.all([1, 2].map(() => createProduct(stack.prisma.products, { categoryId: leaf.id })));

    const withChildren = await asAdmin(DELETE, { id: child.id });
    expect(withChildren.body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", reason: "CATEGORY_HAS_CHILDREN" });
    const withProducts = await asAdmin(DELETE, { id: leaf.id });
    expect(withProducts.body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", reason: "CATEGORY_HAS_PRODUCTS", field: "moveProductsTo" });
    const unknownTarget = await asAdmin(DELETE, { id: leaf.id, to: randomUUID() });
    expect(unknownTarget.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "moveProductsTo" });
    expect(await stack.prisma.products.category.count({ where: { id: { in: [root.id, child.id, leaf.id] } } })).toBe(3);

    const moved = await asAdmin(DELETE, { id: leaf.id, to: target.leaf.id });
    expect(moved.body.data).toEqual({ deleteCategory: leaf.id });
    expect(await stack.prisma.products.category.findUnique({ where: { id: leaf.id } })).toBeNull();
    const rows = await stack.prisma.products.product.findMany({ where: { id: { in: products.map((p) => p.id) } } });
    expect(rows.map((row) => row.categoryId)).toEqual([target.leaf.id, target.leaf.id]);
    const listed = await gql(stack.gatewayUrl, CATEGORY, { id: target.root.id });
    expect(listed.body.data!.category.products.totalCount).toBe(2);
    // Now empty, the child goes with no argument.
    expect((await asAdmin(DELETE, { id: child.id })).body.data).toEqual({ deleteCategory: child.id });
  });

  it("a product filed under the category while it is deleted: the delete waits for it and refuses (CATEGORY_HAS_PRODUCTS), never a 500", async () => {
    const { leaf } = await createCategoryTree(stack.prisma.products);
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
    // Another writer files a product under the leaf and holds its transaction open.
    const writer = stack.prisma.products.$transaction(
      async (tx) => {
        await tx.product.create({
          data: { sku: `T-${token()}`.toUpperCase(), name: "Late arrival", description: "Filed during a delete.", priceAmount: "5.00", currency: "USD", weightGrams: 100, categoryId: leaf.id },
        });
        inserted();
        await committing;
      },
      { timeout: 60_000 },
    );
    await insertedYet;
    const deleting = asAdmin(DELETE, { id: leaf.id });
    // The delete has reached the category and waits on the writer's lock.
    await eventually(async () => {
      const [row] = await stack.prisma.products.$queryRawUnsafe<{ waiting: number }[]>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%categories%'`,
      );
      expect(row!.waiting).toBeGreaterThan(0);
    });
    commit();
    await writer;
    const { body } = await deleting;
    expect(body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", reason: "CATEGORY_HAS_PRODUCTS" });
    expect(await stack.prisma.products.category.findUnique({ where: { id: leaf.id } })).not.toBeNull();
  });

  it("a rename purges the cached tree, and search finds the category's products by the new name", async () => {
    const { root, leaf } = await createCategoryTree(stack.prisma.products);
    const product = await createProduct(stack.prisma.products, { categoryId: leaf.id });
    const TREE = `{ categories { id name children { id name } } }`;
    await gql(stack.gatewayUrl, TREE);
    expect((await gql(stack.gatewayUrl, TREE)).headers.get("x-cache")).toBe("HIT");
    const SEARCH = `query ($q: String) { products(filter: { search: $q }) { edges { node { id } } } }`;
    const name = word();
    expect((await gql(stack.gatewayUrl, SEARCH, { q: name })).body.data!.products.edges).toEqual([]);

    const renamed = await asAdmin(UPDATE, { id: root.id, input: { name: `Garden ${name}` } });
    expect(renamed.body.data!.updateCategory).toMatchObject({ id: root.id, name: `Garden ${name}`, slug: root.slug });
    const tree = await gql(stack.gatewayUrl, TREE);
    expect(tree.headers.get("x-cache")).toBe("MISS");
    expect(tree.body.data!.categories.find((c: { id: string }) => c.id === root.id).name).toBe(`Garden ${name}`);
    // The root's new name is a category word of the product two levels below it.
    const found = await gql(stack.gatewayUrl, SEARCH, { q: name });
    expect(found.headers.get("x-cache")).toBe("MISS");
    expect(found.body.data!.products.edges).toEqual([{ node: { id: product.id } }]);

    const slug = `garden-${name}`;
    expect((await asAdmin(UPDATE, { id: leaf.id, input: { slug } })).body.data!.updateCategory.slug).toBe(slug);
    const taken = await asAdmin(UPDATE, { id: root.id, input: { slug } });
    expect(taken.body.errors![0]!.extensions!.code).toBe("CONFLICT");
    const empty = await asAdmin(UPDATE, { id: root.id, input: {} });
    expect(empty.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input" });
  });

  it("needs the scope catalog:write: a customer is FORBIDDEN and nothing changes", async () => {
    const { root, child } = await createCategoryTree(stack.prisma.products);
    const user = await createUser(stack.prisma.users);
    const { body } = await gql(stack.gatewayUrl, MOVE, { id: child.id, parentId: null }, bearer({ id: user.id }));
    expect(body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await stack.prisma.products.category.findUniqueOrThrow({ where: { id: child.id } })).parentId).toBe(root.id);
  });
});
