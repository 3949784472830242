import { badUserInput, conflict, notFound, WRITE_TRANSACTION } from "@catalog/common";
import type { InventoryPrisma } from "./prisma.ts";

/**
 * Stock held for orders. Every call is keyed by the order id and safe to repeat: the orders
 * subgraph (the saga's coordinator) may call twice after a timeout, or a recovery job may call
 * after a crash, and the stock moves once. See docs/decisions/0009.
 *
 * reserve:  all lines or none; a second call returns the first call's reservation unchanged.
 * release:  HELD -> RELEASED (reserved drops). Unknown order -> a RELEASED tombstone, so a late
 *           reserve for that order can never take stock afterwards. Already released: no-op.
 * commit:   HELD -> COMMITTED (on hand and reserved both drop: sold). Already committed: no-op.
 */

export interface StockLine {
  productId: string;
  quantity: number;
}

export interface ReservationView {
  orderId: string;
  status: "HELD" | "COMMITTED" | "RELEASED";
  lines: StockLine[];
}

export interface Shortage {
  productId: string;
  requested: number;
  available: number;
}

export type ReserveOutcome = { ok: true; reservation: ReservationView } | { ok: false; shortages: Shortage[] };

/** Orders are bounded by the orders subgraph; this is inventory's own backstop. */
const MAX_LINES = 100;
const MAX_QUANTITY = 10_000;

type Tx = Parameters<Parameters<InventoryPrisma["$transaction"]>[0]>[0];

class ShortageRollback extends Error {
  constructor(readonly shortages: Shortage[]) {
    super("insufficient stock");
  }
}

export function validateLines(lines: readonly StockLine[]): StockLine[] {
  if (lines.length === 0 || lines.length > MAX_LINES) throw badUserInput(`An order holds 1 to ${MAX_LINES} lines.`, "lines");
  const seen = new Set<string>();
  for (const line of lines) {
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      throw badUserInput(`quantity must be a whole number from 1 to ${MAX_QUANTITY}.`, "quantity");
    }
    if (seen.has(line.productId)) throw badUserInput("Each product may appear once.", "lines");
    seen.add(line.productId);
  }
  // Rows are locked in one global order (by product id), so concurrent reservations of
  // overlapping products can wait for each other but never deadlock.
  return [...lines].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

/** The audit row of units held for an order: `reserved` rises, on hand does not move. */
export function reservedMovement(orderId: string, line: StockLine, onHandAfter: number) {
  return {
    productId: line.productId,
    delta: 0,
    reservedDelta: line.quantity,
    reason: "RESERVED" as const,
    onHandAfter,
    orderId,
    note: `Held for order ${orderId}`,
  };
}

async function view(tx: Tx | InventoryPrisma, orderId: string): Promise<ReservationView | null> {
  const row = await tx.reservation.findUnique({ where: { orderId }, include: { lines: true } });
  if (!row) return null;
  return {
    orderId,
    status: row.status,
    lines: row.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })).sort((a, b) => (a.productId < b.productId ? -1 : 1)),
  };
}

/** Locks the reservation row (waits for a concurrent call on the same order to finish). */
async function lockReservation(tx: Tx, orderId: string): Promise<ReservationView["status"] | null> {
  const rows = await tx.$queryRaw<{ status: ReservationView["status"] }[]>`
    SELECT status::text AS status FROM reservations WHERE order_id = ${orderId}::uuid FOR UPDATE`;
  return rows[0]?.status ?? null;
}

