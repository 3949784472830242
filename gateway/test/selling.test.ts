import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER, bearer } from "../../test/support/auth.ts";
import { ADDRESS, ORDER_FIELDS, customer, eventually, placeOrder, startSellingStack, stockOf, stockedProduct, type SellingStack } from "../../test/support/selling.ts";
import { gql } from "../../test/support/stack.ts";
import { JOB } from "../../subgraphs/orders/src/jobs.ts";

let stack: SellingStack;
beforeAll(async () => {
  stack = await startSellingStack();
});
afterAll(async () => {
  await stack?.close();
});

const admin = bearer(ADMIN_USER);
const CART_FIELDS = `id totalQuantity subtotal { amount currency } checkoutReady lines { product { id name } quantity unitPrice { amount } lineTotal { amount } available status }`;

function pay(headers: Record<string, string>, orderId: string, cardNumber = "4242424242424242") {
  return gql(stack.gatewayUrl, `mutation ($id: ID!, $card: String!) { payOrder(orderId: $id, payment: { cardNumber: $card }) { ${ORDER_FIELDS} } }`, { id: orderId, card: cardNumber }, headers);
}

function move(headers: Record<string, string>, field: "shipOrder" | "deliverOrder" | "cancelOrder", orderId: string) {
  return gql(stack.gatewayUrl, `mutation ($id: ID!) { ${field}(orderId: $id) { ${ORDER_FIELDS} } }`, { id: orderId }, headers);
}

