import { badUserInput, coded, ErrorCode, mapPrismaError, notFound, parseId } from "@catalog/common";
import type { Context } from "./context.ts";
import { PRODUCT_LISTS } from "./listing-tags.ts";
import type { Category, ProductsPrisma, ProductsTransaction } from "./prisma.ts";
import { createCategoryInput, optionalId, slugOf, updateCategoryInput, validate } from "./validation.ts";

/** The deepest depth a category may have (the root is 0): six levels in all. */
const MAX_CATEGORY_DEPTH = 5;

/**
 * Runs a change of the category tree under one lock for the whole tree. Paths are materialised
 * (each row holds its ancestors' ids), so every change reads the rows it builds on and writes
 * paths from them: two moves at once (A under B, B under A) could each pass the cycle check
 * against the other's old tree and together make a cycle. `LOCK TABLE ... SHARE ROW EXCLUSIVE`
 * conflicts with itself and with every row write to `categories`, so tree changes run one at a
 * time while readers (listings, search) go on; it is released at commit. It works the same in
 * PGlite (embedded mode), which has no second connection anyway.
 */
function withTreeLock<T>(prisma: ProductsPrisma, change: (tx: ProductsTransaction) => Promise<T>): Promise<T> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE`);
      return change(tx);
    },
    TREE_TRANSACTION,
  );
}

/**
 * A rename or move near the root rewrites the search words of every product below it (the
 * categories trigger, in the same transaction): tens of thousands of rows in a large catalog, far
 * past Prisma's default 5 s. An admin's rare change may take that long; a rollback at 5 s would
 * answer INTERNAL_SERVER_ERROR for a change that was fine.
 */
const TREE_TRANSACTION = { maxWait: 5_000, timeout: 120_000 } as const;

/** Category ids on a materialised path ("/<root>/<child>/"), root first. */
const idsOnPath = (path: string) => path.split("/").filter(Boolean);

/**
 * What a tree change purges: the categories whose own fields, children or `products` listings
 * changed (each as an entity tag: wherever a response reached it), the roots, and the product
 * listings whose category facets and search matches may have moved.
 */
async function purge(ctx: Context, categoryIds: Iterable<string>): Promise<void> {
  await ctx.cache.invalidate([...new Set([...categoryIds].map((id) => `Category:${id}`)), "Query.categories", "Query.category", ...PRODUCT_LISTS]);
}

/** The category `id` as the transaction sees it; NOT_FOUND, or BAD_USER_INPUT naming `field` when it is an argument pointing at it. */
async function categoryIn(tx: ProductsTransaction, id: string, field?: string): Promise<Category> {
  const category = await tx.category.findUnique({ where: { id } });
  if (!category) throw field ? badUserInput(`${field} does not name an existing category.`, field) : notFound(`No category has id ${id}.`);
  return category;
}

export async function createCategory(ctx: Context, rawInput: unknown): Promise<Category> {
  const input = validate(createCategoryInput, rawInput);
  const parentId = optionalId(input.parentId, "input.parentId");
  const slug = input.slug ?? slugOf(input.name);
  if (!slug) throw badUserInput("input.slug is required when the name has no letters or digits.", "input.slug");
  // The path embeds the new row's own id, so the row is created and its path set in one
  // transaction; under the tree lock, so the parent's path cannot move meanwhile.
  const { created, parent } = await withTreeLock(ctx.prisma, async (tx) => {
    const parent = parentId ? await categoryIn(tx, parentId, "input.parentId") : null;
    if (parent && parent.depth + 1 > MAX_CATEGORY_DEPTH) {
      throw badUserInput(`Categories nest at most ${MAX_CATEGORY_DEPTH + 1} levels deep.`, "input.parentId");
    }
    const row = await tx.category.create({
      data: { name: input.name, slug, parentId: parent?.id ?? null, path: "", depth: parent ? parent.depth + 1 : 0 },
    });
    const placed = await tx.category.update({ where: { id: row.id }, data: { path: `${parent?.path ?? "/"}${row.id}/` } });
    return { created: placed, parent };
  }).catch((error: unknown) => mapPrismaError(error, { unique: () => `A category with slug "${slug}" already exists.` }));
  // The parent's `children` changed; a new root changes `categories`.
  await ctx.cache.invalidate(parent ? [`Category:${parent.id}`] : ["Query.categories"]);
  return created;
}

export async function updateCategory(ctx: Context, rawId: string, rawInput: unknown): Promise<Category> {
  const id = parseId(rawId);
  const input = validate(updateCategoryInput, rawInput);
  const data: { name?: string; slug?: string } = {};
  if (input.name != null) data.name = input.name;
  if (input.slug != null) data.slug = input.slug;
  if (Object.keys(data).length === 0) throw badUserInput("input must change at least one field.", "input");
  // A rename rewrites the search words of every product below (the categories trigger, same transaction).
  const updated = await withTreeLock(ctx.prisma, (tx) => tx.category.update({ where: { id }, data })).catch((error: unknown) =>
    mapPrismaError(error, { notFound: `No category has id ${id}.`, unique: () => `A category with slug "${data.slug}" already exists.` }),
  );
  await purge(ctx, idsOnPath(updated.path));
  return updated;
}

export async function moveCategory(ctx: Context, rawId: string, rawParentId: string | null | undefined): Promise<Category> {
  const id = parseId(rawId);
  const parentId = optionalId(rawParentId, "parentId") ?? null;
  const { moved, touched } = await withTreeLock(ctx.prisma, async (tx) => {
    const category = await categoryIn(tx, id);
    const parent = parentId ? await categoryIn(tx, parentId, "parentId") : null;
    if (parent && parent.path.startsWith(category.path)) {
      throw coded(ErrorCode.BAD_USER_INPUT, "A category cannot move under itself or one of its descendants.", { field: "parentId", reason: "CATEGORY_CYCLE" });
    }
    if ((parent?.id ?? null) === category.parentId) return { moved: category, touched: [] as string[] };
    const depth = parent ? parent.depth + 1 : 0;
    const [deepest] = await tx.$queryRawUnsafe<{ depth: number }[]>(
      `SELECT max(depth)::int AS depth FROM categories WHERE starts_with(path, $1)`,
      category.path,
    );
    const shift = depth - category.depth;
    if ((deepest?.depth ?? category.depth) + shift > MAX_CATEGORY_DEPTH) {
      throw coded(ErrorCode.BAD_USER_INPUT, `Categories nest at most ${MAX_CATEGORY_DEPTH + 1} levels deep; this move would nest them deeper.`, {
        field: "parentId",
        reason: "CATEGORY_TOO_DEEP",
      });
    }
    const path = `${parent?.path ?? "/"}${category.id}/`;
    // The whole subtree in one statement: each path keeps its tail below the moved category.
    const subtree = await tx.$queryRawUnsafe<{ id: string }[]>(
      `UPDATE categories
       SET path = $2 || substr(path, length($1) + 1), depth = depth + $3,
           parent_id = CASE WHEN id = $4::uuid THEN $5::uuid ELSE parent_id END
       WHERE starts_with(path, $1)
       RETURNING id::text AS id`,
      category.path,
      path,
      shift,
      category.id,
      parent?.id ?? null,
    );
    const moved = await categoryIn(tx, id);
    return { moved, touched: [...idsOnPath(category.path), ...idsOnPath(path), ...subtree.map((row) => row.id)] };
  });
  if (touched.length) await purge(ctx, touched);
  return moved;
}

export async function deleteCategory(ctx: Context, rawId: string, rawMoveTo: string | null | undefined): Promise<string> {
  const id = parseId(rawId);
  const moveTo = optionalId(rawMoveTo, "moveProductsTo");
  if (moveTo === id) throw badUserInput("moveProductsTo must name another category.", "moveProductsTo");
  const touched = await withTreeLock(ctx.prisma, async (tx) => {
    // The table lock does not stop a product being filed under the category meanwhile (its
    // foreign-key check only key-share locks the row). Locking the row FOR UPDATE does: a product
    // write in flight finishes first and is counted below; a later one waits, then fails its own
    // foreign-key check once the category is gone.
    await tx.$queryRawUnsafe(`SELECT 1 FROM categories WHERE id = $1::uuid FOR UPDATE`, id);
    const category = await categoryIn(tx, id);
    const target = moveTo ? await categoryIn(tx, moveTo, "moveProductsTo") : null;
    if (await tx.category.count({ where: { parentId: id } })) {
      throw coded(ErrorCode.CONFLICT, "The category has subcategories: move or delete them first.", { reason: "CATEGORY_HAS_CHILDREN" });
    }
    let moved: string[] = [];
    if (target) {
      const rows = await tx.product.findMany({ where: { categoryId: id }, select: { id: true } });
      await tx.product.updateMany({ where: { categoryId: id }, data: { categoryId: target.id } });
      moved = rows.map((row) => row.id);
    } else if (await tx.product.count({ where: { categoryId: id } })) {
      throw coded(ErrorCode.CONFLICT, "The category has products: pass moveProductsTo to move them.", {
        field: "moveProductsTo",
        reason: "CATEGORY_HAS_PRODUCTS",
      });
    }
    await tx.category.delete({ where: { id } });
    return { categories: [...idsOnPath(category.path), ...(target ? idsOnPath(target.path) : [])], products: moved };
  });
  await purge(ctx, touched.categories);
  if (touched.products.length) await ctx.cache.invalidate(touched.products.map((productId) => `Product:${productId}`));
  return id;
}
