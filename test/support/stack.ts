import { randomUUID } from "node:crypto";
import {
  cacheInvalidator,
  createLogger,
  loadAuthConfig,
  startSubgraphService,
  type AuthConfig,
  type CacheInvalidator,
  type PeerUrls,
  type PostgresOptions,
  type PrismaLike,
  type StartedSubgraph,
  type SubgraphModule,
  type SubgraphServiceConfig,
} from "@catalog/common";
import { inventorySubgraph } from "@catalog/inventory";
import { ordersSubgraph } from "@catalog/orders";
import { productsSubgraph } from "@catalog/products";
import { usersSubgraph } from "@catalog/users";
import { inject } from "vitest";
import "./provided.ts";
import { loadGatewayConfig, subgraphEnvName } from "../../gateway/src/config.ts";
import type { Gateway } from "../../gateway/src/server.ts";
import { startGatewayService } from "../../gateway/src/service.ts";
import { startSystem } from "../../scripts/system.ts";
import { TEST_AUTH_ENV, testAuthConfig } from "./auth.ts";


export const logger = createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent");

/** Subgraph settings for tests: job workers poll often, so tests waiting on a job wait little. */
export const TEST_SUBGRAPH_ENV: Record<string, string> = {
  ORDER_JOBS_POLL_SECONDS: "0.5",
  // Orders' job workers run only in the selling stacks, each on its own queue schema: on the
  // shared one, every stack's worker could take the minutely sweep, whose reads then land in
  // whatever another file's test is counting (countStatements).
  ORDER_JOBS_ENABLED: "false",
  // The availability replica follows inventory only in stacks that test it (subgraphEnv
  // STOCK_SYNC_INTERVAL_MS): every stack replicates the one inventory database all test files
  // share, and its purges would reach the cached answers other files' tests are checking.
  STOCK_SYNC_INTERVAL_MS: "0",
};

type Prismas = {
  users: ReturnType<typeof usersSubgraph.createPrisma>;
  products: ReturnType<typeof productsSubgraph.createPrisma>;
  orders: ReturnType<typeof ordersSubgraph.createPrisma>;
  inventory: ReturnType<typeof inventorySubgraph.createPrisma>;
};

export interface Stack {
  gatewayUrl: string;
  gateway: Gateway;
  subgraphs: Record<keyof Prismas, StartedSubgraph<PrismaLike>>;
  prisma: Prismas;
  /** The Redis this stack's gateway and subgraphs share, and its key prefix (one per stack). */
  redisUrl: string;
  redisPrefix: string;
  /** Where subgraphs reach a peer from now on (e.g. a dead address, or a fault-injecting proxy). */
  setPeerUrl(name: string, url: string): void;
  close(): Promise<void>;
}

/** A subgraph as tests run it: port 0, this run's real PostgreSQL database (already migrated), no seed. */
function testSubgraphConfig(
  module: { name: keyof Prismas },
  options: { databaseUrl?: string; auth?: AuthConfig; env?: Record<string, string>; pool?: PostgresOptions },
): SubgraphServiceConfig {
  return {
    port: 0,
    host: "127.0.0.1",
    logLevel: "silent",
    introspection: true,
    migrate: false,
    seed: false,
    database: {
      kind: "postgres",
      url: options.databaseUrl ?? inject("databaseUrls")[module.name],
      // A generous queue: on a loaded 2-core machine a burst (50 checkouts at once) can keep five
      // connections busy for seconds, and these tests are about what happens, not how fast. The
      // pool test sets its own short limits.
      pool: { poolSize: 5, acquireTimeoutMs: 15_000, ...options.pool },
      create: false,
    },
    redis: undefined,
    auth: options.auth ?? testAuthConfig,
    peerUrls: {},
    shutdownGraceMs: 10_000,
    settings: { ...TEST_SUBGRAPH_ENV, ...options.env },
  };
}

/** Starts one subgraph on port 0 against a real PostgreSQL database (default: this run's). */
export async function startTestSubgraph<P extends PrismaLike>(
  module: SubgraphModule<P>,
  options: {
    peers?: PeerUrls;
    databaseUrl?: string;
    auth?: AuthConfig;
    cache?: CacheInvalidator;
    env?: Record<string, string>;
    pool?: PostgresOptions;
  } = {},
): Promise<StartedSubgraph<P>> {
  return startSubgraphService(module, testSubgraphConfig(module, options), {
    logger,
    peers: options.peers ?? (() => undefined),
    cache: options.cache ?? cacheInvalidator(undefined, logger),
  });
}

/** What every test gateway is told unless a test says otherwise. */
const TEST_GATEWAY_ENV: Record<string, string> = {
  // Tests run every service in one process, where loading a module can hold the event loop for
  // a second: that is not overload. The load-shedding test turns shedding on for its gateway.
  SHED_EVENT_LOOP_DELAY_MS: "0",
  // Every test file calls from 127.0.0.1, and a test's steady load can pass the default 300
  // anonymous requests a minute on a fast machine: budgets no test reaches by accident. The
  // rate-limit tests set their own (an extra gateway's env comes last).
  RATE_LIMIT_ANONYMOUS_POINTS: "1000000",
  RATE_LIMIT_POINTS: "1000000",
  SIGNIN_RATE_LIMIT_POINTS: "1000000",
  REVIEW_RATE_LIMIT_POINTS: "1000000",
};

