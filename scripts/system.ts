// The whole system in one process: four subgraphs and the gateway. `npm start` (scripts/start.ts),
// the tests' stack (test/support/stack.ts) and, through `npm start`, the benchmarks assemble it
// here; each service starts through its own entry (startSubgraphService, startGatewayService),
// the same ones its production process runs.
import path from "node:path";
import {
  cacheInvalidator,
  memoryResponseCacheStore,
  openPurgeStore,
  port,
  parseEnv,
  REPO_ROOT,
  SUBGRAPHS,
  startSubgraphService,
  type Logger,
  type PrismaLike,
  type StartedSubgraph,
  type SubgraphModule,
  type SubgraphName,
  type SubgraphServiceConfig,
} from "@catalog/common";
import { z } from "zod";
import { subgraphEnvName, type GatewayConfig } from "../gateway/src/config.ts";
import { startGatewayService, type GatewayService } from "../gateway/src/service.ts";

/** `npm start`'s own settings; each service's are parsed by its config module. */
export function loadSystemConfig(env: Readonly<Record<string, string | undefined>>) {
  const parsed = parseEnv(
    z.object({
      DATA_DIR: z.string().default(path.join(REPO_ROOT, ".data")),
      /** First subgraph port (users); the others follow. 0 lets the OS pick free ports. */
      SUBGRAPH_PORT_BASE: port(4001),
      LOG_LEVEL: z.string().default("warn"),
      REDIS_URL: z.url().optional(),
      REDIS_KEY_PREFIX: z.string().default("catalog:"),
    }),
    env,
  );
  return {
    dataDir: parsed.DATA_DIR,
    subgraphPortBase: parsed.SUBGRAPH_PORT_BASE,
    logLevel: parsed.LOG_LEVEL,
    redis: parsed.REDIS_URL ? { url: parsed.REDIS_URL, keyPrefix: parsed.REDIS_KEY_PREFIX } : undefined,
  };
}

type Modules = { [K in SubgraphName]: SubgraphModule<PrismaLike> };
type PrismaOf<M> = M extends SubgraphModule<infer P> ? P : never;
export type StartedSubgraphs<M extends Modules> = { [K in SubgraphName]: StartedSubgraph<PrismaOf<M[K]>> };

export interface SystemOptions<M extends Modules> {
  logger: Logger;
  modules: M;
  /** Each subgraph's config; its `peerUrls` are replaced by the system's own subgraphs. */
  subgraphs: { [K in SubgraphName]: SubgraphServiceConfig };
  /**
   * The gateway's config, given where the subgraphs listen (e.g. the users subgraph's JWKS). The
   * system then points it at its subgraphs, its partner-key resolver and its response cache.
   */
  gateway(subgraphUrls: Record<SubgraphName, string>): GatewayConfig;
  /** One Redis for the gateway and the subgraphs' purges; undefined: one in-process response cache. */
  redis: { url: string; keyPrefix: string } | undefined;
}

export interface System<M extends Modules> {
  gateway: GatewayService;
  subgraphs: StartedSubgraphs<M>;
  /** Where subgraphs reach a peer from now on (e.g. a dead address, or a fault-injecting proxy). */
  setPeerUrl(name: string, url: string): void;
  /** Graceful (SIGTERM): the gateway finishes its requests first, then the subgraphs theirs and their jobs. */
  shutdown(): Promise<void>;
  /** At once: open connections are cut (tests). */
  close(): Promise<void>;
}

export async function startSystem<M extends Modules>(options: SystemOptions<M>): Promise<System<M>> {
  const { logger } = options;
  // As separate processes would share the gateway's Redis, subgraphs here purge the gateway's
  // response cache: in Redis when there is one, else the one store in this process.
  const purge = options.redis ? await openPurgeStore(options.redis.url, { keyPrefix: options.redis.keyPrefix, logger }) : undefined;
  const responseCache = purge?.store ?? memoryResponseCacheStore();
  const cache = cacheInvalidator(responseCache, logger);
  // Filled once every subgraph listens; subgraphs only look a peer up while serving a request.
  const peerUrls = new Map<string, string>();
  const started = await Promise.allSettled(
    SUBGRAPHS.map((name) =>
      startSubgraphService(options.modules[name], options.subgraphs[name], {
        logger: logger.child({ subgraph: name }),
        peers: (peer) => peerUrls.get(peer),
        cache,
      }),
    ),
  );
  const running = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await Promise.all(running.map((s) => s.close()));
    purge?.redis.disconnect();
    throw failed.reason;
  }
  for (const s of running) peerUrls.set(s.name, `${s.url}/graphql`);
  // Now that every subgraph can reach its peers, what they read from them (products: availability
  // from inventory's stock feed) is read before the gateway opens; not first one interval later,
  // with every product out of stock until then on a first start.
  await Promise.all(
    running.map((s) => s.catchUp().catch((error: unknown) => logger.warn({ err: error, subgraph: s.name }, "catching up with peers failed; it retries on its own"))),
  );
  const subgraphs = Object.fromEntries(running.map((s) => [s.name, s])) as StartedSubgraphs<M>;
  const urls = Object.fromEntries(running.map((s) => [s.name, s.url])) as Record<SubgraphName, string>;
  const closeSubgraphs = async () => {
    await Promise.all(running.map((s) => s.close()));
    purge?.redis.disconnect();
  };

  let gateway: GatewayService;
  try {
    const base = options.gateway(urls);
    const config: GatewayConfig = {
      ...base,
      subgraphUrls: Object.fromEntries(running.map((s) => [subgraphEnvName(s.name), `${s.url}/graphql`])),
      // The users subgraph owns partners and resolves their API keys.
      partnerKeysUrl: `${urls.users}/internal/partners/resolve`,
      redisUrl: options.redis?.url,
      redisKeyPrefix: options.redis?.keyPrefix ?? base.redisKeyPrefix,
    };
    // With Redis the gateway opens its own store on it; in process it must use the same one.
    gateway = await startGatewayService(config, { logger: logger.child({ service: "gateway" }), ...(purge ? {} : { responseCache }) });
  } catch (error) {
    await closeSubgraphs();
    throw error;
  }

  return {
    gateway,
    subgraphs,
    setPeerUrl: (name, url) => peerUrls.set(name, url),
    async shutdown() {
      await gateway.shutdown();
      // A job of orders' still running may call a peer that is already draining; it fails and
      // pg-boss runs it again later (every step is idempotent).
      await Promise.all(running.map((s) => s.shutdown()));
      purge?.redis.disconnect();
    },
    async close() {
      await gateway.close();
      await closeSubgraphs();
    },
  };
}
