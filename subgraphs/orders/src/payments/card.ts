/**
 * A card number worth sending to a provider at all: 13 to 19 digits with a valid Luhn check digit.
 * Whatever the provider, a typo is the client's mistake, answered before anything is recorded.
 */
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
