import path from "node:path";
import { logLevel, parseEnv, port, REPO_ROOT, SUBGRAPHS, type SubgraphName } from "@catalog/common";
import { z } from "zod";

const DEV_ORIGINS = ["https://studio.apollographql.com", "https://sandbox.embed.apollographql.com"];

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: port(4000),
  HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: logLevel,
  SUPERGRAPH_PATH: z.string().default(path.join(REPO_ROOT, "schema", "supergraph.graphql")),
  USERS_SUBGRAPH_URL: z.url().optional(),
  PRODUCTS_SUBGRAPH_URL: z.url().optional(),
  ORDERS_SUBGRAPH_URL: z.url().optional(),
  INVENTORY_SUBGRAPH_URL: z.url().optional(),
  REDIS_URL: z.url().optional(),
  REDIS_KEY_PREFIX: z.string().default("catalog:"),
  APQ_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  CORS_ORIGINS: z.string().optional(),
  /** Unset: on outside production. */
  INTROSPECTION: z
    .enum(["true", "false", "1", "0"])
    .optional()
    .transform((value) => (value === undefined ? undefined : value === "true" || value === "1")),
});

export interface GatewayConfig {
  env: "development" | "production" | "test";
  port: number;
  host: string;
  logLevel: string;
  supergraphPath: string;
  /** Overrides of the URLs in the supergraph, by subgraph name. */
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  apqTtlSeconds: number;
  subgraphTimeoutMs: number;
  corsOrigins: string[];
  /** Sandbox and introspection: on outside production unless INTROSPECTION says otherwise. */
  introspection: boolean;
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const parsed = parseEnv(schema, env);
  const production = parsed.NODE_ENV === "production";
  const subgraphUrls: Partial<Record<SubgraphName, string>> = {};
  for (const name of SUBGRAPHS) {
    const url = parsed[`${name.toUpperCase()}_SUBGRAPH_URL` as "USERS_SUBGRAPH_URL"];
    if (url) subgraphUrls[name] = url;
  }
  return {
    env: parsed.NODE_ENV,
    port: parsed.PORT,
    host: parsed.HOST,
    logLevel: parsed.LOG_LEVEL,
    supergraphPath: parsed.SUPERGRAPH_PATH,
    subgraphUrls,
    redisUrl: parsed.REDIS_URL,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX,
    apqTtlSeconds: parsed.APQ_TTL_SECONDS,
    subgraphTimeoutMs: parsed.SUBGRAPH_TIMEOUT_MS,
    corsOrigins: parsed.CORS_ORIGINS
      ? parsed.CORS_ORIGINS.split(",").map((origin) => origin.trim()).filter(Boolean)
      : production
        ? []
        : DEV_ORIGINS,
    introspection: parsed.INTROSPECTION ?? !production,
  };
}