describe("a shopper's journey through the gateway", () => {
  it("cart as a guest, sign in, checkout, pay, ship, deliver: prices server-side, stock held then sold", async () => {
    const product = await stockedProduct(stack, 5, { price: "12.50" });
    const shopper = await customer(stack);

    const created = await gql(stack.gatewayUrl, `mutation ($p: ID!) { createCart(lines: [{ productId: $p, quantity: 2 }]) { ${CART_FIELDS} } }`, { p: product.id });
    expect(created.body.errors).toBeUndefined();
    const cart = created.body.data!.createCart as any;
    expect(cart).toMatchObject({
      totalQuantity: 2,
      subtotal: { amount: "25.00", currency: "USD" },
      checkoutReady: true,
      lines: [{ product: { id: product.id, name: product.name }, quantity: 2, unitPrice: { amount: "12.50" }, lineTotal: { amount: "25.00" }, available: 5, status: "OK" }],
    });

    const attached = await gql(stack.gatewayUrl, `mutation ($c: ID!) { attachCart(cartId: $c) { id } }`, { c: cart.id }, shopper.headers);
    expect(attached.body.data).toEqual({ attachCart: { id: cart.id } });
    // Once it is theirs, the cart id alone no longer opens it.
    const anonymousRead = await gql(stack.gatewayUrl, `query ($c: ID!) { cart(id: $c) { id } }`, { c: cart.id });
    expect(anonymousRead.body.data).toEqual({ cart: null });

    const checkout = await gql(
      stack.gatewayUrl,
      `mutation ($c: ID!, $a: AddressInput!, $k: String!) { checkout(cartId: $c, shippingAddress: $a, idempotencyKey: $k) { ${ORDER_FIELDS} } }`,
      { c: cart.id, a: ADDRESS, k: randomUUID() },
      shopper.headers,
    );
    expect(checkout.body.errors).toBeUndefined();
    const order = checkout.body.data!.checkout as any;
    expect(order).toMatchObject({
      status: "PENDING",
      stockStatus: "HELD",
      total: { amount: "25.00", currency: "USD" },
      items: [{ quantity: 2, unitPrice: { amount: "12.50", currency: "USD" }, product: { id: product.id } }],
      payment: null,
      history: [{ from: null, to: "PENDING", actor: "CUSTOMER" }],
    });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 });
    // The cart became the order.
    expect(await stack.prisma.orders.cart.count({ where: { id: cart.id } })).toBe(0);

    const paid = await pay(shopper.headers, order.id);
    expect(paid.body.errors).toBeUndefined();
    expect(paid.body.data!.payOrder).toMatchObject({ status: "PROCESSING", payment: { status: "CAPTURED", amount: { amount: "25.00" } } });

    const shipped = await move(admin, "shipOrder", order.id);
    expect(shipped.body.errors).toBeUndefined();
    expect(shipped.body.data!.shipOrder).toMatchObject({ status: "SHIPPED", stockStatus: "SOLD" });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 3, reserved: 0 });

    const delivered = await move(admin, "deliverOrder", order.id);
    expect((delivered.body.data!.deliverOrder as any).history.map((h: any) => [h.from, h.to, h.actor])).toEqual([
      [null, "PENDING", "CUSTOMER"],
      ["PENDING", "PROCESSING", "SYSTEM"],
      ["PROCESSING", "SHIPPED", "ADMIN"],
      ["SHIPPED", "DELIVERED", "ADMIN"],
    ]);
    const movements = await stack.prisma.inventory.stockMovement.findMany({ where: { productId: product.id }, orderBy: { createdAt: "asc" } });
    expect(movements.map((m) => [m.reason, m.delta, m.reservedDelta])).toEqual([
      ["RESERVED", 0, 2],
      ["SOLD", -2, -2],
    ]);
  });

  it("every stock change an order causes purges the product's cached responses", async () => {
    const product = await stockedProduct(stack, 6);
    const shopper = await customer(stack);
    const read = () => gql(stack.gatewayUrl, `query ($id: ID!) { product(id: $id) { id inventory { available reserved } } }`, { id: product.id });
    await read();
    const cached = await read();
    expect(cached.headers.get("x-cache")).toBe("HIT");
    const placed = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }]);
    const afterOrder = await read();
    expect(afterOrder.headers.get("x-cache")).toBe("MISS");
    expect(afterOrder.body.data!.product).toMatchObject({ inventory: { available: 4, reserved: 2 } });
    await read();
    await move(shopper.headers, "cancelOrder", (placed.body.data!.placeOrder as any).id);
    const afterCancel = await read();
    expect(afterCancel.headers.get("x-cache")).toBe("MISS");
    expect(afterCancel.body.data!.product).toMatchObject({ inventory: { available: 6, reserved: 0 } });
  });

  it("a declined card cancels the order and releases its stock", async () => {
    const product = await stockedProduct(stack, 3);
    const shopper = await customer(stack);
    const placed = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 3 }]);
    const orderId = (placed.body.data!.placeOrder as any).id;
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 3, reserved: 3 });

    const declined = await pay(shopper.headers, orderId, "4000000000000002");
    expect(declined.body.errors![0]!.extensions).toMatchObject({ code: "PAYMENT_DECLINED", declineCode: "card_declined", orderId });
    const order = await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } });
    expect([order.status, order.stockState]).toEqual(["CANCELLED", "RELEASED"]);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 3, reserved: 0 });
  });
});

