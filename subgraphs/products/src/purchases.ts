import { peerClient, SERVICE_SCOPES, signServiceIdentity, type PeerUrls } from "@catalog/common";

const PURCHASED = `query ($userId: ID!, $productIds: [ID!]!) { purchasedProducts(userId: $userId, productIds: $productIds) }`;

/** Asks the orders subgraph whether a user has bought a product (verified purchases on reviews). */
export interface PurchaseCheck {
  /** Throws SERVICE_UNAVAILABLE when orders does not answer in time: the caller writes nothing. */
  hasBought(requestId: string, userId: string, productId: string): Promise<boolean>;
}

/**
 * With the service identity and its scope purchases:read, which no access token can carry: the
 * question names any user, so only this service may ask it (docs/decisions/0020).
 */
export function purchaseCheck(options: { peers: PeerUrls; internalSecret: string; timeoutMs: number }): PurchaseCheck {
  const call = peerClient("orders", () => options.peers("orders"), { timeoutMs: options.timeoutMs });
  return {
    async hasBought(requestId, userId, productId) {
      const identityToken = signServiceIdentity(options.internalSecret, [SERVICE_SCOPES.PURCHASES_READ]);
      const { data } = await call<{ purchasedProducts: string[] }>({ requestId, identityToken }, PURCHASED, { userId, productIds: [productId] });
      return data.purchasedProducts.includes(productId);
    },
  };
}
