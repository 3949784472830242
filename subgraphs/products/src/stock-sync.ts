import { randomUUID } from "node:crypto";
import { peerClient, SERVICE_SCOPES, signServiceIdentity, type CacheInvalidator, type Database, type Logger, type PeerUrls } from "@catalog/common";
import { AVAILABILITY_LISTS } from "./listing-tags.ts";

const PAGE = 500;
const STARTUP_GRACE_MS = 60_000;
const FEED = `query ($after: String, $first: Int) { stockChanges(after: $after, first: $first) { position changes { productId available version } } }`;

interface FeedPage {
  stockChanges: { position: string; changes: StockChange[] };
}

export interface StockChange {
  productId: string;
  available: number;
  version: string;
}

/**
 * Applies one page of the feed and the position after it, in one statement: a row only ever moves
 * to a newer version, so a repeated or late page changes nothing. Answers the products that
 * crossed between in stock and out of stock (what cached listings and facets show).
 */
export async function applyStockChanges(db: Database, changes: readonly StockChange[], position: string): Promise<string[]> {
  const { rows } = await db.execute(
    `WITH incoming AS (
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[]) AS i(product_id, available, version)
     ), before AS (
       SELECT s.product_id, s.available > 0 AS was_in_stock FROM product_stock s JOIN incoming USING (product_id)
     ), applied AS (
       INSERT INTO product_stock (product_id, available, version, synced_at)
       SELECT product_id, available, version, now() FROM incoming
       ON CONFLICT (product_id) DO UPDATE
         SET available = EXCLUDED.available, version = EXCLUDED.version, synced_at = now()
         WHERE product_stock.version < EXCLUDED.version
       RETURNING product_id, available > 0 AS in_stock
     ), moved AS (
       INSERT INTO stock_feed_cursor (id, position, updated_at) VALUES (1, $4, now())
       ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
     )
     SELECT a.product_id::text AS "productId" FROM applied a LEFT JOIN before b USING (product_id)
     WHERE a.in_stock IS DISTINCT FROM coalesce(b.was_in_stock, false)`,
    [changes.map((c) => c.productId), changes.map((c) => c.available), changes.map((c) => c.version), position],
  );
  return (rows as { productId: string }[]).map((row) => row.productId);
}

export interface StockSync {
  /** Reads the feed to its end now (what each interval does). Resolves to the changes applied. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Keeps `product_stock`, this subgraph's replica of what inventory has available, close behind
 * inventory (docs/decisions/0022). Facets and the inStock filter count over the catalog's own rows
 * with one join; asking inventory about every product a search matches would not scale.
 *
 * Every step is safe to repeat: a page is applied in one statement together with the new feed
 * position, and a row only ever moves to a newer version, so a crash, a retry or two instances
 * reading the same page leave the replica as one reading would. When inventory cannot be reached,
 * the replica keeps its last state (availability facets lag; checkout still asks inventory itself).
 */
export function startStockSync(options: {
  db: Database;
  peers: PeerUrls;
  internalSecret: string;
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
  /** Purges cached listings when a product comes into or goes out of stock. */
  cache: CacheInvalidator;
}): StockSync {
  const { db, logger } = options;
  const call = peerClient("inventory", () => options.peers("inventory"), { timeoutMs: options.timeoutMs });
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failing = false;
  let reached = false;
  const startedAt = Date.now();

  async function readToEnd(): Promise<number> {
    const identityToken = signServiceIdentity(options.internalSecret, [SERVICE_SCOPES.STOCK_FEED]);
    // Not db.read: that is the request path, which tests watch statement by statement.
    const [cursor] = await db.query<{ position: string }>(`SELECT position FROM stock_feed_cursor WHERE id = 1`);
    let after: string | null = cursor?.position ?? null;
    let applied = 0;
    for (;;) {
      const { data } = await call<FeedPage>({ requestId: `stock-sync-${randomUUID()}`, identityToken }, FEED, { after, first: PAGE });
      const { changes, position } = data.stockChanges;
      if (changes.length === 0) return applied;
      const ids = await applyStockChanges(db, changes, position);
      // Only the listings: a product's own answers come from inventory, which purges them itself.
      if (ids.length) await options.cache.invalidate(AVAILABILITY_LISTS);
      applied += changes.length;
      after = position;
      if (changes.length < PAGE) return applied;
    }
  }

  function runOnce(): Promise<number> {
    // One reading at a time per process; a second caller waits for the one under way.
    running ??= readToEnd().finally(() => {
      running = undefined;
    });
    return running;
  }

  async function tick() {
    try {
      const applied = await runOnce();
      if (failing) logger.info("stock feed reachable again");
      failing = false;
      reached = true;
      if (applied) logger.debug({ applied }, "availability updated from the stock feed");
    } catch (error) {
      // One warning per outage, not one per interval; while a system starts, inventory may simply
      // not be listening yet, so the first minute before any answer is not an outage.
      if (!failing && (reached || Date.now() - startedAt > STARTUP_GRACE_MS)) {
        logger.warn({ err: error }, "stock feed unavailable; availability facets keep their last state");
        failing = true;
      }
    }
    if (!stopped) timer = setTimeout(tick, options.intervalMs).unref();
  }

  if (options.intervalMs > 0) timer = setTimeout(tick, 0).unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