describe("placing an order refuses bad input with a code, writing and reserving nothing", () => {
  async function nothingWritten(userId: string, productIds: string[]) {
    expect(await stack.prisma.orders.checkout.count({ where: { userId } })).toBe(0);
    expect(await stack.prisma.orders.order.count({ where: { userId } })).toBe(0);
    for (const productId of productIds) {
      expect((await stockOf(stack, productId)).reserved).toBe(0);
      expect(await stack.prisma.inventory.reservationLine.count({ where: { productId } })).toBe(0);
    }
  }

  it.each([
    ["quantity 0", 0, "BAD_USER_INPUT", "quantity"],
    ["a negative quantity", -1, "BAD_USER_INPUT", "quantity"],
    ["an absurd quantity", 1_000_000, "BAD_USER_INPUT", "quantity"],
  ])("%s", async (_name, quantity, code, field) => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    const result = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity }]);
    expect(result.body.errors![0]!.extensions).toMatchObject({ code, field });
    await nothingWritten(shopper.user.id, [product.id]);
  });

  it("more lines than allowed", async () => {
    const shopper = await customer(stack);
    const lines = Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 }));
    const result = await placeOrder(stack, shopper.headers, lines);
    expect(result.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "lines", limit: 50 });
    await nothingWritten(shopper.user.id, []);
  });

  it("an archived product, and one that does not exist", async () => {
    const archived = await stockedProduct(stack, 5, { status: "ARCHIVED" });
    const active = await stockedProduct(stack, 5);
    const missing = randomUUID();
    const shopper = await customer(stack);
    const result = await placeOrder(stack, shopper.headers, [
      { productId: active.id, quantity: 1 },
      { productId: archived.id, quantity: 1 },
      { productId: missing, quantity: 1 },
    ]);
    expect(result.body.errors![0]!.extensions).toMatchObject({ code: "PRODUCT_UNAVAILABLE", productIds: [archived.id, missing] });
    await nothingWritten(shopper.user.id, [active.id, archived.id]);
  });

  it("lines priced in two currencies", async () => {
    const usd = await stockedProduct(stack, 5);
    const eur = await stockedProduct(stack, 5, { currency: "EUR" });
    const shopper = await customer(stack);
    const result = await placeOrder(stack, shopper.headers, [{ productId: usd.id, quantity: 1 }, { productId: eur.id, quantity: 1 }]);
    expect(result.body.errors![0]!.extensions).toMatchObject({ code: "CURRENCY_MISMATCH", currencies: ["USD", "EUR"] });
    await nothingWritten(shopper.user.id, [usd.id, eur.id]);
  });

  it("a shipping address without a country code, and an idempotency key too short", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    const badAddress = await gql(
      stack.gatewayUrl,
      `mutation ($l: [CartLineInput!]!, $a: AddressInput!) { placeOrder(lines: $l, shippingAddress: $a, idempotencyKey: "key-12345678") { id } }`,
      { l: [{ productId: product.id, quantity: 1 }], a: { ...ADDRESS, country: "Germany" } },
      shopper.headers,
    );
    expect(badAddress.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "shippingAddress.country" });
    const shortKey = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }], "k");
    expect(shortKey.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "idempotencyKey" });
    await nothingWritten(shopper.user.id, [product.id]);
  });

  it("an order whose total does not fit", async () => {
    const dear = await stockedProduct(stack, 500, { price: "99999999.99" });
    const dearer = await stockedProduct(stack, 500, { price: "99999999.99" });
    const shopper = await customer(stack);
    const result = await placeOrder(stack, shopper.headers, [{ productId: dear.id, quantity: 100 }, { productId: dearer.id, quantity: 100 }]);
    expect(result.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "lines" });
    await nothingWritten(shopper.user.id, [dear.id, dearer.id]);
  });

  it("a sixth unpaid order: each holds stock, so one caller may only have five", async () => {
    const product = await stockedProduct(stack, 50);
    const shopper = await customer(stack);
    for (let i = 0; i < 5; i++) expect((await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }])).body.errors).toBeUndefined();
    const sixth = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }]);
    expect(sixth.body.errors![0]!.extensions).toMatchObject({ code: "TOO_MANY_UNPAID_ORDERS", limit: 5 });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 50, reserved: 5 });
  });

  it("anonymous callers cannot place orders", async () => {
    const product = await stockedProduct(stack, 5);
    const result = await placeOrder(stack, {}, [{ productId: product.id, quantity: 1 }]);
    expect(result.body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    expect((await stockOf(stack, product.id)).reserved).toBe(0);
  });

  it("not enough stock: INSUFFICIENT_STOCK names every short line and what is available; nothing held", async () => {
    const plenty = await stockedProduct(stack, 10);
    const few = await stockedProduct(stack, 2);
    const none = await stockedProduct(stack, 0);
    const shopper = await customer(stack);
    const result = await placeOrder(stack, shopper.headers, [
      { productId: plenty.id, quantity: 3 },
      { productId: few.id, quantity: 3 },
      { productId: none.id, quantity: 1 },
    ]);
    expect(result.body.errors![0]!.extensions!.code).toBe("INSUFFICIENT_STOCK");
    const shortages = result.body.errors![0]!.extensions!.shortages as unknown[];
    expect(shortages).toHaveLength(2);
    expect(shortages).toEqual(
      expect.arrayContaining([
        { productId: few.id, requested: 3, available: 2 },
        { productId: none.id, requested: 1, available: 0 },
      ]),
    );
    await nothingWritten(shopper.user.id, [plenty.id, few.id, none.id]);
  });
});

