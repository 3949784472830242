import { randomUUID } from "node:crypto";
import { createOrdersSubgraph, type Faults } from "@catalog/orders";
import type { Selling } from "../../subgraphs/orders/src/services.ts";
import { createCategoryTree, createProduct, createUser } from "./fixtures.ts";
import { bearer } from "./auth.ts";
import { gql, startStack, type Stack } from "./stack.ts";

/**
 * A stack whose orders subgraph can be stopped mid-saga (as a crash would) and whose job queue
 * the test can reach. `faults` is switched per test; by default nothing fails.
 */
export interface SellingStack extends Stack {
  faults: Faults;
  selling(): Selling;
  /** This stack's own job queue schema: no other stack's workers take its jobs (or its faults). */
  jobsSchema: string;
}

export async function startSellingStack(subgraphEnv: Record<string, string> = {}): Promise<SellingStack> {
  let selling: Selling | undefined;
  const faults: Faults = {};
  const orders = createOrdersSubgraph({
    afterReserve: (orderId) => faults.afterReserve?.(orderId) ?? Promise.resolve(),
    afterCapture: (paymentId) => faults.afterCapture?.(paymentId) ?? Promise.resolve(),
    beforeCapture: (paymentId) => faults.beforeCapture?.(paymentId) ?? Promise.resolve(),
    beforeRefund: (paymentId) => faults.beforeRefund?.(paymentId) ?? Promise.resolve(),
    started: (s) => (selling = s),
  });
  const jobsSchema = `pgboss_${randomUUID().slice(0, 8)}`;
  const stack = await startStack({}, { orders, subgraphEnv: { ORDER_JOBS_ENABLED: "true", ORDER_JOBS_POLL_SECONDS: "0.5", ORDER_JOBS_SCHEMA: jobsSchema, ...subgraphEnv } });
  return Object.assign(stack, { faults, selling: () => selling!, jobsSchema });
}

/** A product with `onHand` units in stock, priced as asked. */
export async function stockedProduct(stack: Stack, onHand: number, options: { price?: string; currency?: string; status?: "ACTIVE" | "ARCHIVED" } = {}) {
  const { leaf } = await createCategoryTree(stack.prisma.products);
  const product = await createProduct(stack.prisma.products, { categoryId: leaf.id, price: options.price ?? "10.00", ...(options.status ? { status: options.status } : {}) });
  if (options.currency) await stack.prisma.products.product.update({ where: { id: product.id }, data: { currency: options.currency } });
  if (onHand > 0) await stack.prisma.inventory.stockItem.create({ data: { productId: product.id, onHand } });
  return product;
}

export async function customer(stack: Stack) {
  const user = await createUser(stack.prisma.users);
  return { user, headers: bearer({ id: user.id }) };
}

export const ADDRESS = { name: "Ada Shopper", line1: "1 Test Street", city: "Berlin", postalCode: "10115", country: "DE" };

export const ORDER_FIELDS = `id status stockStatus total { amount currency } items { quantity unitPrice { amount currency } product { id } }
  payment { status declineCode amount { amount } } history { from to actor reason }`;

export function placeOrder(
  stack: Stack,
  headers: Record<string, string>,
  lines: { productId: string; quantity: number }[],
  idempotencyKey: string = randomUUID(),
) {
  return gql(
    stack.gatewayUrl,
    `mutation ($lines: [CartLineInput!]!, $address: AddressInput!, $key: String!) {
      placeOrder(lines: $lines, shippingAddress: $address, idempotencyKey: $key) { ${ORDER_FIELDS} } }`,
    { lines, address: ADDRESS, key: idempotencyKey },
    headers,
  );
}

export async function stockOf(stack: Stack, productId: string) {
  const row = await stack.prisma.inventory.stockItem.findUnique({ where: { productId } });
  return { onHand: row?.onHand ?? 0, reserved: row?.reserved ?? 0 };
}

/** Waits for `check` to hold (the effect of a job), asking every 100 ms, failing after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
