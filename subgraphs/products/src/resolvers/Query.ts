import { badUserInput, decodeCursor, encodeCursor, escapeLike, isUuid, parseCursorDate, parseFirst, parseId, selectsPath, toConnection } from "@catalog/common";
import type { GraphQLResolveInfo } from "graphql";
import type { Context } from "../context.ts";
import { REVIEW_SUMMARY_COLUMNS, reviewSummaryOf } from "../loaders.ts";
import { Prisma, type Product } from "../prisma.ts";
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
  column: "created_at" | "price_amount" | "name";
  /** How a cursor value is compared: its SQL type. */
  cast: "timestamptz" | "numeric" | "text";
  direction: "asc" | "desc";
  value(row: Product): string;
  /** undefined when a (tampered) cursor holds a value this ordering could not have written. */
  parse(raw: string): unknown;
}> = {
  NEWEST: { column: "created_at", cast: "timestamptz", direction: "desc", value: (row) => row.createdAt.toISOString(), parse: parseCursorDate },
  PRICE_ASC: { column: "price_amount", cast: "numeric", direction: "asc", value: (row) => row.priceAmount.toFixed(2), parse: parseAmount },
  PRICE_DESC: { column: "price_amount", cast: "numeric", direction: "desc", value: (row) => row.priceAmount.toFixed(2), parse: parseAmount },
  NAME_ASC: { column: "name", cast: "text", direction: "asc", value: (row) => row.name, parse: (raw) => (raw.length <= 200 ? raw : undefined) },
};

