import { badUserInput, parseId } from "@catalog/common";
import { z } from "zod";

/**
 * Currencies we accept. A closed list (rather than "three capital letters") means a typo such as
 * "USS" is rejected at the API instead of becoming a price no one can pay.
 */
export const CURRENCIES = new Set([
  "USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF",
  "INR", "CNY", "HKD", "SGD", "KRW", "MXN", "BRL", "ZAR", "TRY", "ILS", "AED",
]);

const MAX_AMOUNT = 99_999_999.99;

/** Whether `value` holds a control character (a description may hold tabs and line breaks). */
function hasControl(value: string, allowLines = false): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 || code === 0x7f) && !(allowLines && (code === 0x09 || code === 0x0a || code === 0x0d))) return true;
  }
  return false;
}
const name = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .refine((value) => !hasControl(value), "must not contain control characters");
const description = z
  .string()
  .max(5000, "must be at most 5000 characters")
  .refine((value) => !hasControl(value, true), "must not contain control characters other than tabs and line breaks");
const money = z.object({
  amount: z
    .string()
    .refine((value) => Number(value) >= 0, "must not be negative")
    .refine((value) => Number(value) <= MAX_AMOUNT, `must be at most ${MAX_AMOUNT}`),
  currency: z
    .string()
    .transform((value) => value.trim().toUpperCase())
    .refine((value) => CURRENCIES.has(value), "must be a supported ISO 4217 currency code such as USD"),
});
const imageUrls = z
  .array(
    z
      .string()
      .max(2000)
      .refine((value) => /^https:\/\/[^\s]+$/.test(value), "must be https URLs"),
  )
  .max(20, "at most 20 images");
const weightGrams = z.number().int().min(0, "must not be negative").max(1_000_000, "must be at most 1,000,000 grams");

export const createProductInput = z.object({
  sku: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/, "must be 2 to 64 letters, digits, dots, dashes or underscores")
    .transform((value) => value.toUpperCase()),
  name,
  description: description.nullish().transform((value) => value ?? ""),
  price: money,
  imageUrls: imageUrls.nullish().transform((value) => value ?? []),
  weightGrams,
  categoryId: z.string(),
  status: z.enum(["ACTIVE", "ARCHIVED"]).nullish(),
});

export const updateProductInput = z.object({
  name: name.nullish(),
  description: description.nullish(),
  price: money.nullish(),
  imageUrls: imageUrls.nullish(),
  weightGrams: weightGrams.nullish(),
  categoryId: z.string().nullish(),
  status: z.enum(["ACTIVE", "ARCHIVED"]).nullish(),
});

const categoryName = z.string().trim().min(1, "must not be empty").max(120, "must be at most 120 characters");
const categorySlug = z
  .string()
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "must be lower-case letters and digits separated by single dashes")
  .max(120);

export const createCategoryInput = z.object({ name: categoryName, slug: categorySlug.nullish(), parentId: z.string().nullish() });

export const updateCategoryInput = z.object({ name: categoryName.nullish(), slug: categorySlug.nullish() });

/** Parses mutation input; the first problem becomes a BAD_USER_INPUT naming the field. */
export function validate<T extends z.ZodType>(schema: T, input: unknown, prefix = "input"): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = [prefix, ...issue.path].join(".");
    throw badUserInput(`${field} ${issue.message}.`, field);
  }
  return result.data;
}

export function optionalId(value: string | null | undefined, argument: string): string | undefined {
  return value === null || value === undefined ? undefined : parseId(value, argument);
}

/** SKUs are stored upper-case; lookups by SKU normalise the same way. Undefined when it cannot be one. */
export function normalizeSku(value: string): string | undefined {
  const sku = value.trim().toUpperCase();
  return sku.length >= 1 && sku.length <= 64 ? sku : undefined;
}

/**
 * A URL-safe slug from a display name: accents folded ("Crème" -> "creme"), "&" spelled out,
 * everything else non-alphanumeric collapsed to single dashes, cut to 120 characters before the
 * edges are trimmed so it never ends in a dash.
 */
export function slugOf(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/&/g, " and ")
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 120)
    .replace(/^-+|-+$/g, "");
}

const rating = z.number().int("must be a whole number").min(1, "must be 1 to 5").max(5, "must be 1 to 5");
const reviewTitleText = z.string().trim().max(120, "must be at most 120 characters");
/** Blank titles are no title. */
const reviewTitle = reviewTitleText.nullish().transform((value) => (value ? value : null));
const reviewBody = z.string().trim().min(10, "must be at least 10 characters").max(5000, "must be at most 5000 characters");

export const createReviewInput = z.object({ productId: z.string(), rating, title: reviewTitle, body: reviewBody });

export const updateReviewInput = z.object({
  rating: rating.nullish(),
  // undefined: unchanged; null or blank: removed.
  title: reviewTitleText.nullish(),
  body: reviewBody.nullish(),
});

export const hideReason = z.string().trim().max(500, "must be at most 500 characters").nullish();
