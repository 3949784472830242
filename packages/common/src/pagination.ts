import { badUserInput } from "./errors.ts";
import { isUuid } from "./ids.ts";

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export function parseFirst(first: number | null | undefined, argument = "first"): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput(
      `Argument "${argument}" must be between 1 and ${MAX_PAGE_SIZE}, got ${first}.`,
      argument,
    );
  }
  return first;
}

/**
 * Cursors are opaque to clients: base64url of a JSON tuple naming the ordering they belong to and
 * the keyset values of the last row seen. A cursor from another ordering, or one we did not
 * issue, is rejected rather than silently restarting the list.
 */
export function encodeCursor(kind: string, values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...values])).toString("base64url");
}

export function decodeCursor(
  cursor: string | null | undefined,
  kind: string,
  arity: number,
  argument = "after",
): (string | number)[] | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  // Echo at most a prefix: a rejected cursor may be arbitrarily long.
  const shown = typeof cursor === "string" && cursor.length > 40 ? `${cursor.slice(0, 40)}...` : cursor;
  const invalid = () =>
    badUserInput(`Argument "${argument}" is not a cursor this list issued: ${JSON.stringify(shown)}.`, argument);
  if (typeof cursor !== "string" || cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== arity + 1 ||
    parsed[0] !== kind ||
    !parsed.slice(1).every((v) => typeof v === "string" || typeof v === "number")
  ) {
    throw invalid();
  }
  return parsed.slice(1) as (string | number)[];
}

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

/** A connection whose `totalCount` is counted only when a query selects it. */
export interface CountedConnection<T> extends Connection<T> {
  totalCount: () => Promise<number>;
}

/** Builds a connection from `first + 1` fetched rows: the extra row only says there is a next page. */
export function toConnection<T>(
  rows: T[],
  first: number,
  cursorOf: (row: T) => string,
): Connection<T> {
  const page = rows.slice(0, first);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > first,
      endCursor: edges.length ? edges[edges.length - 1]!.cursor : null,
    },
  };
}

/**
 * Prisma's `contains` becomes `LIKE '%' || value || '%'`, where `%` and `_` in the value are
 * wildcards. A search for "100%" means those characters literally, so escape them (and the
 * escape character itself, backslash, Postgres' default).
 */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}

const ISO_WRITTEN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * A timestamp from a cursor, accepted only in the exact form we write (toISOString of a date
 * PostgreSQL can store). Anything else, e.g. year +275760, is a forged cursor.
 */
export function parseCursorDate(raw: unknown): Date | undefined {
  if (typeof raw !== "string" || !ISO_WRITTEN.test(raw)) return undefined;
  const date = new Date(raw);
  return !Number.isNaN(date.getTime()) && date.toISOString() === raw ? date : undefined;
}

/** A row's place in a list ordered by creation time, its id breaking ties. */
export interface TimeKey {
  createdAt: Date;
  id: string;
}

/** A connection over rows ordered by (createdAt, id), its cursors of kind `kind`. */
export function timeConnection<T extends TimeKey>(rows: T[], first: number, kind: string): Connection<T> {
  return toConnection(rows, first, (row) => encodeCursor(kind, [row.createdAt.toISOString(), row.id]));
}

/** The (createdAt, id) an `after` cursor of `timeConnection` names; BAD_USER_INPUT for any other. */
export function decodeTimeCursor(cursor: string | null | undefined, kind: string, argument = "after"): TimeKey | undefined {
  const values = decodeCursor(cursor, kind, 2, argument);
  if (!values) return undefined;
  const createdAt = parseCursorDate(values[0]);
  if (!createdAt || !isUuid(values[1])) throw badUserInput(`Argument "${argument}" is not a cursor this list issued.`, argument);
  return { createdAt, id: values[1].toLowerCase() };
}