export async function reserveStock(prisma: InventoryPrisma, orderId: string, input: readonly StockLine[]): Promise<ReserveOutcome> {
  const lines = validateLines(input);
  try {
    return await prisma.$transaction(async (tx) => {
      // The order id is the idempotency key: a concurrent duplicate waits here for the first to
      // commit, then finds its reservation below.
      const inserted = await tx.$executeRaw`
        INSERT INTO reservations (order_id, status, created_at, updated_at)
        VALUES (${orderId}::uuid, 'HELD', now(), now()) ON CONFLICT (order_id) DO NOTHING`;
      if (inserted === 0) {
        const existing = await view(tx, orderId);
        return { ok: true as const, reservation: existing! };
      }
      const shortages: Shortage[] = [];
      const levels = new Map<string, { onHand: number; reserved: number }>();
      for (const line of lines) {
        if (shortages.length > 0) {
          // Already failing: only find out what else is short, to name every line at once.
          const current = await tx.stockItem.findUnique({ where: { productId: line.productId } });
          const available = Math.max(0, (current?.onHand ?? 0) - (current?.reserved ?? 0));
          if (available < line.quantity) shortages.push({ ...line, requested: line.quantity, available });
          continue;
        }
        // One statement checks and takes: two reservations can never both pass against the same units.
        const rows = await tx.$queryRaw<{ on_hand: number; reserved: number }[]>`
          UPDATE stock_items SET reserved = reserved + ${line.quantity}, updated_at = now()
          WHERE product_id = ${line.productId}::uuid AND on_hand - reserved >= ${line.quantity}
          RETURNING on_hand, reserved`;
        const row = rows[0];
        if (row) {
          levels.set(line.productId, { onHand: row.on_hand, reserved: row.reserved });
        } else {
          const current = await tx.stockItem.findUnique({ where: { productId: line.productId } });
          shortages.push({ productId: line.productId, requested: line.quantity, available: Math.max(0, (current?.onHand ?? 0) - (current?.reserved ?? 0)) });
        }
      }
      if (shortages.length > 0) throw new ShortageRollback(shortages);
      await tx.reservationLine.createMany({ data: lines.map((line) => ({ orderId, ...line })) });
      await tx.stockMovement.createMany({ data: lines.map((line) => reservedMovement(orderId, line, levels.get(line.productId)!.onHand)) });
      return { ok: true as const, reservation: { orderId, status: "HELD" as const, lines } };
    }, WRITE_TRANSACTION);
  } catch (error) {
    // Nothing was written: the transaction, header row included, rolled back.
    if (error instanceof ShortageRollback) return { ok: false, shortages: error.shortages };
    throw error;
  }
}

export async function releaseStock(prisma: InventoryPrisma, orderId: string, reason: string): Promise<ReservationView> {
  return prisma.$transaction(async (tx) => {
    // A release for an order never reserved (its reserve call lost or still in flight) leaves a
    // tombstone: that order's reserve can never succeed afterwards.
    await tx.$executeRaw`
      INSERT INTO reservations (order_id, status, created_at, updated_at)
      VALUES (${orderId}::uuid, 'RELEASED', now(), now()) ON CONFLICT (order_id) DO NOTHING`;
    const status = await lockReservation(tx, orderId);
    if (status === "COMMITTED") throw conflict(`The stock of order ${orderId} was already sold; it cannot be released.`);
    if (status === "HELD") {
      const lines = await tx.reservationLine.findMany({ where: { orderId }, orderBy: { productId: "asc" } });
      const movements = [];
      for (const line of lines) {
        const rows = await tx.$queryRaw<{ on_hand: number }[]>`
          UPDATE stock_items SET reserved = reserved - ${line.quantity}, updated_at = now()
          WHERE product_id = ${line.productId}::uuid RETURNING on_hand`;
        movements.push({
          productId: line.productId,
          delta: 0,
          reservedDelta: -line.quantity,
          reason: "RELEASED" as const,
          onHandAfter: rows[0]!.on_hand,
          orderId,
          note: reason.slice(0, 500),
        });
      }
      await tx.stockMovement.createMany({ data: movements });
      await tx.reservation.update({ where: { orderId }, data: { status: "RELEASED" } });
    }
    return (await view(tx, orderId))!;
  }, WRITE_TRANSACTION);
}

export async function commitStock(prisma: InventoryPrisma, orderId: string): Promise<ReservationView> {
  return prisma.$transaction(async (tx) => {
    const status = await lockReservation(tx, orderId);
    if (status === null) throw notFound(`No stock is held for order ${orderId}.`);
    if (status === "RELEASED") throw conflict(`The stock of order ${orderId} was released; it cannot be sold.`);
    if (status === "HELD") {
      const lines = await tx.reservationLine.findMany({ where: { orderId }, orderBy: { productId: "asc" } });
      const movements = [];
      for (const line of lines) {
        // The CHECK constraints (on_hand >= reserved >= 0) hold: these units were reserved.
        const rows = await tx.$queryRaw<{ on_hand: number }[]>`
          UPDATE stock_items SET on_hand = on_hand - ${line.quantity}, reserved = reserved - ${line.quantity}, updated_at = now()
          WHERE product_id = ${line.productId}::uuid RETURNING on_hand`;
        movements.push({
          productId: line.productId,
          delta: -line.quantity,
          reservedDelta: -line.quantity,
          reason: "SOLD" as const,
          onHandAfter: rows[0]!.on_hand,
          orderId,
          note: `Shipped with order ${orderId}`,
        });
      }
      await tx.stockMovement.createMany({ data: movements });
      await tx.reservation.update({ where: { orderId }, data: { status: "COMMITTED" } });
    }
    return (await view(tx, orderId))!;
  }, WRITE_TRANSACTION);
}

export function reservationOf(prisma: InventoryPrisma, orderId: string): Promise<ReservationView | null> {
  return view(prisma, orderId);
}
