import { GraphQLError, GraphQLScalarType, Kind } from "graphql";
import { ErrorCode } from "./errors.ts";

const DECIMAL = /^-?\d{1,10}(\.\d{1,2})?$/;

function decimalInput(value: unknown): string {
  const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== "string" || !DECIMAL.test(text)) {
    throw new GraphQLError(
      `Decimal must be a string such as "19.99" with at most 2 decimal places, got ${JSON.stringify(value)}.`,
      { extensions: { code: ErrorCode.BAD_USER_INPUT } },
    );
  }
  return text;
}

/**
 * Exact decimal amounts travel as strings ("19.99"): a JSON number would pass through binary
 * floating point in most clients. Inputs accept a string, or a number with at most 2 decimals.
 */
export const DecimalScalar = new GraphQLScalarType({
  name: "Decimal",
  description: 'An exact decimal number, serialized as a string such as "19.99".',
  serialize(value) {
    if (typeof value === "string") return value;
    if (typeof value === "number") return value.toFixed(2);
    if (value && typeof (value as { toFixed?: unknown }).toFixed === "function") {
      return (value as { toFixed(dp: number): string }).toFixed(2);
    }
    throw new TypeError("Decimal cannot represent this value");
  },
  parseValue: decimalInput,
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) {
      return decimalInput(ast.kind === Kind.STRING ? ast.value : Number(ast.value));
    }
    return decimalInput(undefined);
  },
});

export const DateTimeScalar = new GraphQLScalarType({
  name: "DateTime",
  description: "An ISO-8601 timestamp in UTC, e.g. 2026-11-21T12:00:00.000Z.",
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === "string") return new Date(value).toISOString();
    throw new TypeError("DateTime cannot represent this value");
  },
  parseValue(value) {
    const date = typeof value === "string" ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) {
      throw new GraphQLError(`DateTime must be an ISO-8601 string, got ${JSON.stringify(value)}.`, {
        extensions: { code: ErrorCode.BAD_USER_INPUT },
      });
    }
    return date;
  },
});
