import {
  conflict,
  peerClient,
  SERVICE_SCOPES,
  signServiceIdentity,
  type PeerIdentity,
  type PeerUrls,
} from "@catalog/common";

/** A product as products (which owns prices) reports it at this moment. */
export interface CatalogProduct {
  id: string;
  name: string;
  status: "ACTIVE" | "ARCHIVED";
  price: { amount: string; currency: string };
}

export interface StockLine {
  productId: string;
  quantity: number;
}

export interface Reservation {
  orderId: string;
  status: "HELD" | "COMMITTED" | "RELEASED";
  lines: StockLine[];
}

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | { ok: false; shortages: { productId: string; requested: number; available: number }[] };

/** What the orders subgraph asks of products and inventory. */
export interface Peers {
  /** Current products by id, in key order; null for unknown ids. */
  products(identity: PeerIdentity, ids: readonly string[]): Promise<(CatalogProduct | null)[]>;
  /** Units available to sell now, by product id, in key order. */
  available(identity: PeerIdentity, ids: readonly string[]): Promise<number[]>;
  reserve(requestId: string, orderId: string, lines: readonly StockLine[]): Promise<ReserveResult>;
  release(requestId: string, orderId: string, reason: string): Promise<Reservation>;
  commit(requestId: string, orderId: string): Promise<Reservation>;
}

const PRODUCTS = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name status price { amount currency } } } }`;
const AVAILABLE = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { inventory { available } } } }`;
const RESERVATION = `orderId status lines { productId quantity }`;
const RESERVE = `mutation ($orderId: ID!, $lines: [StockLineInput!]!) { reserveStock(orderId: $orderId, lines: $lines) { ok reservation { ${RESERVATION} } shortages { productId requested available } } }`;
const RELEASE = `mutation ($orderId: ID!, $reason: String!) { releaseStock(orderId: $orderId, reason: $reason) { ${RESERVATION} } }`;
const COMMIT = `mutation ($orderId: ID!) { commitStock(orderId: $orderId) { ${RESERVATION} } }`;

/**
 * Reads go out with the caller's own signed identity (the gateway's token, forwarded). Stock
 * writes go out with the service identity, whose `stock:reserve` scope no user can hold: only
 * this subgraph's saga, never a customer, moves reserved stock. Jobs, which serve no request,
 * use the same service identity.
 */
export function createPeers(urls: PeerUrls, internalSecret: string, timeoutMs = 5_000): Peers {
  const products = peerClient("products", () => urls("products"), { timeoutMs });
  const inventory = peerClient("inventory", () => urls("inventory"), { timeoutMs });
  const service = (requestId: string): PeerIdentity => ({
    requestId,
    identityToken: signServiceIdentity(internalSecret, [SERVICE_SCOPES.STOCK_RESERVE]),
  });
  const refs = (ids: readonly string[]) => ({ r: ids.map((id) => ({ __typename: "Product", id })) });
  return {
    async products(identity, ids) {
      if (ids.length === 0) return [];
      const { data } = await products<{ _entities: (CatalogProduct | null)[] }>(identity, PRODUCTS, refs(ids));
      return data._entities.map((entity) => (entity && typeof entity.id === "string" ? entity : null));
    },
    async available(identity, ids) {
      if (ids.length === 0) return [];
      const { data } = await inventory<{ _entities: ({ inventory?: { available: number } } | null)[] }>(identity, AVAILABLE, refs(ids));
      return data._entities.map((entity) => entity?.inventory?.available ?? 0);
    },
    async reserve(requestId, orderId, lines) {
      const { data } = await inventory<{ reserveStock: { ok: boolean; reservation: Reservation | null; shortages: ReserveResult extends { shortages: infer S } ? S : never } }>(
        service(requestId),
        RESERVE,
        { orderId, lines: lines.map(({ productId, quantity }) => ({ productId, quantity })) },
      );
      const result = data.reserveStock;
      return result.ok && result.reservation ? { ok: true, reservation: result.reservation } : { ok: false, shortages: result.shortages };
    },
    async release(requestId, orderId, reason) {
      const { data } = await inventory<{ releaseStock: Reservation }>(service(requestId), RELEASE, { orderId, reason });
      return data.releaseStock;
    },
    async commit(requestId, orderId) {
      const { data } = await inventory<{ commitStock: Reservation | null }>(service(requestId), COMMIT, { orderId });
      if (!data.commitStock) throw conflict(`Inventory could not sell the stock of order ${orderId}.`);
      return data.commitStock;
    },
  };
}
