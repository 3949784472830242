import { booleanFlag, parseEnv } from "@catalog/common";
import { z } from "zod";

const seconds = (fallback: number, min = 1) => z.coerce.number().int().min(min).max(31_536_000).default(fallback);

/** The orders subgraph's own settings, parsed once when it is built (a bad value stops the boot). */
const schema = z.object({
  /** Which PaymentProvider captures payments: `test` is the built-in one with test card numbers. */
  PAYMENT_PROVIDER: z.enum(["test"]).default("test"),
  /** Unpaid PENDING orders are cancelled (and their stock released) after this long. */
  ORDER_PAYMENT_TIMEOUT_SECONDS: seconds(1_800),
  /** A checkout still PLACING this long after it started is finished or abandoned by a job. */
  CHECKOUT_RECOVERY_SECONDS: seconds(60),
  /** A payment still PENDING this long after it started is settled with the provider by a job. */
  PAYMENT_RECOVERY_SECONDS: seconds(60),
  /** Lines per order (and per cart). */
  MAX_ORDER_LINES: z.coerce.number().int().min(1).max(100).default(50),
  /** Units of one product per line. */
  MAX_LINE_QUANTITY: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Orders one customer (or partner) may have waiting for payment at once: each holds stock. */
  MAX_UNPAID_ORDERS: z.coerce.number().int().min(1).max(1_000_000).default(5),
  /** How long a checkout's idempotency key is remembered (a replay after that is a new order). */
  IDEMPOTENCY_KEY_TTL_SECONDS: seconds(7 * 86_400, 3_600),
  /** A cart nobody touched for this long is gone. */
  CART_TTL_SECONDS: seconds(14 * 86_400, 60),
  /** Run the job workers in this process (off for a process that should only serve requests). */
  ORDER_JOBS_ENABLED: booleanFlag(true),
  /** How long a call to products or inventory may take before its outcome counts as unknown. */
  ORDER_PEER_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** The PostgreSQL schema of the job queue's tables (separate queues on one database, e.g. in tests). */
  ORDER_JOBS_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lower-case SQL identifier").default("pgboss"),
  /** How often an idle worker asks the queue for due jobs (pg-boss allows 0.5 and up). */
  ORDER_JOBS_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
});

export interface OrdersSettings {
  paymentProvider: "test";
  paymentTimeoutSeconds: number;
  checkoutRecoverySeconds: number;
  paymentRecoverySeconds: number;
  maxOrderLines: number;
  maxLineQuantity: number;
  maxUnpaidOrders: number;
  idempotencyKeyTtlSeconds: number;
  cartTtlSeconds: number;
  jobsEnabled: boolean;
  jobsPollSeconds: number;
  jobsSchema: string;
  peerTimeoutMs: number;
}

export function ordersSettings(env: Readonly<Record<string, string | undefined>>): OrdersSettings {
  const parsed = parseEnv(schema, { ...env });
  return {
    paymentProvider: parsed.PAYMENT_PROVIDER,
    paymentTimeoutSeconds: parsed.ORDER_PAYMENT_TIMEOUT_SECONDS,
    checkoutRecoverySeconds: parsed.CHECKOUT_RECOVERY_SECONDS,
    paymentRecoverySeconds: parsed.PAYMENT_RECOVERY_SECONDS,
    maxOrderLines: parsed.MAX_ORDER_LINES,
    maxLineQuantity: parsed.MAX_LINE_QUANTITY,
    maxUnpaidOrders: parsed.MAX_UNPAID_ORDERS,
    idempotencyKeyTtlSeconds: parsed.IDEMPOTENCY_KEY_TTL_SECONDS,
    cartTtlSeconds: parsed.CART_TTL_SECONDS,
    jobsEnabled: parsed.ORDER_JOBS_ENABLED,
    jobsPollSeconds: parsed.ORDER_JOBS_POLL_SECONDS,
    jobsSchema: parsed.ORDER_JOBS_SCHEMA,
    peerTimeoutMs: parsed.ORDER_PEER_TIMEOUT_MS,
  };
}
