import { maybeCacheControlFromInfo } from "@apollo/cache-control-types";
import { badUserInput, parseFirst, selectsPath } from "@catalog/common";
import type { GraphQLResolveInfo } from "graphql";
import type { Context } from "../context.ts";
import { optionalId } from "../validation.ts";
import type { CatalogSearch, ListingQuery, ProductSort } from "./types.ts";

export interface ProductFilterInput {
  categoryId?: string | null;
  includeSubcategories?: boolean | null;
  minPrice?: string | null;
  maxPrice?: string | null;
  search?: string | null;
  inStock?: boolean | null;
  status?: "ACTIVE" | "ARCHIVED" | null;
}

export interface ProductsArgs {
  filter?: ProductFilterInput | null;
  sort?: ProductSort | null;
  first?: number | null;
  after?: string | null;
}

const MAX_SEARCH_LENGTH = 100;

function price(raw: string | null | undefined, field: string): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (Number(raw) < 0) throw badUserInput(`${field} must not be negative.`, field);
  return raw;
}

/** The arguments of `products(...)` and `Category.products(...)`, checked and normalised. */
export function listingQuery(args: ProductsArgs, categoryId?: string): ListingQuery {
  const filter = args.filter ?? {};
  const minPrice = price(filter.minPrice, "filter.minPrice");
  const maxPrice = price(filter.maxPrice, "filter.maxPrice");
  if (minPrice !== undefined && maxPrice !== undefined && Number(minPrice) > Number(maxPrice)) {
    throw badUserInput("filter.minPrice must not be greater than filter.maxPrice.", "filter.minPrice");
  }
  const search = filter.search?.trim() || undefined;
  if (search !== undefined && search.length > MAX_SEARCH_LENGTH) {
    throw badUserInput(`filter.search must be at most ${MAX_SEARCH_LENGTH} characters.`, "filter.search");
  }
  if (categoryId !== undefined && filter.categoryId != null) {
    throw badUserInput("filter.categoryId cannot be given here: the category is the one whose products these are.", "filter.categoryId");
  }
  const id = categoryId ?? optionalId(filter.categoryId, "filter.categoryId");
  const category = id ? { id, includeSubcategories: filter.includeSubcategories ?? true } : undefined;
  // RELEVANCE is the default with a search term; without one there is nothing to rank by.
  const sort = args.sort ?? (search ? "RELEVANCE" : "NEWEST");
  return {
    status: filter.status ?? "ACTIVE",
    ...(minPrice !== undefined ? { minPrice } : {}),
    ...(maxPrice !== undefined ? { maxPrice } : {}),
    ...(search !== undefined ? { search } : {}),
    ...(category ? { category } : {}),
    ...(filter.inStock != null ? { inStock: filter.inStock } : {}),
    sort: sort === "RELEVANCE" && !search ? "NEWEST" : sort,
  };
}

/** What `ProductConnection.facets` resolves from: the query the connection answered. */
export interface FacetSource {
  search: CatalogSearch;
  query: ListingQuery;
}

/**
 * One page of a listing as a connection. The total and the facets are functions, so they cost a
 * statement only when the operation selects them.
 */
export async function productConnection(args: ProductsArgs, ctx: Context, info: GraphQLResolveInfo, categoryId?: string) {
  const first = parseFirst(args.first);
  const query = listingQuery(args, categoryId);
  // Availability follows inventory within seconds, not minutes: an answer that depends on it is
  // cached like stock is (30 s), where other listings keep 5 minutes.
  if (query.inStock !== undefined || selectsPath(info, ["facets"])) maybeCacheControlFromInfo(info)?.setCacheHint({ maxAge: 30 });
  const withSummaries = selectsPath(info, ["edges", "node", "reviewSummary"]);
  const withHighlights = selectsPath(info, ["edges", "highlight"]);
  const page = await ctx.search.page(query, { first, after: args.after ?? undefined, withSummaries, withHighlights });
  for (const entry of page.entries) {
    ctx.loaders.productById.prime(entry.product.id, entry.product);
    if (entry.reviewSummary) ctx.loaders.reviewSummary.prime(entry.product.id, entry.reviewSummary);
  }
  const edges = page.entries.map((entry) => ({ cursor: entry.cursor, node: entry.product, highlight: entry.highlight ?? null }));
  const facets: FacetSource = { search: ctx.search, query };
  return {
    edges,
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: () => ctx.search.count(query),
    facets,
  };
}