describe("exactly once", () => {
  it("50 concurrent checkouts for 10 units: 10 orders, 40 INSUFFICIENT_STOCK, never negative, movements add up", async () => {
    const product = await stockedProduct(stack, 10);
    const shoppers = await Promise.all(Array.from({ length: 50 }, () => customer(stack)));
    let sampling = true;
    const samples: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        const { onHand, reserved } = await stockOf(stack, product.id);
        samples.push(onHand - reserved);
      }
    })();
    const results = await Promise.all(shoppers.map((s) => placeOrder(stack, s.headers, [{ productId: product.id, quantity: 1 }])));
    sampling = false;
    await sampler;
    const placed = results.filter((r) => r.body.data?.placeOrder);
    const refused = results.filter((r) => r.body.errors?.[0]?.extensions?.code === "INSUFFICIENT_STOCK");
    expect(placed).toHaveLength(10);
    expect(refused).toHaveLength(40);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 10, reserved: 10 });
    const movements = await stack.prisma.inventory.stockMovement.findMany({ where: { productId: product.id } });
    expect(movements.reduce((sum, m) => sum + m.reservedDelta, 0)).toBe(10);
    expect(await stack.prisma.orders.orderItem.count({ where: { productId: product.id } })).toBe(10);
  });

  it("the same idempotency key 20 times at once: one order, one reservation; another payload is refused", async () => {
    const product = await stockedProduct(stack, 5);
    const shopper = await customer(stack);
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }], key)));
    expect(results.map((r) => r.body.errors?.[0]?.message)).toEqual(Array(20).fill(undefined));
    const ids = new Set(results.map((r) => (r.body.data!.placeOrder as any).id));
    expect(ids.size).toBe(1);
    expect(await stack.prisma.orders.order.count({ where: { userId: shopper.user.id } })).toBe(1);
    expect(await stack.prisma.inventory.reservationLine.count({ where: { productId: product.id } })).toBe(1);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 2 });

    const later = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }], key);
    expect((later.body.data!.placeOrder as any).id).toBe([...ids][0]);
    const other = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }], key);
    expect(other.body.errors![0]!.extensions!.code).toBe("IDEMPOTENCY_KEY_REUSED");
    // Keys are per customer: another customer's identical key is their own.
    const stranger = await customer(stack);
    const theirs = await placeOrder(stack, stranger.headers, [{ productId: product.id, quantity: 2 }], key);
    expect((theirs.body.data!.placeOrder as any).id).not.toBe([...ids][0]);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 5, reserved: 4 });
  });
});

