/** DataLoader contract: one result per key, in key order, `null` where nothing matched. */
export function inKeyOrder<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => byKey.get(key) ?? null);
}

/** One (possibly empty) list per key, in key order. */
export function groupedInKeyOrder<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): V[][] {
  const groups = new Map<K, V[]>(keys.map((key) => [key, []]));
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((key) => groups.get(key) ?? []);
}

/** Key of a "newest `limit` children of `parentId`" loader. */
export interface TopKey {
  parentId: string;
  limit: number;
}

/** DataLoader cacheKeyFn for TopKey. */
export function topKey(key: TopKey): string {
  return `${key.parentId}:${key.limit}`;
}

/**
 * Batch function for "the newest N children of each parent" loaders. Keys in one batch usually
 * share a limit (one field selection); each distinct limit is one `fetch`, which must return at
 * most `limit` rows per parent, newest first.
 */
export async function batchTopPerParent<V>(
  keys: readonly TopKey[],
  fetch: (parentIds: string[], limit: number) => Promise<V[]>,
  parentOf: (row: V) => string,
): Promise<V[][]> {
  const byLimit = new Map<number, string[]>();
  for (const { parentId, limit } of keys) byLimit.set(limit, [...(byLimit.get(limit) ?? []), parentId]);
  const result = new Map<string, V[]>(keys.map((key) => [topKey(key), []]));
  for (const [limit, parentIds] of byLimit) {
    for (const row of await fetch(parentIds, limit)) result.get(topKey({ parentId: parentOf(row), limit }))?.push(row);
  }
  return keys.map((key) => result.get(topKey(key)) ?? []);
}

interface RawQueryClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

const camelCase = (column: string) => column.replace(/_([a-z])/g, (_, char: string) => char.toUpperCase());

/**
 * The newest `limit` rows per parent, in one statement: a window function, which Prisma's query
 * API cannot express. Each column comes back under its camelCase name, as Prisma models name
 * them. `table` and the columns are identifiers from our own code, never input (hence the
 * types); the values are bound parameters.
 */
export function newestPerParent<Row>(
  client: RawQueryClient,
  table: "stock_movements",
  columns: readonly string[],
  parentIds: string[],
  limit: number,
): Promise<Row[]> {
  const select = columns.map((column) => `"${column}" AS "${camelCase(column)}"`).join(", ");
  return client.$queryRawUnsafe<Row[]>(
    `SELECT ${select} FROM (
       SELECT *, row_number() OVER (PARTITION BY product_id ORDER BY created_at DESC, id DESC) AS n
       FROM ${table} WHERE product_id = ANY($1::uuid[])
     ) ranked WHERE n <= $2 ORDER BY product_id, created_at DESC, id DESC`,
    parentIds,
    limit,
  );
}

/**
 * A row a foreign key guarantees (a product's category, a review's product), for a non-null
 * field: its absence is a fault in the data, answered as an internal error on that field alone.
 */
export async function required<V>(row: Promise<V | null>, what: string): Promise<V> {
  const value = await row;
  if (value === null) throw new Error(`${what} is missing`);
  return value;
}
