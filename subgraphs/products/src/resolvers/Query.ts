import { badUserInput, decodeCursor, encodeCursor, escapeLike, isUuid, parseCursorDate, parseFirst, parseId, toConnection } from "@catalog/common";
import type { Context } from "../context.ts";
import type { Prisma, Product } from "../prisma.ts";
import { normalizeSku, optionalId } from "../validation.ts";

type Sort = "NEWEST" | "PRICE_ASC" | "PRICE_DESC" | "NAME_ASC";

interface ProductsArgs {
  filter?: {
    categoryId?: string | null;
    includeSubcategories?: boolean | null;
    minPrice?: string | null;
    maxPrice?: string | null;
    search?: string | null;
    status?: "ACTIVE" | "ARCHIVED" | null;
  } | null;
  sort?: Sort | null;
  first?: number | null;
  after?: string | null;
}

function parseAmount(raw: string): string | undefined {
  return /^\d{1,10}\.\d{2}$/.test(raw) ? raw : undefined;
}

/**
 * Keyset pagination: each ordering names its column, direction and how a row becomes a cursor.
 * The id breaks ties, so pages never skip or repeat rows that share a price or a name.
 */
const ORDERINGS: Record<Sort, {
  field: "createdAt" | "priceAmount" | "name";
  direction: "asc" | "desc";
  value(row: Product): string;
  /** undefined when a (tampered) cursor holds a value this ordering could not have written. */
  parse(raw: string): unknown;
}> = {
  NEWEST: { field: "createdAt", direction: "desc", value: (row) => row.createdAt.toISOString(), parse: parseCursorDate },
  PRICE_ASC: { field: "priceAmount", direction: "asc", value: (row) => row.priceAmount.toFixed(2), parse: parseAmount },
  PRICE_DESC: { field: "priceAmount", direction: "desc", value: (row) => row.priceAmount.toFixed(2), parse: parseAmount },
  NAME_ASC: { field: "name", direction: "asc", value: (row) => row.name, parse: (raw) => (raw.length <= 200 ? raw : undefined) },
};

async function productWhere(args: ProductsArgs, ctx: Context): Promise<Prisma.ProductWhereInput> {
  const filter = args.filter ?? {};
  const where: Prisma.ProductWhereInput = { status: filter.status ?? "ACTIVE" };
  const min = filter.minPrice == null ? undefined : Number(filter.minPrice);
  const max = filter.maxPrice == null ? undefined : Number(filter.maxPrice);
  if (min !== undefined && min < 0) throw badUserInput("filter.minPrice must not be negative.", "filter.minPrice");
  if (max !== undefined && max < 0) throw badUserInput("filter.maxPrice must not be negative.", "filter.maxPrice");
  if (min !== undefined && max !== undefined && min > max) {
    throw badUserInput("filter.minPrice must not be greater than filter.maxPrice.", "filter.minPrice");
  }
  if (min !== undefined || max !== undefined) {
    where.priceAmount = { ...(min !== undefined ? { gte: filter.minPrice! } : {}), ...(max !== undefined ? { lte: filter.maxPrice! } : {}) };
  }
  const search = filter.search?.trim();
  if (search !== undefined && search.length > 100) {
    throw badUserInput("filter.search must be at most 100 characters.", "filter.search");
  }
  if (search) {
    const pattern = escapeLike(search);
    where.OR = [
      { name: { contains: pattern, mode: "insensitive" } },
      { description: { contains: pattern, mode: "insensitive" } },
      { sku: { contains: pattern, mode: "insensitive" } },
    ];
  }
  const categoryId = optionalId(filter.categoryId, "filter.categoryId");
  if (categoryId) {
    if (filter.includeSubcategories) {
      const category = await ctx.loaders.categoryById.load(categoryId);
      // An unknown category matches nothing, like any other filter value that matches nothing.
      where.category = { path: { startsWith: category?.path ?? `/${categoryId}/` } };
    } else {
      where.categoryId = categoryId;
    }
  }
  return where;
}

export const Query = {
  product(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.productById.load(parseId(args.id));
  },

  productBySku(_: unknown, args: { sku: string }, ctx: Context) {
    const sku = normalizeSku(args.sku);
    if (!sku) throw badUserInput("Argument \"sku\" must be 1 to 64 characters.", "sku");
    return ctx.loaders.productBySku.load(sku);
  },

  async products(_: unknown, args: ProductsArgs, ctx: Context) {
    const first = parseFirst(args.first);
    const sort = args.sort ?? "NEWEST";
    const ordering = ORDERINGS[sort];
    const cursorKind = `products:${sort}`;
    const after = decodeCursor(args.after, cursorKind, 2);
    const where = await productWhere(args, ctx);

    let keyset: Prisma.ProductWhereInput | undefined;
    if (after) {
      const [rawValue, lastId] = after as [string, string];
      const value = typeof rawValue === "string" ? ordering.parse(rawValue) : undefined;
      if (value === undefined || !isUuid(lastId)) {
        throw badUserInput("Argument \"after\" is not a cursor this list issued.", "after");
      }
      const beyond = ordering.direction === "asc" ? "gt" : "lt";
      keyset = {
        OR: [
          { [ordering.field]: { [beyond]: value } },
          { [ordering.field]: value, id: { [beyond]: lastId } },
        ],
      };
    }
    const rows = await ctx.prisma.product.findMany({
      where: keyset ? { AND: [where, keyset] } : where,
      orderBy: [{ [ordering.field]: ordering.direction }, { id: ordering.direction }],
      take: first + 1,
    });
    for (const row of rows) ctx.loaders.productById.prime(row.id, row);
    return {
      ...toConnection(rows, first, (row) => encodeCursor(cursorKind, [ordering.value(row), row.id])),
      totalCount: () => ctx.prisma.product.count({ where }),
    };
  },

  categories(_: unknown, __: unknown, ctx: Context) {
    return ctx.prisma.category.findMany({ where: { parentId: null }, orderBy: { name: "asc" } });
  },

  category(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.categoryById.load(parseId(args.id));
  },
};