describe("the status workflow", () => {
  async function paidOrder() {
    const product = await stockedProduct(stack, 4);
    const shopper = await customer(stack);
    const placed = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 2 }]);
    const orderId = (placed.body.data!.placeOrder as any).id as string;
    return { product, shopper, orderId };
  }

  it("refuses every illegal move with INVALID_STATUS_TRANSITION and changes nothing", async () => {
    const { product, shopper, orderId } = await paidOrder();
    const pendingShip = await move(admin, "shipOrder", orderId);
    expect(pendingShip.body.errors![0]!.extensions).toMatchObject({ code: "INVALID_STATUS_TRANSITION", from: "PENDING", to: "SHIPPED" });
    const pendingDeliver = await move(admin, "deliverOrder", orderId);
    expect(pendingDeliver.body.errors![0]!.extensions).toMatchObject({ code: "INVALID_STATUS_TRANSITION", from: "PENDING", to: "DELIVERED" });
    await pay(shopper.headers, orderId);
    const processingDeliver = await move(admin, "deliverOrder", orderId);
    expect(processingDeliver.body.errors![0]!.extensions).toMatchObject({ code: "INVALID_STATUS_TRANSITION", from: "PROCESSING" });
    await move(admin, "shipOrder", orderId);
    const shippedCancel = await move(shopper.headers, "cancelOrder", orderId);
    expect(shippedCancel.body.errors![0]!.extensions).toMatchObject({ code: "INVALID_STATUS_TRANSITION", from: "SHIPPED", to: "CANCELLED" });
    const shippedAgain = await move(admin, "shipOrder", orderId);
    expect(shippedAgain.body.errors![0]!.extensions!.code).toBe("INVALID_STATUS_TRANSITION");
    const payShipped = await pay(shopper.headers, orderId);
    expect(payShipped.body.data!.payOrder).toMatchObject({ status: "SHIPPED" }); // already paid: unchanged
    await move(admin, "deliverOrder", orderId);
    const deliveredCancel = await move(admin, "cancelOrder", orderId);
    expect(deliveredCancel.body.errors![0]!.extensions).toMatchObject({ code: "INVALID_STATUS_TRANSITION", from: "DELIVERED" });

    const order = await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId }, include: { transitions: true, payments: true } });
    expect(order.status).toBe("DELIVERED");
    expect(order.transitions).toHaveLength(4);
    expect(order.payments.map((p) => p.status)).toEqual(["CAPTURED"]);
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 2, reserved: 0 });
  });

  it("a customer cancels their paid order: stock released, payment refunded, both recorded", async () => {
    const { product, shopper, orderId } = await paidOrder();
    await pay(shopper.headers, orderId);
    const cancelled = await gql(
      stack.gatewayUrl,
      `mutation ($id: ID!) { cancelOrder(orderId: $id, reason: "changed my mind") { ${ORDER_FIELDS} } }`,
      { id: orderId },
      shopper.headers,
    );
    expect(cancelled.body.errors).toBeUndefined();
    expect(cancelled.body.data!.cancelOrder).toMatchObject({
      status: "CANCELLED",
      stockStatus: "RELEASED",
      payment: { status: "REFUNDED" },
      history: [{ to: "PENDING" }, { to: "PROCESSING" }, { from: "PROCESSING", to: "CANCELLED", actor: "CUSTOMER", reason: "changed my mind" }],
    });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 4, reserved: 0 });
    const movements = await stack.prisma.inventory.stockMovement.findMany({ where: { productId: product.id } });
    expect(movements.map((m) => m.reason).sort()).toEqual(["RELEASED", "RESERVED"]);
    const charge = await stack.prisma.orders.testProviderCharge.findFirstOrThrow({ where: { idempotencyKey: { startsWith: "pay_" }, reference: { not: "" }, refunded: true, amount: "20.00" } });
    expect(charge.outcome).toBe("CAPTURED");
  });

  it("customers cannot read, pay, cancel or ship another customer's order or cart", async () => {
    const { shopper, orderId } = await paidOrder();
    const thief = await customer(stack);
    const read = await gql(stack.gatewayUrl, `query ($id: ID!) { order(id: $id) { id } }`, { id: orderId }, thief.headers);
    expect(read.body.data).toEqual({ order: null });
    expect((await pay(thief.headers, orderId)).body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect((await move(thief.headers, "cancelOrder", orderId)).body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect((await move(thief.headers, "shipOrder", orderId)).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await move(shopper.headers, "shipOrder", orderId)).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    const order = await stack.prisma.orders.order.findUniqueOrThrow({ where: { id: orderId } });
    expect(order.status).toBe("PENDING");
    expect(await stack.prisma.orders.payment.count({ where: { orderId } })).toBe(0);

    const cart = await gql(stack.gatewayUrl, `mutation { createCart { id } }`, {}, shopper.headers);
    const cartId = (cart.body.data!.createCart as any).id;
    const peek = await gql(stack.gatewayUrl, `query ($c: ID!) { cart(id: $c) { id } }`, { c: cartId }, thief.headers);
    expect(peek.body.data).toEqual({ cart: null });
    const product = await stockedProduct(stack, 1);
    const add = await gql(stack.gatewayUrl, `mutation ($c: ID!, $p: ID!) { addCartLines(cartId: $c, lines: [{ productId: $p, quantity: 1 }]) { id } }`, { c: cartId, p: product.id }, thief.headers);
    expect(add.body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    const steal = await gql(stack.gatewayUrl, `mutation ($c: ID!) { attachCart(cartId: $c) { id } }`, { c: cartId }, thief.headers);
    expect(steal.body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect(await stack.prisma.orders.cartLine.count({ where: { cartId } })).toBe(0);
  });

  it("an order placed before stock was held per order moves no stock when shipped or cancelled", async () => {
    const product = await stockedProduct(stack, 4);
    const shopper = await customer(stack);
    const placed = await placeOrder(stack, shopper.headers, [{ productId: product.id, quantity: 1 }]);
    const orderId = (placed.body.data!.placeOrder as any).id;
    // What the migration makes of an unshipped order from before selling: inventory holds nothing.
    await stack.prisma.inventory.$executeRaw`DELETE FROM reservations WHERE order_id = ${orderId}::uuid`;
    await stack.prisma.inventory.$executeRaw`UPDATE stock_items SET reserved = 0 WHERE product_id = ${product.id}::uuid`;
    await stack.prisma.orders.order.update({ where: { id: orderId }, data: { stockState: "UNTRACKED" } });
    const cancelled = await gql(stack.gatewayUrl, `mutation ($id: ID!) { cancelOrder(orderId: $id) { status stockStatus } }`, { id: orderId }, shopper.headers);
    expect(cancelled.body.data!.cancelOrder).toEqual({ status: "CANCELLED", stockStatus: "UNTRACKED" });
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 4, reserved: 0 });
  });

  it("inventory's stock-holding mutations are not part of the gateway's API", async () => {
    const result = await gql(stack.gatewayUrl, `mutation ($o: ID!) { releaseStock(orderId: $o, reason: "x") { status } }`, { o: randomUUID() }, admin);
    expect(result.status).toBe(400);
    expect(result.body.errors![0]!.extensions!.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it("admins list orders by status, customer and date, page by page", async () => {
    const { shopper, orderId } = await paidOrder();
    const second = await placeOrder(stack, shopper.headers, [{ productId: (await stockedProduct(stack, 1)).id, quantity: 1 }]);
    const secondId = (second.body.data!.placeOrder as any).id;
    const query = `query ($f: OrdersFilter, $after: String) { orders(filter: $f, first: 1, after: $after) { totalCount edges { node { id status } } pageInfo { hasNextPage endCursor } } }`;
    const page1 = await gql(stack.gatewayUrl, query, { f: { userId: shopper.user.id, status: "PENDING" } }, admin);
    expect(page1.body.data!.orders).toMatchObject({ totalCount: 2, edges: [{ node: { id: secondId } }], pageInfo: { hasNextPage: true } });
    const page2 = await gql(stack.gatewayUrl, query, { f: { userId: shopper.user.id, status: "PENDING" }, after: (page1.body.data!.orders as any).pageInfo.endCursor }, admin);
    expect(page2.body.data!.orders).toMatchObject({ edges: [{ node: { id: orderId } }], pageInfo: { hasNextPage: false } });
    const future = await gql(stack.gatewayUrl, query, { f: { userId: shopper.user.id, createdAfter: new Date(Date.now() + 3_600_000).toISOString() } }, admin);
    expect(future.body.data!.orders).toMatchObject({ totalCount: 0, edges: [] });
    const asCustomer = await gql(stack.gatewayUrl, query, {}, shopper.headers);
    expect(asCustomer.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
  });
});

describe("carts", () => {
  const cartOp = (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
    gql(stack.gatewayUrl, query, variables, headers);

  it("adds, changes and removes lines; flags archived and short lines instead of dropping them", async () => {
    const a = await stockedProduct(stack, 10, { price: "2.00" });
    const b = await stockedProduct(stack, 1, { price: "3.00" });
    const created = await cartOp(`mutation { createCart { id lines { quantity } } }`, {});
    const cartId = (created.body.data!.createCart as any).id;
    const added = await cartOp(`mutation ($c: ID!, $l: [CartLineInput!]!) { addCartLines(cartId: $c, lines: $l) { ${CART_FIELDS} } }`, {
      c: cartId,
      l: [{ productId: a.id, quantity: 2 }, { productId: b.id, quantity: 2 }],
    });
    expect(added.body.data!.addCartLines).toMatchObject({
      totalQuantity: 4,
      subtotal: { amount: "10.00" },
      checkoutReady: false,
      lines: [{ quantity: 2, status: "OK", available: 10 }, { quantity: 2, status: "INSUFFICIENT_STOCK", available: 1 }],
    });
    const more = await cartOp(`mutation ($c: ID!, $p: ID!) { addCartLines(cartId: $c, lines: [{ productId: $p, quantity: 3 }]) { lines { quantity } } }`, { c: cartId, p: a.id });
    expect((more.body.data!.addCartLines as any).lines[0].quantity).toBe(5);

    await stack.prisma.products.product.update({ where: { id: a.id }, data: { status: "ARCHIVED" } });
    await stack.prisma.inventory.stockItem.update({ where: { productId: b.id }, data: { onHand: 0 } });
    const flagged = await cartOp(`query ($c: ID!) { cart(id: $c) { ${CART_FIELDS} } }`, { c: cartId });
    expect((flagged.body.data!.cart as any).lines.map((l: any) => l.status)).toEqual(["ARCHIVED", "OUT_OF_STOCK"]);

    const updated = await cartOp(`mutation ($c: ID!, $p: ID!) { updateCartLines(cartId: $c, lines: [{ productId: $p, quantity: 0 }]) { lines { product { id } } } }`, { c: cartId, p: b.id });
    expect((updated.body.data!.updateCartLines as any).lines).toEqual([{ product: { id: a.id } }]);
    const removed = await cartOp(`mutation ($c: ID!, $p: ID!) { removeCartLines(cartId: $c, productIds: [$p]) { totalQuantity subtotal { amount } checkoutReady } }`, { c: cartId, p: a.id });
    expect(removed.body.data!.removeCartLines).toEqual({ totalQuantity: 0, subtotal: null, checkoutReady: false });
  });

  it("refuses bad lines with a code and leaves the cart as it was", async () => {
    const product = await stockedProduct(stack, 10);
    const archived = await stockedProduct(stack, 10, { status: "ARCHIVED" });
    const created = await cartOp(`mutation ($p: ID!) { createCart(lines: [{ productId: $p, quantity: 99 }]) { id } }`, { p: product.id });
    const cartId = (created.body.data!.createCart as any).id;
    const add = `mutation ($c: ID!, $l: [CartLineInput!]!) { addCartLines(cartId: $c, lines: $l) { id } }`;
    expect((await cartOp(add, { c: cartId, l: [{ productId: product.id, quantity: 2 }] })).body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "quantity", limit: 100 });
    expect((await cartOp(add, { c: cartId, l: [{ productId: product.id, quantity: 0 }] })).body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "quantity" });
    expect((await cartOp(add, { c: cartId, l: [{ productId: archived.id, quantity: 1 }] })).body.errors![0]!.extensions).toMatchObject({ code: "PRODUCT_UNAVAILABLE", productIds: [archived.id] });
    expect((await cartOp(add, { c: cartId, l: [{ productId: "nope", quantity: 1 }] })).body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "productId" });
    expect((await cartOp(add, { c: randomUUID(), l: [{ productId: product.id, quantity: 1 }] })).body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    const lines = await stack.prisma.orders.cartLine.findMany({ where: { cartId } });
    expect(lines.map((l) => [l.productId, l.quantity])).toEqual([[product.id, 99]]);
  });

  it("signing in merges the guest cart into the customer's cart, and the guest cart id stops working", async () => {
    const a = await stockedProduct(stack, 10);
    const b = await stockedProduct(stack, 10);
    const shopper = await customer(stack);
    const mine = await cartOp(`mutation ($p: ID!) { createCart(lines: [{ productId: $p, quantity: 1 }]) { id } }`, { p: a.id }, shopper.headers);
    const guest = await cartOp(`mutation ($a: ID!, $b: ID!) { createCart(lines: [{ productId: $a, quantity: 2 }, { productId: $b, quantity: 1 }]) { id } }`, { a: a.id, b: b.id });
    const guestId = (guest.body.data!.createCart as any).id;
    const attached = await cartOp(`mutation ($c: ID!) { attachCart(cartId: $c) { id lines { product { id } quantity } } }`, { c: guestId }, shopper.headers);
    expect(attached.body.data!.attachCart).toEqual({
      id: (mine.body.data!.createCart as any).id,
      lines: [{ product: { id: a.id }, quantity: 3 }, { product: { id: b.id }, quantity: 1 }],
    });
    expect((await cartOp(`query ($c: ID!) { cart(id: $c) { id } }`, { c: guestId })).body.data).toEqual({ cart: null });
    const my = await cartOp(`{ myCart { totalQuantity } }`, {}, shopper.headers);
    expect(my.body.data).toEqual({ myCart: { totalQuantity: 4 } });
  });

  it("an expired cart is gone for everyone, and the hourly purge deletes it", async () => {
    const product = await stockedProduct(stack, 10);
    const created = await cartOp(`mutation ($p: ID!) { createCart(lines: [{ productId: $p, quantity: 1 }]) { id } }`, { p: product.id });
    const cartId = (created.body.data!.createCart as any).id;
    await stack.prisma.orders.cart.update({ where: { id: cartId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await cartOp(`query ($c: ID!) { cart(id: $c) { id } }`, { c: cartId })).body.data).toEqual({ cart: null });
    const add = await cartOp(`mutation ($c: ID!, $p: ID!) { addCartLines(cartId: $c, lines: [{ productId: $p, quantity: 1 }]) { id } }`, { c: cartId, p: product.id });
    expect(add.body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    await stack.selling().jobs.send(JOB.cartsPurge, {});
    await eventually(async () => expect(await stack.prisma.orders.cart.count({ where: { id: cartId } })).toBe(0));
  });

  it("checkout of an empty cart is refused, and checking out the same cart twice with one key is one order", async () => {
    const product = await stockedProduct(stack, 10);
    const shopper = await customer(stack);
    const empty = await cartOp(`mutation { createCart { id } }`, {}, shopper.headers);
    const checkoutQuery = `mutation ($c: ID!, $a: AddressInput!, $k: String!) { checkout(cartId: $c, shippingAddress: $a, idempotencyKey: $k) { id } }`;
    const refused = await cartOp(checkoutQuery, { c: (empty.body.data!.createCart as any).id, a: ADDRESS, k: randomUUID() }, shopper.headers);
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "cartId" });

    const cart = await cartOp(`mutation ($p: ID!) { createCart(lines: [{ productId: $p, quantity: 2 }]) { id } }`, { p: product.id }, shopper.headers);
    const cartId = (cart.body.data!.createCart as any).id;
    const key = randomUUID();
    const first = await cartOp(checkoutQuery, { c: cartId, a: ADDRESS, k: key }, shopper.headers);
    const second = await cartOp(checkoutQuery, { c: cartId, a: ADDRESS, k: key }, shopper.headers);
    expect((second.body.data!.checkout as any).id).toBe((first.body.data!.checkout as any).id);
    const otherAddress = await cartOp(checkoutQuery, { c: cartId, a: { ...ADDRESS, city: "Hamburg" }, k: key }, shopper.headers);
    expect(otherAddress.body.errors![0]!.extensions!.code).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await stockOf(stack, product.id)).toEqual({ onHand: 10, reserved: 2 });
  });
});
