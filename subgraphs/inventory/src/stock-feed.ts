import { badUserInput, isUuid, type Database } from "@catalog/common";

export interface StockChange {
  productId: string;
  available: number;
  version: string;
}

const START = { xid: "0", productId: "00000000-0000-0000-0000-000000000000" };
const MAX_PAGE = 1000;

/** A feed position is "<transaction id>:<product id>", the last change a reader has seen. */
function parsePosition(raw: string | null | undefined): { xid: string; productId: string } {
  if (raw === null || raw === undefined) return START;
  const match = /^(\d{1,20}):([0-9a-fA-F-]{36})$/.exec(raw);
  if (!match || !isUuid(match[2])) throw badUserInput("Argument \"after\" is not a position this feed issued.", "after");
  return { xid: match[1]!, productId: match[2]!.toLowerCase() };
}

/**
 * Stock rows changed after a position, in the order of the transactions that changed them. Only
 * transactions older than every one still running are read (pg_snapshot_xmin): a transaction that
 * began earlier but commits later than others would otherwise land behind a cursor that already
 * moved past it. A row changed twice shows once, at its latest change.
 */
export async function stockChanges(db: Database, after: string | null | undefined, first: number | null | undefined) {
  const limit = first ?? 500;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw badUserInput(`Argument "first" must be between 1 and ${MAX_PAGE}.`, "first");
  }
  const from = parsePosition(after);
  // db.query, not db.read: the feed is background traffic, not the request path tests watch.
  const changes = await db.query<StockChange>(
    `SELECT product_id::text AS "productId", greatest(on_hand - reserved, 0) AS available, changed_xid::text AS version
     FROM stock_items
     WHERE (changed_xid, product_id) > ($1::xid8, $2::uuid) AND changed_xid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY changed_xid, product_id
     LIMIT $3`,
    [from.xid, from.productId, limit],
  );
  const last = changes[changes.length - 1];
  return { changes, position: last ? `${last.version}:${last.productId}` : `${from.xid}:${from.productId}` };
}
