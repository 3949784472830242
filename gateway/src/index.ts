import { createLogger, listen } from "@catalog/common/edge";
import { loadGatewayConfig } from "./config.ts";
import { buildGateway } from "./server.ts";

let config;
try {
  config = loadGatewayConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const logger = createLogger("gateway", config.logLevel);
try {
  const gateway = await buildGateway(config, logger);
  const server = await listen(gateway.app, config.port, config.host, gateway.listenOptions);
  logger.info({ url: server.url, subgraphs: gateway.subgraphUrls, cache: gateway.cache.kind }, "gateway listening");
  // Rolling restarts: stop accepting, let requests in flight finish (none outlives its deadline),
  // then close the gateway's pools and connections.
  const shutdown = async () => {
    logger.info("shutting down: finishing requests in flight");
    await server.drain(config.requestTimeoutMs + 1_000);
    await gateway.stop();
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
} catch (error) {
  logger.fatal({ err: error }, `gateway failed to start: ${(error as Error).message}`);
  process.exit(1);
}
