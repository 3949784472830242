import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JOB } from "../../subgraphs/orders/src/jobs.ts";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { ORDER_FIELDS, customer, eventually, placeOrder, startSellingStack, stockOf, stockedProduct as makeProduct, type SellingStack } from "../../test/support/selling.ts";
import { gql } from "../../test/support/stack.ts";

// Each failure between two steps of the sagas, caused for real: a step that dies where a crash
// would (a test hook that throws: nothing after it runs), a peer that is down, a peer whose answer
// is lost after it did the work. Then the recovery jobs (pg-boss, on the orders database) run,
// made due now instead of at their configured delay, and stock and orders must agree.
let stack: SellingStack;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let inventoryUrl: string;
beforeAll(async () => {
  // Short enough for the hanging-inventory test, long enough for a busy 2-core machine.
  stack = await startSellingStack({ ORDER_PEER_TIMEOUT_MS: "3000" });
  inventoryUrl = `${stack.subgraphs.inventory.url}/graphql`;
  proxy = await startFaultProxy(() => inventoryUrl);
  stack.setPeerUrl("inventory", proxy.url);
});
afterEach(() => {
  proxy.setMode("pass");
  delete stack.faults.afterReserve;
  delete stack.faults.afterCapture;
  delete stack.faults.beforeCapture;
  delete stack.faults.beforeRefund;
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
});

const admin = bearer(ADMIN_USER);

/** Every product a test here made, for the final check that stock and orders agree. */
const touched = new Set<string>();
async function stockedProduct(...args: Parameters<typeof makeProduct>) {
  const product = await makeProduct(...args);
  touched.add(product.id);
  return product;
}

class SimulatedCrash extends Error {}
const crash = async () => {
  throw new SimulatedCrash("the orders service died here");
};

async function reservationOf(orderId: string) {
  return stack.prisma.inventory.reservation.findUnique({ where: { orderId }, include: { lines: true } });
}

async function placingCheckout(userId: string) {
  return stack.prisma.orders.checkout.findFirstOrThrow({ where: { userId } });
}

