// npm start: the whole system in one process: four subgraphs and the gateway.
// With no DATABASE_URL it runs on embedded PostgreSQL (PGlite) under .data/, seeded on first start;
// with no REDIS_URL the gateway caches in process. `npm run start:fresh` wipes .data/ first.
import { createLogger, loadSubgraphConfig, SEED_DEMO_PASSWORD, stopOnSignal, type SubgraphServiceConfig } from "@catalog/common";
import { inventorySubgraph } from "@catalog/inventory";
import { ordersSubgraph } from "@catalog/orders";
import { productsSubgraph } from "@catalog/products";
import { usersSubgraph } from "@catalog/users";
import { loadGatewayConfig, type GatewayConfig } from "../gateway/src/config.ts";
import { devSecrets } from "./dev-secrets.ts";
import { loadSystemConfig, startSystem } from "./system.ts";

const started = Date.now();
const fresh = process.argv.includes("--fresh");
const modules = { users: usersSubgraph, products: productsSubgraph, orders: ordersSubgraph, inventory: inventorySubgraph };
let system: ReturnType<typeof loadSystemConfig>;
let gatewayConfig: GatewayConfig;
let subgraphConfigs: Record<keyof typeof modules, SubgraphServiceConfig>;
try {
  system = loadSystemConfig(process.env);
  const env = { ...process.env, ...(await devSecrets(process.env, system.dataDir)) };
  gatewayConfig = loadGatewayConfig(env);
  const subgraphConfig = (module: (typeof modules)[keyof typeof modules], index: number): SubgraphServiceConfig => {
    const config = loadSubgraphConfig(module, env, {
      // SUBGRAPH_PORT_BASE, not PORT: PORT is the gateway's.
      port: system.subgraphPortBase === 0 ? 0 : system.subgraphPortBase + index,
      logLevel: system.logLevel,
    });
    return config.database.kind === "embedded" ? { ...config, database: { ...config.database, fresh } } : config;
  };
  subgraphConfigs = {
    users: subgraphConfig(usersSubgraph, 0),
    products: subgraphConfig(productsSubgraph, 1),
    orders: subgraphConfig(ordersSubgraph, 2),
    inventory: subgraphConfig(inventorySubgraph, 3),
  };
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const logger = createLogger("catalog", system.logLevel);
let running: Awaited<ReturnType<typeof startSystem<typeof modules>>>;
try {
  running = await startSystem({ logger, modules, subgraphs: subgraphConfigs, gateway: () => gatewayConfig, redis: system.redis });
} catch (error) {
  logger.fatal({ err: error }, "the system failed to start");
  console.error(`Could not start: ${(error as Error).message}`);
  process.exit(1);
}
stopOnSignal(logger, () => running.shutdown());

const gatewayUrl = running.gateway.url.replace("127.0.0.1", "localhost");
const subgraphs = Object.values(running.subgraphs);
const embedded = subgraphs.every((s) => s.db.kind === "embedded");
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`
Catalog gateway ready in ${seconds}s${subgraphs.some((s) => s.seeded) ? " (seeded the demo catalog)" : ""}

  Apollo Sandbox   ${gatewayUrl}
  GraphQL          ${gatewayUrl}/graphql
  Health           ${gatewayUrl}/health, ${gatewayUrl}/ready
  Data             ${embedded ? `embedded PostgreSQL in ${system.dataDir} (npm run start:fresh wipes it)` : "PostgreSQL (DATABASE_URL)"}
  Cache            ${system.redis ? "Redis (REDIS_URL)" : "in-process"}
  Subgraphs        ${subgraphs.map((s) => `${s.name} ${s.url}/graphql`).join(", ")}

Try this in Sandbox (sign in with the login mutation as admin@example.com / ${SEED_DEMO_PASSWORD},
then add the header  Authorization: Bearer <accessToken>  to see orders and run mutations):

  {
    products(first: 3, filter: { search: "headphone" }) {
      edges { node { name price { amount currency } inStock
        reviews(first: 2) { edges { node { rating author { fullName } } } } } }
    }
  }

`);
