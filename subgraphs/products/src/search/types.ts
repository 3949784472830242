import type { ReviewSummaryRow } from "../loaders.ts";
import type { Product } from "../prisma.ts";

export type ProductSort = "RELEVANCE" | "NEWEST" | "PRICE_ASC" | "PRICE_DESC" | "NAME_ASC";

/** A listing or search, validated and normalised: what every search engine is asked. */
export interface ListingQuery {
  status: "ACTIVE" | "ARCHIVED";
  /** Inclusive bounds on the price amount, as exact decimal strings. */
  minPrice?: string;
  maxPrice?: string;
  /** Trimmed, 1 to 100 characters. */
  search?: string;
  /** An unknown category matches nothing. */
  category?: { id: string; includeSubcategories: boolean };
  inStock?: boolean;
  /** RELEVANCE only with a search term (the resolver falls back to NEWEST without one). */
  sort: ProductSort;
}

/** A facet counts under every filter but its own, so the other values of that facet stay choosable. */
export type FacetDimension = "category" | "price" | "availability";

export interface ListingEntry {
  product: Product;
  cursor: string;
  /** Present when the page was asked for with summaries (one statement instead of two). */
  reviewSummary?: ReviewSummaryRow;
  /** Present when the page was asked for with highlights and has a search term. */
  highlight?: SearchHighlight;
}

/** A piece of text in order; `match`: a part the search term matched. */
export interface TextPart {
  text: string;
  match: boolean;
}

export interface SearchHighlight {
  name: TextPart[];
  /** Passages around the matches; null when the description did not match. */
  description: TextPart[] | null;
}

export interface ListingPage {
  entries: ListingEntry[];
  hasNextPage: boolean;
}

/**
 * Where listings, search and facets are answered. PostgreSQL serves them today
 * (postgres-search.ts); an external engine (OpenSearch, say) would implement the same contract,
 * issuing its own cursors, with the catalog still read from PostgreSQL by id.
 */
export interface CatalogSearch {
  page(query: ListingQuery, options: { first: number; after: string | undefined; withSummaries: boolean; withHighlights: boolean }): Promise<ListingPage>;
  /** How many products match. */
  count(query: ListingQuery): Promise<number>;
  /** Matching products per category, each counted in its own category and every one above it. */
  categoryCounts(query: ListingQuery): Promise<{ categoryId: string; count: number }[]>;
  /** Matching products per price range: `boundaries.length + 1` counts, below the first boundary first. */
  priceCounts(query: ListingQuery, boundaries: readonly string[]): Promise<number[]>;
  availabilityCounts(query: ListingQuery): Promise<{ inStock: number; outOfStock: number }>;
}
