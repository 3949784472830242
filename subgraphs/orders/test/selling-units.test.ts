import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWellFormedCardNumber } from "../src/payments/card.ts";
import { testPaymentProvider, TEST_CARDS } from "../src/payments/test-provider.ts";
import { ordersSettings } from "../src/settings.ts";
import { canTransition, type ActorKind } from "../src/workflow.ts";
import { ordersSubgraph } from "../src/module.ts";
import type { OrderStatus, OrdersPrisma } from "../src/prisma.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";

let h: SubgraphHarness<OrdersPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(ordersSubgraph, { env: { ORDER_JOBS_ENABLED: "false" } });
});
afterAll(async () => {
  await h?.close();
});

describe("the status workflow's table", () => {
  const STATUSES: OrderStatus[] = ["PENDING", "PROCESSING", "SHIPPED", "DELIVERED", "CANCELLED"];
  const ACTORS: ActorKind[] = ["CUSTOMER", "PARTNER", "ADMIN", "SYSTEM"];
  // The README's diagram, edge by edge; everything else is refused.
  const ALLOWED = new Set([
    "PENDING>PROCESSING:SYSTEM",
    "PENDING>CANCELLED:CUSTOMER",
    "PENDING>CANCELLED:PARTNER",
    "PENDING>CANCELLED:ADMIN",
    "PENDING>CANCELLED:SYSTEM",
    "PROCESSING>SHIPPED:ADMIN",
    "PROCESSING>CANCELLED:CUSTOMER",
    "PROCESSING>CANCELLED:PARTNER",
    "PROCESSING>CANCELLED:ADMIN",
    "SHIPPED>DELIVERED:ADMIN",
  ]);

  it("allows exactly the documented moves, for exactly the documented actors", () => {
    const allowed = [];
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        for (const kind of ACTORS) {
          if (canTransition(from, to, { kind, userId: null })) allowed.push(`${from}>${to}:${kind}`);
        }
      }
    }
    expect(new Set(allowed)).toEqual(ALLOWED);
  });
});

describe("the test payment provider", () => {
  it("answers by card number, the same way every time under one key", async () => {
    const provider = testPaymentProvider(h.prisma);
    for (const [card, decline] of Object.entries(TEST_CARDS)) {
      const key = `test-${randomUUID()}`;
      const first = await provider.capture({ idempotencyKey: key, amount: "10.00", currency: "USD", source: { cardNumber: card } });
      expect(first.status).toBe(decline ? "DECLINED" : "CAPTURED");
      if (first.status === "DECLINED") expect(first.declineCode).toBe(decline);
      // A retried capture (even with another card) is the first one again: no second charge.
      expect(await provider.capture({ idempotencyKey: key, amount: "10.00", currency: "USD", source: { cardNumber: "4242424242424242" } })).toEqual(first);
      expect(await provider.resolve(key)).toEqual(first);
    }
  });

  it("resolving a key it never captured voids it: a capture arriving later is declined", async () => {
    const provider = testPaymentProvider(h.prisma);
    const key = `test-${randomUUID()}`;
    expect(await provider.resolve(key)).toBeNull();
    const late = await provider.capture({ idempotencyKey: key, amount: "5.00", currency: "USD", source: { cardNumber: "4242424242424242" } });
    expect(late).toMatchObject({ status: "DECLINED", declineCode: "voided" });
  });

  it("accepts only well-formed card numbers (13 to 19 digits, Luhn)", () => {
    expect(isWellFormedCardNumber("4242424242424242")).toBe(true);
    expect(isWellFormedCardNumber("4242424242424241")).toBe(false);
    expect(isWellFormedCardNumber("4242")).toBe(false);
    expect(isWellFormedCardNumber("4242-4242-4242-4242")).toBe(false);
  });
});

describe("the orders subgraph's settings", () => {
  it("are parsed at boot, and a bad value names itself", () => {
    expect(ordersSettings({}).paymentTimeoutSeconds).toBe(1800);
    // Every problem at once, as a service should at boot.
    const boot = () => ordersSettings({ ORDER_PAYMENT_TIMEOUT_SECONDS: "soon", PAYMENT_PROVIDER: "paypal" });
    expect(boot).toThrow(/ORDER_PAYMENT_TIMEOUT_SECONDS/);
    expect(boot).toThrow(/PAYMENT_PROVIDER/);
    expect(() => ordersSettings({ ORDER_JOBS_SCHEMA: "jobs; drop table orders" })).toThrow(/ORDER_JOBS_SCHEMA/);
  });
});
