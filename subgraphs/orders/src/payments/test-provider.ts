import { createHash } from "node:crypto";
import type { OrdersPrisma } from "../prisma.ts";
import type { CaptureRequest, CaptureResult, PaymentProvider } from "./provider.ts";

/**
 * Test card numbers, the way Stripe's test mode works: the number decides the outcome, so every
 * outcome can be produced on purpose. Any other well-formed number (13-19 digits, Luhn-valid)
 * succeeds; a malformed one is refused before the provider is called.
 */
export const TEST_CARDS = {
  "4242424242424242": null,
  "5555555555554444": null,
  "4000000000000002": "card_declined",
  "4000000000009995": "insufficient_funds",
  "4000000000000069": "expired_card",
} as const satisfies Record<string, string | null>;

export function isWellFormedCardNumber(number: string): boolean {
  if (!/^\d{13,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

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
