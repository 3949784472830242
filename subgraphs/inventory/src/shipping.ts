/**
 * A deliberately simple rate card: a base fee plus a fee per started kilogram; products in stock
 * ship from the warehouse, others wait for a delivery from the supplier.
 */
const BASE_CENTS = 499;
const PER_KG_CENTS = 150;

export function estimateShipping(weightGrams: number, available: number) {
  const kilograms = Math.max(1, Math.ceil(weightGrams / 1000));
  const cents = BASE_CENTS + (kilograms - 1) * PER_KG_CENTS;
  const inStock = available > 0;
  return {
    minDays: inStock ? 2 : 7,
    maxDays: inStock ? 4 : 14,
    cost: { amount: (cents / 100).toFixed(2), currency: "USD" },
  };
}
