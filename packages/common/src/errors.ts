import { GraphQLError } from "graphql";

/**
 * The one small set of `extensions.code` values clients can rely on, across every subgraph and the
 * gateway. Adding a code is an API change: document it in README's "Errors" section.
 */
export const ErrorCode = {
  BAD_USER_INPUT: "BAD_USER_INPUT",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  INSUFFICIENT_STOCK: "INSUFFICIENT_STOCK",
  /** A subgraph this operation depends on did not answer; retrying later may succeed. */
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  /** Too many requests from this caller; `Retry-After` says when to try again. */
  RATE_LIMITED: "RATE_LIMITED",
  /** A subgraph, or the request as a whole, ran past its deadline. */
  GATEWAY_TIMEOUT: "GATEWAY_TIMEOUT",
  /** A subgraph answered with more bytes than the gateway accepts (SUBGRAPH_MAX_RESPONSE_BYTES). */
  SUBGRAPH_RESPONSE_TOO_LARGE: "SUBGRAPH_RESPONSE_TOO_LARGE",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
  /** Selling (docs/decisions/0009): an order's status cannot change that way, or not by this caller. */
  INVALID_STATUS_TRANSITION: "INVALID_STATUS_TRANSITION",
  /** An idempotency key already used for a different request. */
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  /** A product that cannot be bought: archived, or unknown. */
  PRODUCT_UNAVAILABLE: "PRODUCT_UNAVAILABLE",
  /** The lines of one order are priced in more than one currency. */
  CURRENCY_MISMATCH: "CURRENCY_MISMATCH",
  /** The payment provider declined the payment; the order is cancelled. */
  PAYMENT_DECLINED: "PAYMENT_DECLINED",
  /** The caller already has MAX_UNPAID_ORDERS orders waiting for payment (each holds stock). */
  TOO_MANY_UNPAID_ORDERS: "TOO_MANY_UNPAID_ORDERS",
  /** The checkout ran past CHECKOUT_RECOVERY_SECONDS and was abandoned; send it again. */
  CHECKOUT_EXPIRED: "CHECKOUT_EXPIRED",
  /** A password-reset token that is unknown, already used, superseded by a newer one, or expired. */
  INVALID_RESET_TOKEN: "INVALID_RESET_TOKEN",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function badUserInput(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, ...(field ? { field } : {}) },
  });
}

export function notFound(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.NOT_FOUND } });
}

export function coded(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export function conflict(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.CONFLICT, ...(field ? { field } : {}) },
  });
}

/** Codes that are safe to show a client as they are; anything else is masked. */
const PUBLIC_CODES = new Set<string>([
  ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR),
  // Apollo Server's own request-level codes.
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
  "BAD_REQUEST",
  "PAYLOAD_TOO_LARGE",
  // The gateway's limits (operation-limits.ts, rate-limit.ts, deadlines).
  "MAX_DEPTH_EXCEEDED",
  "MAX_ALIASES_EXCEEDED",
  "MAX_ROOT_FIELDS_EXCEEDED",
  "MAX_DIRECTIVES_EXCEEDED",
  "MAX_TOKENS_EXCEEDED",
  "MAX_COST_EXCEEDED",
  "BATCHING_DISABLED",
  "BATCH_TOO_LARGE",
  // Partners (persisted operations only).
  "PERSISTED_QUERY_ID_REQUIRED",
  "PERSISTED_QUERY_NOT_IN_LIST",
  // GraphQL over HTTP: the Accept header admits no JSON media type (406).
  "NOT_ACCEPTABLE",
]);

export function isPublicCode(code: unknown): boolean {
  return typeof code === "string" && PUBLIC_CODES.has(code);
}

interface KnownRequestError {
  code: string;
  meta?: { target?: unknown; modelName?: string; driverAdapterError?: unknown };
}

function isKnownRequestError(error: unknown): error is KnownRequestError {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof (error as { code: unknown }).code === "string" &&
    /^P\d{4}$/.test((error as { code: string }).code)
  );
}

/**
 * Some driver adapters (pglite-prisma-adapter, i.e. embedded mode) surface the raw PostgreSQL
 * error instead of a Prisma code: `DriverAdapterError` with `cause.kind === "postgres"` and the
 * SQLSTATE in `cause.code`.
 */
function postgresCause(error: unknown): { code: string; detail?: string } | undefined {
  const cause = (error as { cause?: { kind?: unknown; code?: unknown; detail?: unknown } } | null)?.cause;
  if (cause?.kind === "postgres" && typeof cause.code === "string") {
    return { code: cause.code, ...(typeof cause.detail === "string" ? { detail: cause.detail } : {}) };
  }
  return undefined;
}

const camel = (column: string) => column.replace(/_([a-z])/g, (_, char: string) => char.toUpperCase());

/**
 * Maps the database errors a client can cause to client errors, by Prisma error code or, where an
 * adapter reports raw PostgreSQL errors, by SQLSTATE. Anything else is rethrown unchanged, to be
 * masked and logged as an internal error: we never guess a cause.
 */
export function mapPrismaError(
  error: unknown,
  messages: { unique?: (target: string) => string; notFound?: string } = {},
): never {
  const unique = (target: string) =>
    conflict(messages.unique?.(target) ?? `A record with this ${target} already exists.`, target);
  if (isKnownRequestError(error)) {
    switch (error.code) {
      case "P2002":
        throw unique(uniqueTarget(error));
      case "P2025":
        throw notFound(messages.notFound ?? "The record does not exist.");
      case "P2003":
        throw badUserInput("A referenced record does not exist.");
      case "P2020":
        throw badUserInput("A number is out of range.");
    }
  }
  const postgres = postgresCause(error);
  switch (postgres?.code) {
    case "23505": {
      const column = /^Key \(([a-z_]+)\)=/.exec(postgres.detail ?? "")?.[1];
      throw unique(column ? camel(column) : "value");
    }
    case "23503":
      throw badUserInput("A referenced record does not exist.");
    case "22003":
      throw badUserInput("A number is out of range.");
  }
  throw error;
}

function uniqueTarget(error: KnownRequestError): string {
  const target = error.meta?.target;
  if (Array.isArray(target)) return target.map(String).map(camel).join(", ");
  if (typeof target === "string") return camel(target);
  // adapter-pg reports the constraint's fields under driverAdapterError.cause.constraint.
  const cause = (error.meta?.driverAdapterError as { cause?: { constraint?: { fields?: string[] } } })?.cause;
  const fields = cause?.constraint?.fields;
  if (fields?.length) return fields.map((f) => camel(f.replace(/"/g, ""))).join(", ");
  return "value";
}

/** What pg-pool rejects with when no connection frees up within `connectionTimeoutMillis`. */
const POOL_TIMEOUT_MESSAGE = "timeout exceeded when trying to connect";

/** Every connection stayed busy for the whole queue timeout: the caller should come back shortly. */
export class DatabaseBusy extends Error {
  override name = "DatabaseBusy";
}

/**
 * A request failed because the database pool had no connection for it in time: pg's own
 * rejection, as Prisma and the raw reads pass it on (found through `originalError`/`cause`).
 */
export function isPoolExhausted(error: unknown): boolean {
  for (let current = error, hops = 0; current instanceof Error && hops < 5; hops++) {
    if (current instanceof DatabaseBusy || current.message === POOL_TIMEOUT_MESSAGE) return true;
    current = (current as { originalError?: unknown }).originalError ?? current.cause;
  }
  return false;
}