describe("checkout: a failure between reservation and order", () => {
  it("orders dies after inventory held the stock: the recovery job abandons the checkout and releases it", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    stack.faults.afterReserve = crash;
    const key = randomUUID();
    const result = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 3 }], key);
    expect(result.body.errors![0]!.extensions!.code).toBe("INTERNAL_SERVER_ERROR");
    const checkout = await placingCheckout(shopper.user.id);
    expect(checkout.state).toBe("PLACING");
    expect((await reservationOf(checkout.orderId))?.status).toBe("HELD");
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 3 });
    expect(await stack.prisma.orders.order.count({ where: { userId: shopper.user.id } })).toBe(0);

    expect(await stack.selling().jobs.expedite(JOB.checkoutRecover, { orderId: checkout.orderId })).toBe(1);
    // Inventory releases first, then orders records it: the job is done when both have.
    await eventually(async () => expect((await placingCheckout(shopper.user.id)).state).toBe("RELEASED"));
    expect((await reservationOf(checkout.orderId))?.status).toBe("RELEASED");
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });
    expect(await stack.prisma.orders.order.count({ where: { userId: shopper.user.id } })).toBe(0);

    // The key is free again: the shopper's retry is a fresh attempt, under a new order id.
    delete stack.faults.afterReserve;
    const retried = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 3 }], key);
    expect(retried.body.errors).toBeUndefined();
    expect((retried.body.data!.placeOrder as any).id).not.toBe(checkout.orderId);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 3 });
  });

  it("orders dies after inventory held the stock: the shopper's retry with the same key finishes the same order", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    stack.faults.afterReserve = crash;
    const key = randomUUID();
    await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }], key);
    const checkout = await placingCheckout(shopper.user.id);
    delete stack.faults.afterReserve;

    const retried = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }], key);
    expect(retried.body.data!.placeOrder).toMatchObject({ id: checkout.orderId, status: "PENDING", stockStatus: "HELD" });
    expect(await stack.prisma.inventory.reservationLine.count({ where: { productId: product.id } })).toBe(1);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 });
    // Its recovery job, when it comes, finds a placed order and leaves it alone.
    await stack.selling().jobs.expedite(JOB.checkoutRecover, { orderId: checkout.orderId });
    await eventually(async () => {
      const jobs = await stack.prisma.orders.$queryRawUnsafe<{ state: string }[]>(
        `SELECT state::text AS state FROM ${stack.jobsSchema}.job WHERE name = $1 AND data->>'orderId' = $2`,
        JOB.checkoutRecover,
        checkout.orderId,
      );
      expect(jobs.map((j) => j.state)).toEqual(["completed"]);
    });
    expect((await reservationOf(checkout.orderId))?.status).toBe("HELD");
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 });
  });

  it("inventory is down: SERVICE_UNAVAILABLE, nothing held; recovery leaves a tombstone so a late reserve cannot hold stock", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    stack.setPeerUrl("inventory", "http://127.0.0.1:1/graphql");
    try {
      const result = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }]);
      expect(result.body.errors![0]!.extensions!.code).toBe("SERVICE_UNAVAILABLE");
    } finally {
      stack.setPeerUrl("inventory", proxy.url);
    }
    const checkout = await placingCheckout(shopper.user.id);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });

    await stack.selling().jobs.expedite(JOB.checkoutRecover, { orderId: checkout.orderId });
    await eventually(async () => expect(await reservationOf(checkout.orderId)).toMatchObject({ status: "RELEASED", lines: [] }));
    // A reserve for that order arriving now (a request stuck in the network) holds nothing.
    const late = await stack.selling().peers.reserve("late", checkout.orderId, [{ productId: product.id, quantity: 1 }]);
    expect(late).toMatchObject({ ok: true, reservation: { status: "RELEASED" } });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });
  });

  it("inventory holds the stock but its answer is lost (timeout): the retry gets the same order and one hold", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    const key = randomUUID();
    proxy.setMode("drop-response");
    const lost = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 4 }], key);
    expect(lost.body.errors![0]!.extensions!.code).toBe("SERVICE_UNAVAILABLE");
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 4 });
    proxy.setMode("pass");

    const retried = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 4 }], key);
    expect(retried.body.data!.placeOrder).toMatchObject({ status: "PENDING" });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 4 });
    expect(await stack.prisma.inventory.stockMovement.count({ where: { productId: product.id, reason: "RESERVED" } })).toBe(1);
  });

  it("inventory hangs: the checkout fails within the peer timeout, and nothing stays held after recovery", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    proxy.setMode("hang");
    const result = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }]);
    expect(result.body.errors![0]!.extensions!.code).toBe("SERVICE_UNAVAILABLE");
    proxy.setMode("pass");
    const checkout = await placingCheckout(shopper.user.id);
    await stack.selling().jobs.expedite(JOB.checkoutRecover, { orderId: checkout.orderId });
    await eventually(async () => expect((await reservationOf(checkout.orderId))?.status).toBe("RELEASED"));
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });
  });
});

