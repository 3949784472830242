import { createHash } from "node:crypto";
import { badUserInput, decodeCursor, encodeCursor, isUuid, parseCursorDate, type Database } from "@catalog/common";
import { reviewSummaryOf } from "../loaders.ts";
import { REVIEW_SUMMARY_COLUMNS, VISIBLE_REVIEW } from "../review-pages.ts";
import { Prisma, type Product } from "../prisma.ts";
import type { CatalogSearch, FacetDimension, ListingEntry, ListingQuery, ProductSort, TextPart } from "./types.ts";

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
  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(" AND ")}` : "";
  }
}

/** A products row as the driver returns it, columns named as Prisma's Product. */
type ProductRow = Omit<Product, "priceAmount"> & { priceAmount: string };
type ListingRow = ProductRow & {
  sortKey: unknown;
  reviewCount?: number;
  reviewAverage?: number | null;
  nameMarked?: string | null;
  descriptionMarked?: string | null;
  nameWords?: string[] | null;
};

/** What ts_headline puts around a match: characters no product text holds (validation.ts refuses them). */
const MARK_START = "\u0001";
const MARK_STOP = "\u0002";

/** Text with the matches marked (MARK_START ... MARK_STOP) as parts; none marked is null. */
export function markedParts(marked: string | null | undefined): TextPart[] | null {
  if (!marked) return null;
  const parts: TextPart[] = [];
  for (const [i, piece] of marked.split(new RegExp(`[${MARK_START}${MARK_STOP}]`)).entries()) {
    if (piece) parts.push({ text: piece, match: i % 2 === 1 });
  }
  return parts.some((part) => part.match) ? parts : null;
}

/** A name split into parts, the words in `matched` (lower case) marked. */
function wordParts(name: string, matched: readonly string[]): TextPart[] {
  const set = new Set(matched);
  const parts: TextPart[] = [];
  for (const piece of name.split(/([\p{L}\p{N}]+)/u)) {
    if (!piece) continue;
    const match = set.has(piece.toLowerCase());
    const last = parts.at(-1);
    if (last && last.match === match) last.text += piece;
    else parts.push({ text: piece, match });
  }
  return parts;
}

const PRODUCT_COLUMNS = `p.id::text AS id, p.sku, p.name, p.description, p.price_amount::text AS "priceAmount", p.currency,
  p.image_urls AS "imageUrls", p.weight_grams AS "weightGrams", p.status::text AS status, p.category_id::text AS "categoryId",
  p.created_at AS "createdAt", p.updated_at AS "updatedAt"`;

const IN_STOCK = `EXISTS (SELECT 1 FROM product_stock s WHERE s.product_id = p.id AND s.available > 0)`;

function parseAmount(raw: string): string | undefined {
  return /^\d{1,10}\.\d{2}$/.test(raw) ? raw : undefined;
}

/** The words of a term for the typo-tolerant match: no operators (`or`, `-excluded`), no punctuation. */
function plainWords(term: string): string[] {
  return term
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word !== "or" && !word.startsWith("-"))
    .flatMap((word) => word.split(/[^\p{L}\p{N}]+/u))
    .filter(Boolean)
    .slice(0, 8);
}

/**
 * How a term matches. `words`: full-text (stemmed words, websearch syntax: quoted phrases, `or`,
 * `-word`) over the weighted vector, GIN-indexed. `spelling`, only when no product matches the
 * words (a typo, an unfinished word): every word of the term close to a word of the name
 * (pg_trgm's `<%`, word similarity at least 0.45, a session setting; trigram-indexed), so "blue
 * kettle" never matches every other kettle. Deciding first keeps a common word from paying for
 * similarity over thousands of names it already matches exactly.
 */
type Match = "words" | "spelling";

function addSearch(where: Conditions, term: string, match: Match): () => string {
  let score: () => string;
  if (match === "words") {
    const query = `websearch_to_tsquery('english', ${where.value(term)})`;
    where.add(`p.search_vector @@ ${query}`);
    // Weighted rank: A name/SKU 1.0, B category 0.4, C description 0.2; longer documents count less.
    score = () => `ts_rank('{0.1, 0.2, 0.4, 1.0}', p.search_vector, ${query}, 1)`;
  } else {
    const words = plainWords(term).map((word) => `${where.value(word)}::text <% lower(p.name)`);
    where.add(words.length ? `(${words.join(" AND ")})` : "false");
    score = () => `word_similarity(${where.value(term.toLowerCase())}::text, lower(p.name))`;
  }
  // Relevance: an exact name first, then the score. Rounded, so that a cursor holds the exact value
  // the next page compares with. Built on demand: counts do not rank, and a parameter no statement
  // uses has no type PostgreSQL can infer.
  return () => `round((CASE WHEN lower(p.name) = ${where.value(term.toLowerCase())}::text THEN 1 ELSE 0 END + ${score()})::numeric, 6)`;
}

/** The query's filters as SQL, leaving out one dimension's when a facet counts under the rest. */
function conditions(query: ListingQuery, match: Match, without?: FacetDimension): { where: Conditions; rank: (() => string) | undefined } {
  const where = new Conditions();
  where.add(`p.status = ${where.value(query.status)}::"ProductStatus"`);
  if (without !== "price") {
    if (query.minPrice !== undefined) where.add(`p.price_amount >= ${where.value(query.minPrice)}::numeric`);
    if (query.maxPrice !== undefined) where.add(`p.price_amount <= ${where.value(query.maxPrice)}::numeric`);
  }
  const rank = query.search ? addSearch(where, query.search, match) : undefined;
  const category = query.category;
  if (category && without !== "category") {
    // The category and the ones below it, by materialised path, in the same statement; an unknown
    // category matches nothing, like any other filter value that matches nothing.
    const id = where.value(category.id);
    where.add(
      category.includeSubcategories
        ? `p.category_id IN (SELECT c.id FROM categories c JOIN categories f ON starts_with(c.path, f.path) WHERE f.id = ${id}::uuid)`
        : `p.category_id = ${id}::uuid`,
    );
  }
  if (query.inStock !== undefined && without !== "availability") where.add(query.inStock ? IN_STOCK : `NOT ${IN_STOCK}`);
  return { where, rank };
}

/**
 * The page's highlight columns (over the page subquery `l`). Words: ts_headline marks the matched
 * words of the whole name, and up to two passages of the description around its matches. Spelling:
 * the words of the name close to a word of the term (the `<%` the match used), as a list.
 */
function highlightColumns(where: Conditions, term: string, match: Match): string {
  const marks = `StartSel=${MARK_START}, StopSel=${MARK_STOP}`;
  if (match === "words") {
    // Any of the term's words, not all: a passage shows the words it holds even where the others
    // are only in the name. (The query's text form, its AND turned into OR; its lexemes are stemmed.)
    const query = `replace(websearch_to_tsquery('english', ${where.value(term)})::text, ' & ', ' | ')::tsquery`;
    return `ts_headline('english', l.name, ${query}, ${where.value(`HighlightAll=true, ${marks}`)}) AS "nameMarked",
      ts_headline('english', l.description, ${query}, ${where.value(`MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter=" … ", ${marks}`)}) AS "descriptionMarked"`;
  }
  return `(SELECT array_agg(DISTINCT w) FROM regexp_split_to_table(lower(l.name), '[^[:alnum:]]+') w
      WHERE w <> '' AND EXISTS (SELECT 1 FROM unnest(${where.value(plainWords(term))}::text[]) q WHERE q <% w)) AS "nameWords"`;
}

interface Ordering {
  /** The SQL the rows are ordered by (the id breaks ties, in the same direction). */
  key(rank: (() => string) | undefined): string;
  /** How a cursor value is compared: its SQL type. */
  cast: "timestamptz" | "numeric" | "text";
  direction: "asc" | "desc";
  value(row: ListingRow): string;
  /** undefined when a (tampered) cursor holds a value this ordering could not have written. */
  parse(raw: string): unknown;
}

/**
 * Keyset pagination: each ordering names its key, direction and how a row becomes a cursor.
 * The id breaks ties, so pages never skip or repeat rows that share a price, a name or a rank.
 */
const ORDERINGS: Record<ProductSort, Ordering> = {
  RELEVANCE: {
    key: (rank) => rank?.() ?? "0",
    cast: "numeric",
    direction: "desc",
    value: (row) => String(row.sortKey),
    parse: (raw) => (/^\d{1,6}\.\d{1,6}$|^\d{1,6}$/.test(raw) ? raw : undefined),
  },
  NEWEST: { key: () => "p.created_at", cast: "timestamptz", direction: "desc", value: (row) => row.createdAt.toISOString(), parse: parseCursorDate },
  PRICE_ASC: { key: () => "p.price_amount", cast: "numeric", direction: "asc", value: (row) => row.priceAmount, parse: parseAmount },
  PRICE_DESC: { key: () => "p.price_amount", cast: "numeric", direction: "desc", value: (row) => row.priceAmount, parse: parseAmount },
  NAME_ASC: { key: () => "p.name", cast: "text", direction: "asc", value: (row) => row.name, parse: (raw) => (raw.length <= 200 ? raw : undefined) },
};

/**
 * A relevance cursor belongs to its search term and match (words or spelling): ranks of another
 * term, or of the same term matched the other way (the catalog changed between pages), are not
 * comparable.
 */
function cursorKind(query: ListingQuery, match: Match): string {
  if (query.sort !== "RELEVANCE") return `products:${query.sort}`;
  return `products:RELEVANCE:${match === "words" ? "" : "~"}${createHash("sha256").update(query.search ?? "").digest("base64url").slice(0, 12)}`;
}

export function postgresSearch(db: Database): CatalogSearch {
  // Per listing (the query object a request's page, count and facets share): words or spelling.
  const matches = new WeakMap<ListingQuery, Promise<Match>>();
  function matchOf(query: ListingQuery): Promise<Match> {
    let match = matches.get(query);
    if (!match) {
      match = (async (): Promise<Match> => {
        if (!query.search) return "words";
        // On the term alone (and the status): the filters and facet choices must not switch the
        // match, or a facet's count, taken without its own filter, could match differently from
        // the listing that choosing it gives.
        const { where } = conditions({ status: query.status, search: query.search, sort: query.sort }, "words");
        const [row] = await db.read<{ found: boolean }>(`SELECT EXISTS (SELECT 1 FROM products p ${where.sql}) AS found`, where.params);
        return row?.found ? "words" : "spelling";
      })();
      matches.set(query, match);
    }
    return match;
  }

  async function filtered(query: ListingQuery, without?: FacetDimension) {
    return conditions(query, await matchOf(query), without);
  }

  async function count(query: ListingQuery): Promise<number> {
    const { where } = await filtered(query);
    const [row] = await db.read<{ count: number }>(`SELECT count(*)::int AS count FROM products p ${where.sql}`, where.params);
    return row?.count ?? 0;
  }

  return {
    async page(query, { first, after, withSummaries, withHighlights }) {
      const ordering = ORDERINGS[query.sort];
      const match = await matchOf(query);
      const kind = cursorKind(query, match);
      const { where, rank } = conditions(query, match);
      const key = ordering.key(rank);
      const direction = ordering.direction.toUpperCase();
      const last = decodeCursor(after, kind, 2);
      if (last) {
        const [rawValue, lastId] = last;
        const value = typeof rawValue === "string" ? ordering.parse(rawValue) : undefined;
        if (value === undefined || !isUuid(lastId)) {
          throw badUserInput("Argument \"after\" is not a cursor this list issued.", "after");
        }
        const beyond = ordering.direction === "asc" ? ">" : "<";
        const cursorValue = `${where.value(value instanceof Date ? value.toISOString() : value)}::${ordering.cast}`;
        where.add(`(${key} ${beyond} ${cursorValue} OR (${key} = ${cursorValue} AND p.id ${beyond} ${where.value(lastId)}::uuid))`);
      }
      // One statement straight to the driver: Prisma's client cost more CPU per listing than
      // PostgreSQL spends answering it. A listing that shows review summaries (most do) gets them
      // in the same statement, joined to the page only: one round trip, not two.
      const pageSql = `SELECT ${PRODUCT_COLUMNS}, ${key} AS "sortKey" FROM products p ${where.sql}
        ORDER BY ${key} ${direction}, p.id ${direction} LIMIT ${where.value(first + 1)}`;
      // Highlights, like summaries, are computed for the page's rows only, around the page query.
      const highlight = withHighlights && query.search ? highlightColumns(where, query.search, match) : undefined;
      const rows = await db.read<ListingRow>(
        withSummaries || highlight
          ? `SELECT l.*${withSummaries ? `, s.count AS "reviewCount", s.average AS "reviewAverage"` : ""}${highlight ? `, ${highlight}` : ""}
             FROM (${pageSql}) l
             ${withSummaries ? `LEFT JOIN LATERAL (SELECT ${REVIEW_SUMMARY_COLUMNS} FROM reviews r WHERE r.product_id = l.id::uuid AND ${VISIBLE_REVIEW}) s ON true` : ""}
             ORDER BY l."sortKey" ${direction}, l.id ${direction}`
          : pageSql,
        where.params,
      );
      const entries = rows.slice(0, first).map((row): ListingEntry => {
        const { reviewCount, reviewAverage, sortKey: _key, nameMarked, descriptionMarked, nameWords, ...product } = row;
        return {
          product: { ...product, priceAmount: new Prisma.Decimal(product.priceAmount) },
          cursor: encodeCursor(kind, [ordering.value(row), row.id]),
          ...(withSummaries ? { reviewSummary: reviewSummaryOf(reviewCount, reviewAverage) } : {}),
          ...(highlight
            ? {
                highlight: {
                  name: match === "words" ? (markedParts(nameMarked) ?? [{ text: product.name, match: false }]) : wordParts(product.name, nameWords ?? []),
                  description: markedParts(descriptionMarked),
                },
              }
            : {}),
        };
      });
      return { entries, hasNextPage: rows.length > first };
    },

    count: (query) => count(query),

    async categoryCounts(query) {
      const { where } = await filtered(query, "category");
      // Counted per leaf first (one pass over the matches), then rolled up the tree.
      return db.read<{ categoryId: string; count: number }>(
        `WITH leaf AS (SELECT p.category_id, count(*) AS n FROM products p ${where.sql} GROUP BY p.category_id)
         SELECT a.id::text AS "categoryId", sum(leaf.n)::int AS count
         FROM leaf JOIN categories c ON c.id = leaf.category_id JOIN categories a ON starts_with(c.path, a.path)
         GROUP BY a.id, a.depth, a.name
         ORDER BY a.depth, a.name, a.id`,
        where.params,
      );
    },

    async priceCounts(query, boundaries) {
      const { where } = await filtered(query, "price");
      const rows = await db.read<{ bucket: number; count: number }>(
        `SELECT width_bucket(p.price_amount, ${where.value(boundaries)}::numeric[]) AS bucket, count(*)::int AS count
         FROM products p ${where.sql} GROUP BY 1`,
        where.params,
      );
      const counts = new Array<number>(boundaries.length + 1).fill(0);
      for (const row of rows) counts[row.bucket] = row.count;
      return counts;
    },

    async availabilityCounts(query) {
      const { where } = await filtered(query, "availability");
      const [row] = await db.read<{ inStock: number; total: number }>(
        `SELECT count(*) FILTER (WHERE ${IN_STOCK})::int AS "inStock", count(*)::int AS total FROM products p ${where.sql}`,
        where.params,
      );
      return { inStock: row?.inStock ?? 0, outOfStock: (row?.total ?? 0) - (row?.inStock ?? 0) };
    },
  };
}
