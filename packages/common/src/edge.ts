/**
 * What the gateway needs from the shared package: no database drivers (pg, PGlite, Prisma's
 * adapters), no subgraph server. Importing the whole package loads those too, which cost the
 * gateway's process tens of megabytes it never uses (`@catalog/common/edge`).
 */
export * from "./error-masking.ts";
export * from "./errors.ts";
export * from "./http.ts";
export * from "./lifecycle.ts";
export * from "./ids.ts";
export * from "./logger.ts";
export * from "./paths.ts";
export * from "./request-id.ts";
export * from "./config.ts";
export * from "./input-guard.ts";
export * from "./auth/viewer.ts";
export * from "./auth/auth-config.ts";
export * from "./auth/access-tokens.ts";
export * from "./auth/internal-identity.ts";
export * from "./redis.ts";
export * from "./response-cache/store.ts";
export * from "./graphql-http.ts";
export * from "./bounded-map.ts";
export * from "./metric-labels.ts";
export * from "./input-depth.ts";