/** A WHERE clause under construction: conditions joined by AND, values as $1..$n. */
class Conditions {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  /** Adds a value and returns its placeholder. */
  value(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  add(condition: string): void {
    this.parts.push(condition);
  }
  /** The same conditions, to extend without changing these (a page of the filtered list). */
  copy(): Conditions {
    const copy = new Conditions();
    copy.parts.push(...this.parts);
    copy.params.push(...this.params);
    return copy;
  }
  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(" AND ")}` : "";
  }
}

async function productWhere(args: ProductsArgs, ctx: Context): Promise<Conditions> {
  const filter = args.filter ?? {};
  const where = new Conditions();
  where.add(`p.status = ${where.value(filter.status ?? "ACTIVE")}::"ProductStatus"`);
  const min = filter.minPrice == null ? undefined : Number(filter.minPrice);
  const max = filter.maxPrice == null ? undefined : Number(filter.maxPrice);
  if (min !== undefined && min < 0) throw badUserInput("filter.minPrice must not be negative.", "filter.minPrice");
  if (max !== undefined && max < 0) throw badUserInput("filter.maxPrice must not be negative.", "filter.maxPrice");
  if (min !== undefined && max !== undefined && min > max) {
    throw badUserInput("filter.minPrice must not be greater than filter.maxPrice.", "filter.minPrice");
  }
  if (min !== undefined) where.add(`p.price_amount >= ${where.value(filter.minPrice)}::numeric`);
  if (max !== undefined) where.add(`p.price_amount <= ${where.value(filter.maxPrice)}::numeric`);
  const search = filter.search?.trim();
  if (search !== undefined && search.length > 100) {
    throw badUserInput("filter.search must be at most 100 characters.", "filter.search");
  }
  if (search) {
    const pattern = where.value(`%${escapeLike(search)}%`);
    where.add(`(p.name ILIKE ${pattern} OR p.description ILIKE ${pattern} OR p.sku ILIKE ${pattern})`);
  }
  const categoryId = optionalId(filter.categoryId, "filter.categoryId");
  if (categoryId) {
    if (filter.includeSubcategories) {
      const category = await ctx.loaders.categoryById.load(categoryId);
      // An unknown category matches nothing, like any other filter value that matches nothing.
      const prefix = where.value(`${escapeLike(category?.path ?? `/${categoryId}/`)}%`);
      where.add(`EXISTS (SELECT 1 FROM categories c WHERE c.id = p.category_id AND c.path LIKE ${prefix})`);
    } else {
      where.add(`p.category_id = ${where.value(categoryId)}::uuid`);
    }
  }
  return where;
}

/** A products row as the driver returns it, columns named as Prisma's Product. */
type ProductRow = Omit<Product, "priceAmount"> & { priceAmount: string };
/** A listing row: the product, and its review aggregates when the listing asks for them. */
type ListingRow = ProductRow & { reviewCount?: number; reviewAverage?: number | null; sortKey?: unknown; sortId?: unknown };

const PRODUCT_COLUMNS = `p.id::text AS id, p.sku, p.name, p.description, p.price_amount::text AS "priceAmount", p.currency,
  p.image_urls AS "imageUrls", p.weight_grams AS "weightGrams", p.status::text AS status, p.category_id::text AS "categoryId",
  p.created_at AS "createdAt", p.updated_at AS "updatedAt"`;

export const Query = {
  product(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.productById.load(parseId(args.id));
  },

  productBySku(_: unknown, args: { sku: string }, ctx: Context) {
    const sku = normalizeSku(args.sku);
    if (!sku) throw badUserInput("Argument \"sku\" must be 1 to 64 characters.", "sku");
    return ctx.loaders.productBySku.load(sku);
  },

  async products(_: unknown, args: ProductsArgs, ctx: Context, info: GraphQLResolveInfo) {
    const first = parseFirst(args.first);
    const sort = args.sort ?? "NEWEST";
    const ordering = ORDERINGS[sort];
    const cursorKind = `products:${sort}`;
    const after = decodeCursor(args.after, cursorKind, 2);
    const where = await productWhere(args, ctx);

    const page = where.copy();
    if (after) {
      const [rawValue, lastId] = after as [string, string];
      const value = typeof rawValue === "string" ? ordering.parse(rawValue) : undefined;
      if (value === undefined || !isUuid(lastId)) {
        throw badUserInput("Argument \"after\" is not a cursor this list issued.", "after");
      }
      const beyond = ordering.direction === "asc" ? ">" : "<";
      const column = `p.${ordering.column}`;
      const cursorValue = `${page.value(value instanceof Date ? value.toISOString() : value)}::${ordering.cast}`;
      page.add(`(${column} ${beyond} ${cursorValue} OR (${column} = ${cursorValue} AND p.id ${beyond} ${page.value(lastId)}::uuid))`);
    }
    // One statement straight to the driver (Database.read): Prisma's client cost more CPU per
    // listing than PostgreSQL spends answering it. A listing that shows review summaries (most
    // do) gets them in the same statement, joined to the page only: one round trip, not two.
    const direction = ordering.direction.toUpperCase();
    const pageSql = (columns: string) =>
      `SELECT ${columns} FROM products p ${page.sql} ORDER BY p.${ordering.column} ${direction}, p.id ${direction} LIMIT ${page.value(first + 1)}`;
    const withSummaries = selectsPath(info, ["edges", "node", "reviewSummary"]);
    const found = await ctx.db.read<ListingRow>(
      withSummaries
        ? `SELECT l.*, s.count AS "reviewCount", s.average AS "reviewAverage"
           FROM (${pageSql(`${PRODUCT_COLUMNS}, p.${ordering.column} AS "sortKey", p.id AS "sortId"`)}) l
           LEFT JOIN LATERAL (SELECT ${REVIEW_SUMMARY_COLUMNS} FROM reviews r WHERE r.product_id = l."sortId") s ON true
           ORDER BY l."sortKey" ${direction}, l."sortId" ${direction}`
        : pageSql(PRODUCT_COLUMNS),
      page.params,
    );
    const rows: Product[] = found.map(({ reviewCount, reviewAverage, sortKey: _key, sortId: _id, ...row }) => {
      if (withSummaries) ctx.loaders.reviewSummary.prime(row.id, reviewSummaryOf(reviewCount, reviewAverage));
      return { ...row, priceAmount: new Prisma.Decimal(row.priceAmount) };
    });
    for (const row of rows) ctx.loaders.productById.prime(row.id, row);
    return {
      ...toConnection(rows, first, (row) => encodeCursor(cursorKind, [ordering.value(row), row.id])),
      totalCount: async () =>
        (await ctx.db.read<{ count: number }>(`SELECT count(*)::int AS count FROM products p ${where.sql}`, where.params))[0]?.count ?? 0,
    };
  },

  categories(_: unknown, __: unknown, ctx: Context) {
    return ctx.prisma.category.findMany({ where: { parentId: null }, orderBy: { name: "asc" } });
  },

  category(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.categoryById.load(parseId(args.id));
  },
};
