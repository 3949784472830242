/**
 * Each subgraph owns its own database on the same server. One `DATABASE_URL` names the server and a
 * base database name; subgraph `users` then uses `<base>_users`. A per-subgraph variable such as
 * `USERS_DATABASE_URL` overrides that for one subgraph.
 */
export const SUBGRAPHS = ["users", "products", "orders", "inventory"] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

/** Where each subgraph listens by default (and what the composed supergraph names). */
export const DEFAULT_SUBGRAPH_PORTS: Record<SubgraphName, number> = { users: 4001, products: 4002, orders: 4003, inventory: 4004 };

export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/catalog";

export function deriveDatabaseUrl(baseUrl: string, subgraph: string): string {
  const url = new URL(baseUrl);
  const base = decodeURIComponent(url.pathname.replace(/^\//, "")) || "catalog";
  url.pathname = `/${base}_${subgraph}`;
  return url.toString();
}

/** Resolves the URL a subgraph should use, or undefined when none is configured (embedded mode). */
export function configuredDatabaseUrl(
  subgraph: string,
  env: Record<string, string | undefined>,
): string | undefined {
  const own = env[`${subgraph.toUpperCase()}_DATABASE_URL`];
  if (own) return own;
  if (env.DATABASE_URL) return deriveDatabaseUrl(env.DATABASE_URL, subgraph);
  return undefined;
}

export function databaseUrlFor(
  subgraph: string,
  env: Record<string, string | undefined> = process.env,
): string {
  return configuredDatabaseUrl(subgraph, env) ?? deriveDatabaseUrl(DEFAULT_DATABASE_URL, subgraph);
}
