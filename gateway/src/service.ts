import { listen, type Logger, type ResponseCacheStore } from "@catalog/common/edge";
import type { GatewayConfig } from "./config.ts";
import { buildGateway, type Gateway } from "./server.ts";

export interface GatewayService {
  url: string;
  port: number;
  gateway: Gateway;
  /** At once: open connections are cut (tests, failed starts). */
  close(): Promise<void>;
  /**
   * Graceful stop (SIGTERM): no new connections, requests in flight finish (none outlives its
   * deadline, so the grace is one request timeout), then the pools and Redis close.
   */
  shutdown(): Promise<void>;
}

/** One gateway service: build it from typed config and listen. Its process entry, `npm start` and the tests start it here. */
export async function startGatewayService(
  config: GatewayConfig,
  shared: { logger: Logger; responseCache?: ResponseCacheStore },
): Promise<GatewayService> {
  const gateway = await buildGateway(config, shared.logger, shared.responseCache ? { responseCache: shared.responseCache } : {});
  let server;
  try {
    server = await listen(gateway.app, config.port, config.host, gateway.listenOptions);
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  shared.logger.info({ url: server.url, subgraphs: gateway.subgraphUrls, cache: gateway.cache.kind }, "gateway listening");
  const running = server;
  return {
    url: running.url,
    port: running.port,
    gateway,
    async close() {
      await running.close();
      await gateway.stop();
    },
    async shutdown() {
      await running.drain(config.requestTimeoutMs + 1_000);
      await gateway.stop();
    },
  };
}
