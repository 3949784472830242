import { parseEnv } from "@catalog/common";
import { z } from "zod";

/** The products subgraph's own settings, parsed once when it is built (a bad value stops the boot). */
const schema = z.object({
  /** How often availability is brought up to date from inventory's stock feed (facets, inStock filter). 0: never. */
  STOCK_SYNC_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(2_000),
  /** How long one call to inventory's feed may take. */
  STOCK_SYNC_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** How long asking orders whether a review's author bought the product may take (then SERVICE_UNAVAILABLE, nothing written). */
  REVIEW_PURCHASE_CHECK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000),
});

export interface ProductsSettings {
  stockSyncIntervalMs: number;
  stockSyncTimeoutMs: number;
  purchaseCheckTimeoutMs: number;
}

export function productsSettings(env: Readonly<Record<string, string | undefined>>): ProductsSettings {
  const parsed = parseEnv(schema, { ...env });
  return { stockSyncIntervalMs: parsed.STOCK_SYNC_INTERVAL_MS, stockSyncTimeoutMs: parsed.STOCK_SYNC_TIMEOUT_MS, purchaseCheckTimeoutMs: parsed.REVIEW_PURCHASE_CHECK_TIMEOUT_MS };
}
