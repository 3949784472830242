import type { CacheInvalidator, Logger } from "@catalog/common";
import type { JobQueue } from "./jobs.ts";
import type { PaymentProvider } from "./payments/provider.ts";
import type { Peers } from "./peers.ts";
import type { OrdersPrisma } from "./prisma.ts";
import type { OrdersSettings } from "./settings.ts";

/**
 * Points where a test can stop a saga as a crash would: the hook throws, nothing after it runs,
 * and what was committed before stays as it is. Production builds have none.
 */
export interface Faults {
  /** After inventory holds the stock, before the order is committed. */
  afterReserve?(orderId: string): Promise<void>;
  /** Just before a capture is sent: a throw stands for a provider that cannot be reached. */
  beforeCapture?(paymentId: string): Promise<void>;
  /** Just before a refund is sent: a throw stands for a provider that cannot be reached. */
  beforeRefund?(paymentId: string): Promise<void>;
  /** After the payment provider answered, before the answer is recorded. */
  afterCapture?(paymentId: string): Promise<void>;
  /** Called once the services are built: a test's handle on the job queue. */
  started?(selling: Selling): void;
}

/** Everything the selling code needs, built once per process (server.ts). */
export interface Selling {
  prisma: OrdersPrisma;
  peers: Peers;
  jobs: JobQueue;
  provider: PaymentProvider;
  settings: OrdersSettings;
  logger: Logger;
  cache: CacheInvalidator;
  faults: Faults;
}

/** Cached responses that show an order, or a user's list of orders, are purged after a change. */
export function purgeOrder(selling: Selling, order: { id: string; userId: string }): Promise<void> {
  return selling.cache.invalidate([`Order:${order.id}`, `User:${order.userId}`]);
}
