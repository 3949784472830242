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
export function topKey(parentId: string, limit: number): string {
  return `${parentId}:${limit}`;
}

/**
 * Batch function for "the newest N children of each parent" loaders keyed by `topKey`. Keys in
 * one batch usually share a limit (one field selection); each distinct limit is one `fetch`, which
 * must return at most `limit` rows per parent, newest first.
 */
export async function batchTopPerParent<V>(
  keys: readonly string[],
  fetch: (parentIds: string[], limit: number) => Promise<V[]>,
  parentOf: (row: V) => string,
): Promise<V[][]> {
  const byLimit = new Map<number, string[]>();
  for (const key of keys) {
    const separator = key.lastIndexOf(":");
    const limit = Number(key.slice(separator + 1));
    byLimit.set(limit, [...(byLimit.get(limit) ?? []), key.slice(0, separator)]);
  }
  const result = new Map<string, V[]>(keys.map((key) => [key, []]));
  for (const [limit, parentIds] of byLimit) {
    for (const row of await fetch(parentIds, limit)) result.get(topKey(parentOf(row), limit))?.push(row);
  }
  return keys.map((key) => result.get(key) ?? []);
}

interface RawQueryClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

/**
 * Ids of the newest `limit` rows per parent, in one statement: a window function, which Prisma's
 * query API cannot express. `table` and `parentColumn` are identifiers from our own code, never
 * input (hence the type); the values are bound parameters.
 */
export async function newestIdsPerParent(
  client: RawQueryClient,
  table: "reviews" | "stock_movements",
  parentColumn: "product_id",
  parentIds: string[],
  limit: number,
): Promise<string[]> {
  const rows = await client.$queryRawUnsafe<{ id: string }[]>(
    `SELECT id FROM (
       SELECT id, row_number() OVER (PARTITION BY ${parentColumn} ORDER BY created_at DESC, id DESC) AS n
       FROM ${table} WHERE ${parentColumn} = ANY($1::uuid[])
     ) ranked WHERE n <= $2`,
    parentIds,
    limit,
  );
  return rows.map((row) => row.id);
}
