import { badUserInput } from "@catalog/common";
import type { Context } from "../context.ts";
import type { FacetSource } from "./listing.ts";

/** Price range boundaries when the operation names none. */
export const DEFAULT_PRICE_BOUNDARIES = ["10.00", "25.00", "50.00", "100.00", "250.00", "500.00"];
const MAX_BOUNDARIES = 20;

/** Cents as a decimal string: prices have two decimals, so a range's inclusive top is the next boundary less one cent. */
function centsToAmount(cents: bigint): string {
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

function toCents(amount: string): bigint {
  const [whole, fraction = ""] = amount.split(".");
  return BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, "0").slice(0, 2));
}

function parseBoundaries(raw: readonly string[] | null | undefined): string[] {
  const boundaries = raw ?? DEFAULT_PRICE_BOUNDARIES;
  if (boundaries.length === 0 || boundaries.length > MAX_BOUNDARIES) {
    throw badUserInput(`boundaries must hold 1 to ${MAX_BOUNDARIES} amounts.`, "boundaries");
  }
  const cents = boundaries.map((value) => {
    if (!/^\d{1,10}(\.\d{1,2})?$/.test(value) || toCents(value) === 0n) {
      throw badUserInput("boundaries must be positive amounts with at most 2 decimal places.", "boundaries");
    }
    return toCents(value);
  });
  if (cents.some((value, i) => i > 0 && value <= cents[i - 1]!)) {
    throw badUserInput("boundaries must be in ascending order, without repeats.", "boundaries");
  }
  return cents.map(centsToAmount);
}

/**
 * Each facet counts the products that match every filter but its own dimension's (disjunctive
 * faceting, as storefronts expect): picking a price range still shows what the other ranges hold.
 * So a value's count is exactly the `totalCount` the listing would have with that value chosen.
 */
export const ProductFacets = {
  async categories(source: FacetSource, _: unknown, ctx: Context) {
    const counts = await source.search.categoryCounts(source.query);
    const categories = await ctx.loaders.categoryById.loadMany(counts.map((row) => row.categoryId));
    return counts.flatMap((row, i) => {
      const category = categories[i];
      return category && !(category instanceof Error) ? [{ category, count: row.count }] : [];
    });
  },
  async priceRanges(source: FacetSource, args: { boundaries?: readonly string[] | null }) {
    const boundaries = parseBoundaries(args.boundaries);
    const counts = await source.search.priceCounts(source.query, boundaries);
    return counts.map((count, i) => ({
      minPrice: i === 0 ? null : boundaries[i - 1]!,
      maxPrice: i === boundaries.length ? null : centsToAmount(toCents(boundaries[i]!) - 1n),
      count,
    }));
  },
  availability(source: FacetSource) {
    return source.search.availabilityCounts(source.query);
  },
};