/**
 * The real system: four subgraphs and the gateway, each on its own port-0 HTTP server. Auth
 * variables in `env` (JWT_*, INTERNAL_AUTH_*) apply to the subgraphs too; with JWT_ALGORITHM=RS256
 * and no key source, the gateway fetches the users subgraph's JWKS.
 */
export async function startStack(
  env: Record<string, string> = {},
  options: { orders?: SubgraphModule<Prismas["orders"]>; subgraphEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const authEnv = { ...TEST_AUTH_ENV, ...env };
  const auth = loadAuthConfig(authEnv);
  // Each subgraph parses the settings it knows (orders' ORDER_*, products' STOCK_SYNC_*).
  const subgraphEnv = options.subgraphEnv ? { env: options.subgraphEnv } : {};
  // Each stack has Redis keys of its own, so one file's cached responses never answer another's.
  const redisPrefix = env.REDIS_KEY_PREFIX ?? `${inject("redisPrefix")}${randomUUID().slice(0, 8)}:`;
  const redisUrl = env.REDIS_URL ?? inject("redisUrl");
  const system = await startSystem({
    logger,
    modules: { users: usersSubgraph, products: productsSubgraph, orders: options.orders ?? ordersSubgraph, inventory: inventorySubgraph },
    subgraphs: {
      users: testSubgraphConfig(usersSubgraph, { auth, ...subgraphEnv }),
      products: testSubgraphConfig(productsSubgraph, { auth, ...subgraphEnv }),
      orders: testSubgraphConfig(ordersSubgraph, { auth, ...subgraphEnv }),
      inventory: testSubgraphConfig(inventorySubgraph, { auth, ...subgraphEnv }),
    },
    gateway: (urls) =>
      loadGatewayConfig(
        {
          NODE_ENV: "test",
          ...TEST_GATEWAY_ENV,
          ...authEnv,
          ...(authEnv.JWT_ALGORITHM === "RS256" && !authEnv.JWT_PUBLIC_KEY && !authEnv.JWT_JWKS_URL
            ? { JWT_JWKS_URL: `${urls.users}/.well-known/jwks.json` }
            : {}),
        },
        { port: 0, host: "127.0.0.1" },
      ),
    redis: { url: redisUrl, keyPrefix: redisPrefix },
  });
  const { users, products, orders, inventory } = system.subgraphs;
  return {
    gatewayUrl: system.gateway.url,
    gateway: system.gateway.gateway,
    subgraphs: { users, products, orders, inventory },
    prisma: { users: users.prisma, products: products.prisma, orders: orders.prisma, inventory: inventory.prisma },
    redisUrl,
    redisPrefix,
    setPeerUrl: system.setPeerUrl,
    close: () => system.close(),
  };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: T | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  };
}

/** A counter's value at a gateway's /metrics (0 when the series does not exist yet). */
export async function metricValue(baseUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Response bodies in tests are read as loosely as a client would read them. */
export const json = (response: Response): Promise<any> => response.json();

export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url.endsWith("/graphql") ? url : `${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResponse<T>["body"] };
}

/**
 * Counts the SQL statements each subgraph sends while `run` executes: Prisma's, and the hot reads
 * that go straight to the driver (Database.read).
 */
export async function countStatements(stack: Stack, run: () => Promise<void>): Promise<Record<string, number>> {
  const counts: Record<string, number> = { users: 0, products: 0, orders: 0, inventory: 0 };
  const listeners = Object.entries(stack.prisma).map(([name, client]) => {
    let active = true;
    (client as { $on(event: "query", cb: () => void): void }).$on("query", () => {
      if (active) counts[name]!++;
    });
    const stopReads = stack.subgraphs[name as keyof Stack["subgraphs"]].db.onRead(() => {
      counts[name]!++;
    });
    return () => {
      active = false;
      stopReads();
    };
  });
  await run();
  for (const stop of listeners) stop();
  return counts;
}

/** Another gateway on a running stack's subgraphs, with some config replaced; stopped by the caller. */
export async function startExtraGateway(stack: Stack, env: Record<string, string>): Promise<{ url: string; gateway: Gateway; close(): Promise<void> }> {
  const config = loadGatewayConfig({ ...TEST_AUTH_ENV, ...TEST_GATEWAY_ENV, ...env });
  // The stack's subgraphs and partner-key resolver, where `env` names no other.
  const stackUrls = Object.fromEntries(Object.entries(stack.gateway.subgraphUrls).map(([name, url]) => [subgraphEnvName(name), url]));
  const service = await startGatewayService(
    {
      ...config,
      port: 0,
      host: "127.0.0.1",
      subgraphUrls: { ...stackUrls, ...config.subgraphUrls },
      partnerKeysUrl: config.partnerKeysUrl ?? `${stack.subgraphs.users.url}/internal/partners/resolve`,
    },
    { logger },
  );
  return { url: service.url, gateway: service.gateway, close: () => service.close() };
}