describe("a cart that changes during its checkout", () => {
  const CHECKOUT = `mutation ($c: ID!, $a: AddressInput!, $k: String!) { checkout(cartId: $c, shippingAddress: $a, idempotencyKey: $k) { id items { quantity product { id } } } }`;
  const ADDRESS = { name: "Ada", line1: "1 Street", city: "Berlin", postalCode: "10115", country: "DE" };

  async function cartWith(headers: Record<string, string>, lines: { productId: string; quantity: number }[]) {
    const created = await gql(stack.gatewayUrl, `mutation ($l: [CartLineInput!]) { createCart(lines: $l) { id } }`, { l: lines }, headers);
    return (created.body.data!.createCart as any).id as string;
  }

  it("a line added meanwhile stays in the cart; only what was ordered leaves it", async () => {
    const [a, b] = [await stockedProduct(stack, 5), await stockedProduct(stack, 5)];
    const shopper = await customer(stack);
    const cartId = await cartWith(shopper.headers, [{ productId: a.id, quantity: 2 }]);
    stack.faults.afterReserve = async () => {
      delete stack.faults.afterReserve;
      await gql(stack.gatewayUrl, `mutation ($c: ID!, $l: [CartLineInput!]!) { addCartLines(cartId: $c, lines: $l) { id } }`, { c: cartId, l: [{ productId: a.id, quantity: 1 }, { productId: b.id, quantity: 1 }] }, shopper.headers);
    };
    const placed = await gql(stack.gatewayUrl, CHECKOUT, { c: cartId, a: ADDRESS, k: randomUUID() }, shopper.headers);
    expect((placed.body.data!.checkout as any).items).toEqual([{ quantity: 2, product: { id: a.id } }]);
    const left = await stack.prisma.orders.cartLine.findMany({ where: { cartId }, orderBy: { addedAt: "asc" } });
    expect(left.map((l) => [l.productId, l.quantity])).toEqual([[a.id, 1], [b.id, 1]]);
  });

  it("a line removed meanwhile, or the cart ordered under another key: CONFLICT, nothing ordered twice, stock released", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    const cartId = await cartWith(shopper.headers, [{ productId: product.id, quantity: 2 }]);
    stack.faults.afterReserve = async () => {
      delete stack.faults.afterReserve;
      // The same cart, checked out under another key, while this checkout waits.
      const other = await gql(stack.gatewayUrl, CHECKOUT, { c: cartId, a: ADDRESS, k: randomUUID() }, shopper.headers);
      expect(other.body.errors).toBeUndefined();
    };
    const result = await gql(stack.gatewayUrl, CHECKOUT, { c: cartId, a: ADDRESS, k: randomUUID() }, shopper.headers);
    expect(result.body.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", field: "cartId" });
    expect(await stack.prisma.orders.order.count({ where: { userId: shopper.user.id } })).toBe(1);
    await eventually(async () => expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 }));
  });
});

describe("the sweep: the backstop for a saga whose own job is gone", () => {
  it("finishes a crashed checkout whose recovery job was lost", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    stack.faults.afterReserve = crash;
    await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }]);
    const checkout = await placingCheckout(shopper.user.id);
    await stack.prisma.orders.$executeRawUnsafe(`DELETE FROM ${stack.jobsSchema}.job WHERE data->>'orderId' = $1`, checkout.orderId);
    await stack.prisma.orders.$executeRaw`UPDATE checkouts SET updated_at = now() - interval '1 day' WHERE order_id = ${checkout.orderId}::uuid`;
    await stack.selling().jobs.send(JOB.sweep, {});
    await eventually(async () => expect((await reservationOf(checkout.orderId))?.status).toBe("RELEASED"));
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });
  });
});

