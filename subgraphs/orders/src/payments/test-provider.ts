import { createHash } from "node:crypto";
import type { OrdersPrisma } from "../prisma.ts";
import type { CaptureRequest, CaptureResult, PaymentProvider } from "./provider.ts";

/**
 * Test card numbers, the way Stripe's test mode works: the number decides the outcome, so every
 * outcome can be produced on purpose. Any other well-formed number succeeds (malformed ones are
 * refused before any provider is called: card.ts).
 */
export const TEST_CARDS = {
  "4242424242424242": null,
  "5555555555554444": null,
  "4000000000000002": "card_declined",
  "4000000000009995": "insufficient_funds",
  "4000000000000069": "expired_card",
} as const satisfies Record<string, string | null>;

/**
 * The built-in provider. Its ledger lives in a table of the orders database, standing in for the
 * provider's own records: a capture it recorded survives a crash of the orders service exactly
 * as one at a real provider would, so recovery can be tested for real.
 */
export function testPaymentProvider(prisma: OrdersPrisma): PaymentProvider {
  const toResult = (row: { outcome: string; reference: string; declineCode: string | null }): CaptureResult =>
    row.outcome === "CAPTURED"
      ? { status: "CAPTURED", reference: row.reference }
      : { status: "DECLINED", reference: row.reference, declineCode: row.declineCode ?? "card_declined" };
  const referenceFor = (key: string) => `test_ch_${createHash("sha256").update(key).digest("hex").slice(0, 24)}`;
  return {
    name: "test",
    async capture(request: CaptureRequest) {
      const declineCode = TEST_CARDS[request.source.cardNumber as keyof typeof TEST_CARDS] ?? null;
      const reference = referenceFor(request.idempotencyKey);
      // Same key, same answer: the first capture under a key is the only one.
      await prisma.$executeRaw`
        INSERT INTO test_provider_charges (idempotency_key, reference, outcome, decline_code, amount, currency)
        VALUES (${request.idempotencyKey}, ${reference}, ${declineCode ? "DECLINED" : "CAPTURED"}, ${declineCode},
                ${request.amount}::numeric, ${request.currency})
        ON CONFLICT (idempotency_key) DO NOTHING`;
      const row = await prisma.testProviderCharge.findUniqueOrThrow({ where: { idempotencyKey: request.idempotencyKey } });
      return toResult(row);
    },
    async resolve(idempotencyKey) {
      // A VOIDED row makes any later capture under this key a decline ("voided").
      await prisma.$executeRaw`
        INSERT INTO test_provider_charges (idempotency_key, reference, outcome, decline_code, amount, currency)
        VALUES (${idempotencyKey}, ${referenceFor(idempotencyKey)}, 'VOIDED', 'voided', 0, 'XXX')
        ON CONFLICT (idempotency_key) DO NOTHING`;
      const row = await prisma.testProviderCharge.findUniqueOrThrow({ where: { idempotencyKey } });
      return row.outcome === "VOIDED" ? null : toResult(row);
    },
    async refund({ reference }) {
      await prisma.testProviderCharge.updateMany({ where: { reference, outcome: "CAPTURED" }, data: { refunded: true } });
    },
  };
}
