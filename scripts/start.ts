// npm start: the whole system in one process: four subgraphs and the gateway.
// With no DATABASE_URL it runs on embedded PostgreSQL (PGlite) under .data/, seeded on first start;
// with no REDIS_URL the gateway caches in process. `npm run start:fresh` wipes .data/ first.
import path from "node:path";
import {
  cacheInvalidator,
  createLogger,
  databasePoolEnv,
  demoSeedAllowed,
  memoryResponseCacheStore,
  openPurgeStore,
  listen,
  loadAuthConfig,
  openSubgraphDatabase,
  parseEnv,
  port,
  REPO_ROOT,
  SEED_DEMO_PASSWORD,
  startSubgraph,
  subgraphAuth,
  type PrismaLike,
  type StartedSubgraph,
} from "@catalog/common";
import { z } from "zod";
import { loadGatewayConfig } from "../gateway/src/config.ts";
import { buildGateway } from "../gateway/src/server.ts";
import { devSecrets } from "./dev-secrets.ts";
import { subgraphModules } from "./subgraph-modules.ts";

const started = Date.now();
const env = parseEnv(
  z.object({
    DATA_DIR: z.string().default(path.join(REPO_ROOT, ".data")),
    /** First subgraph port (users); the others follow. 0 lets the OS pick free ports. */
    SUBGRAPH_PORT_BASE: port(4001),
    LOG_LEVEL: z.string().default("warn"),
    REDIS_URL: z.url().optional(),
    REDIS_KEY_PREFIX: z.string().default("catalog:"),
    ...databasePoolEnv,
  }).loose(),
);
const fresh = process.argv.includes("--fresh");
const logger = createLogger("catalog", env.LOG_LEVEL);
let authEnv: Record<string, string | undefined>;
let auth: ReturnType<typeof loadAuthConfig>;
let seed: boolean;
try {
  seed = demoSeedAllowed(process.env.NODE_ENV, process.env.SEED_ON_START);
  authEnv = { ...process.env, ...(await devSecrets(process.env, env.DATA_DIR)) };
  auth = loadAuthConfig(authEnv);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
// One response cache for the gateway and the subgraphs that purge it: Redis when REDIS_URL is
// set (as separate processes would share it), else in this process.
const purge = env.REDIS_URL ? await openPurgeStore(env.REDIS_URL, { keyPrefix: env.REDIS_KEY_PREFIX, logger }) : undefined;
const invalidationRedis = purge?.redis;
const responseCache = purge?.store ?? memoryResponseCacheStore();
const cache = cacheInvalidator(responseCache, logger);
const subgraphs: StartedSubgraph<PrismaLike>[] = [];
// Filled once every subgraph listens; subgraphs only look a peer up while serving a request.
const peerUrls = new Map<string, string>();
try {
  const results = await Promise.all(
    subgraphModules.map(async (module, index) => {
      const db = await openSubgraphDatabase(module.name, {
        env: process.env,
        dataDir: env.DATA_DIR,
        fresh,
        pool: { poolSize: env.DB_POOL_SIZE, acquireTimeoutMs: env.DB_POOL_ACQUIRE_TIMEOUT_MS },
      });
      return startSubgraph(module, {
        db,
        logger: logger.child({ subgraph: module.name }),
        port: env.SUBGRAPH_PORT_BASE === 0 ? 0 : env.SUBGRAPH_PORT_BASE + index,
        introspection: true,
        migrate: true,
        seed,
        peers: (name) => peerUrls.get(name),
        auth: subgraphAuth(module, auth),
        cache,
        env: process.env,
      });
    }),
  );
  subgraphs.push(...results);
  for (const s of subgraphs) peerUrls.set(s.name, `${s.url}/graphql`);
} catch (error) {
  logger.fatal({ err: error }, "a subgraph failed to start");
  console.error(`Could not start the subgraphs: ${(error as Error).message}`);
  process.exit(1);
}

const overrides = {
  ...Object.fromEntries(subgraphs.map((s) => [`${s.name.toUpperCase()}_SUBGRAPH_URL`, `${s.url}/graphql`])),
  // The users subgraph owns partners and resolves their API keys.
  PARTNER_KEYS_URL: `${subgraphs.find((s) => s.name === "users")!.url}/internal/partners/resolve`,
};
const config = loadGatewayConfig({ LOG_LEVEL: env.LOG_LEVEL, ...authEnv, ...overrides });
let gatewayUrl: string;
let closeGateway: () => Promise<void>;
try {
  // With Redis, the gateway opens its own store on it; in process, it must use the same one.
  const gateway = await buildGateway(config, logger.child({ service: "gateway" }), invalidationRedis ? {} : { responseCache });
  const server = await listen(gateway.app, config.port, config.host, gateway.listenOptions);
  gatewayUrl = server.url.replace("127.0.0.1", "localhost");
  closeGateway = async () => {
    await server.close();
    await gateway.stop();
  };
} catch (error) {
  console.error(`Could not start the gateway: ${(error as Error).message}`);
  await Promise.all(subgraphs.map((s) => s.close()));
  process.exit(1);
}

const embedded = subgraphs.every((s) => s.db.kind === "embedded");
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`
Catalog gateway ready in ${seconds}s${subgraphs.some((s) => s.seeded) ? " (seeded the demo catalog)" : ""}

  Apollo Sandbox   ${gatewayUrl}
  GraphQL          ${gatewayUrl}/graphql
  Health           ${gatewayUrl}/health, ${gatewayUrl}/ready
  Data             ${embedded ? `embedded PostgreSQL in ${env.DATA_DIR} (npm run start:fresh wipes it)` : "PostgreSQL (DATABASE_URL)"}
  Cache            ${config.redisUrl ? "Redis (REDIS_URL)" : "in-process"}
  Subgraphs        ${subgraphs.map((s) => `${s.name} ${s.url}/graphql`).join(", ")}

Try this in Sandbox (sign in with the login mutation as admin@example.com / ${SEED_DEMO_PASSWORD},
then add the header  Authorization: Bearer <accessToken>  to see orders and run mutations):

  {
    products(first: 3, filter: { search: "headphone" }) {
      edges { node { name price { amount currency } inStock
        reviews(first: 2) { rating author { fullName } } } }
    }
  }

`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await closeGateway();
  await Promise.all(subgraphs.map((s) => s.close()));
  invalidationRedis?.disconnect();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