describe("payment and deadlines", () => {
  function pay(headers: Record<string, string>, orderId: string) {
    return gql(stack.gatewayUrl, `mutation ($id: ID!) { payOrder(orderId: $id, payment: { cardNumber: "4242 4242 4242 4242" }) { ${ORDER_FIELDS} } }`, { id: orderId }, headers);
  }

  async function pendingOrder(quantity = 1) {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    const placed = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity }]);
    return { product, shopper, orderId: (placed.body.data!.placeOrder as any).id as string };
  }

  it("orders dies after the provider captured the money: recovery records the capture; the paid order is not lost", async () => {
    const { shopper, orderId } = await pendingOrder();
    stack.faults.afterCapture = crash;
    const result = await pay(shopper.headers, orderId);
    expect(result.body.errors![0]!.extensions!.code).toBe("INTERNAL_SERVER_ERROR");
    const payment = await stack.prisma.orders.payment.findFirstOrThrow({ where: { orderId } });
    expect(payment.status).toBe("PENDING");
    expect((await stack.prisma.orders.testProviderCharge.findUniqueOrThrow({ where: { idempotencyKey: payment.idempotencyKey } })).outcome).toBe("CAPTURED");

    await stack.selling().jobs.expedite(JOB.paymentRecover, { paymentId: payment.id });
    await eventually(async () => expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe("PROCESSING"));
    expect((await stack.prisma.orders.payment.findUniqueOrThrow({ where: { id: payment.id } })).status).toBe("CAPTURED");
    // A second payOrder charges nothing more.
    delete stack.faults.afterCapture;
    const again = await pay(shopper.headers, orderId);
    expect(again.body.data!.payOrder).toMatchObject({ status: "PROCESSING" });
    expect(await stack.prisma.orders.payment.count({ where: { orderId } })).toBe(1);
  });

  it("the provider cannot be reached: the payment FAILS once settled, and the order stays PENDING to be paid again", async () => {
    const { product, shopper, orderId } = await pendingOrder(2);
    stack.faults.beforeCapture = crash;
    const result = await pay(shopper.headers, orderId);
    expect(result.body.errors![0]!.extensions!.code).toBe("SERVICE_UNAVAILABLE");
    const payment = await stack.prisma.orders.payment.findFirstOrThrow({ where: { orderId } });
    expect(payment.status).toBe("PENDING");
    // While its outcome is unknown, a second payment is refused rather than risking two charges.
    expect((await pay(shopper.headers, orderId)).body.errors![0]!.extensions!.code).toBe("CONFLICT");

    await stack.selling().jobs.expedite(JOB.paymentRecover, { paymentId: payment.id });
    await eventually(async () => expect((await stack.prisma.orders.payment.findUniqueOrThrow({ where: { id: payment.id } })).status).toBe("FAILED"));
    expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe("PENDING");
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 });
    delete stack.faults.beforeCapture;
    expect((await pay(shopper.headers, orderId)).body.data!.payOrder).toMatchObject({ status: "PROCESSING", payment: { status: "CAPTURED" } });
  });

  it("a refund the provider cannot take is owed until it does: the job, or the sweep once the job is gone", async () => {
    const { shopper, orderId } = await pendingOrder();
    await pay(shopper.headers, orderId);
    stack.faults.beforeRefund = crash;
    const cancelled = await gql(stack.gatewayUrl, `mutation ($id: ID!) { cancelOrder(orderId: $id) { status stockStatus payment { status } } }`, { id: orderId }, shopper.headers);
    expect(cancelled.body.data!.cancelOrder).toEqual({ status: "CANCELLED", stockStatus: "RELEASED", payment: { status: "CAPTURED" } });
    // The settle job keeps failing; say it gave up: only the sweep is left.
    await eventually(async () => {
      const [job] = await stack.prisma.orders.$queryRawUnsafe<{ state: string }[]>(
        `SELECT state::text AS state FROM ${stack.jobsSchema}.job WHERE name = $1 AND data->>'orderId' = $2`,
        JOB.orderSettle,
        orderId,
      );
      expect(job?.state).toBe("retry");
    });
    await stack.prisma.orders.$executeRawUnsafe(`DELETE FROM ${stack.jobsSchema}.job WHERE data->>'orderId' = $1`, orderId);
    await stack.prisma.orders.$executeRaw`UPDATE orders SET updated_at = now() - interval '1 day' WHERE id = ${orderId}::uuid`;
    delete stack.faults.beforeRefund;
    await stack.selling().jobs.send(JOB.sweep, {});
    await eventually(async () => expect((await stack.prisma.orders.payment.findFirstOrThrow({ where: { orderId } })).status).toBe("REFUNDED"));
    const payment = await stack.prisma.orders.payment.findFirstOrThrow({ where: { orderId } });
    expect((await stack.prisma.orders.testProviderCharge.findUniqueOrThrow({ where: { idempotencyKey: payment.idempotencyKey } })).refunded).toBe(true);
  });

  it("an unpaid order is cancelled at its deadline by the system, and its stock released", async () => {
    const { product, orderId } = await pendingOrder(2);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 });
    await stack.selling().jobs.expedite(JOB.orderExpire, { orderId });
    await eventually(async () => expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } })).stockState).toBe("RELEASED"));
    const order = await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId }, include: { transitions: { orderBy: { createdAt: "asc" } } } });
    expect(order.status).toBe("CANCELLED");
    expect(order.transitions.at(-1)).toMatchObject({ fromStatus: "PENDING", toStatus: "CANCELLED", actorKind: "SYSTEM", reason: "not paid in time" });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });
  });

  it("at the deadline, a capture that landed but was never recorded wins over the cancellation", async () => {
    const { shopper, orderId } = await pendingOrder();
    stack.faults.afterCapture = crash;
    await pay(shopper.headers, orderId);
    await stack.selling().jobs.expedite(JOB.orderExpire, { orderId });
    await eventually(async () => expect((await stack.prisma.orders.payment.findFirstOrThrow({ where: { orderId } })).status).toBe("CAPTURED"));
    expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe("PROCESSING");
  });

  it("inventory is down when an order is cancelled: the release is owed, and the job makes it when inventory is back", async () => {
    const { product, shopper, orderId } = await pendingOrder(3);
    stack.setPeerUrl("inventory", "http://127.0.0.1:1/graphql");
    let cancelled;
    try {
      cancelled = await gql(stack.gatewayUrl, `mutation ($id: ID!) { cancelOrder(orderId: $id) { status stockStatus } }`, { id: orderId }, shopper.headers);
    } finally {
      stack.setPeerUrl("inventory", proxy.url);
    }
    expect(cancelled.body.data!.cancelOrder).toEqual({ status: "CANCELLED", stockStatus: "RELEASING" });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 3 });
    // The job may already be waiting to retry with backoff: make it due now.
    await stack.selling().jobs.expedite(JOB.orderSettle, { orderId });
    await eventually(async () => expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } })).stockState).toBe("RELEASED"));
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 0 });
  });

  it("shipping while inventory is down leaves the sale owed; the job turns the hold into a sale later", async () => {
    const { product, shopper, orderId } = await pendingOrder(2);
    await pay(shopper.headers, orderId);
    stack.setPeerUrl("inventory", "http://127.0.0.1:1/graphql");
    let shipped;
    try {
      shipped = await gql(stack.gatewayUrl, `mutation ($id: ID!) { shipOrder(orderId: $id) { status stockStatus } }`, { id: orderId }, admin);
    } finally {
      stack.setPeerUrl("inventory", proxy.url);
    }
    expect(shipped.body.data!.shipOrder).toEqual({ status: "SHIPPED", stockStatus: "SELLING" });
    await stack.selling().jobs.expedite(JOB.orderSettle, { orderId });
    await eventually(async () => expect((await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } })).stockState).toBe("SOLD"));
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 3, reserved: 0 });
  });
});

describe("after every failure above", () => {
  it("stock and orders agree: each product's reserved units are exactly its held reservations, each held by a live order", async () => {
    // Each test above waited for its own recovery; jobs due now (settles) run by themselves.
    const products = [...touched];
    await eventually(async () => {
      const held = await stack.prisma.inventory.reservationLine.findMany({
        where: { productId: { in: products }, reservation: { status: "HELD" } },
      });
      for (const productId of products) {
        const sum = held.filter((line) => line.productId === productId).reduce((total, line) => total + line.quantity, 0);
        expect((await stockOf(stack, productId)).reserved, `product ${productId}`).toBe(sum);
      }
      const orderIds = [...new Set(held.map((line) => line.orderId))];
      const orders = await stack.prisma.orders.order.findMany({ where: { id: { in: orderIds } } });
      expect(orders).toHaveLength(orderIds.length);
      for (const order of orders) expect(order.stockState, `order ${order.id}`).toBe("HELD");
      // And the other way round: every order that says HELD is held at inventory.
      const holding = await stack.prisma.orders.order.findMany({ where: { stockState: "HELD", items: { some: { productId: { in: products } } } } });
      expect(holding.map((o) => o.id).sort()).toEqual(orderIds.sort());
    });
  });
});
