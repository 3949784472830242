import { createLogger, stopOnSignal } from "@catalog/common/edge";
import { loadGatewayConfig, type GatewayConfig } from "./config.ts";
import { startGatewayService } from "./service.ts";

let config: GatewayConfig;
try {
  config = loadGatewayConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const logger = createLogger("gateway", config.logLevel);
try {
  const service = await startGatewayService(config, { logger });
  // Rolling restarts: stop accepting, let requests in flight finish, then close pools and connections.
  stopOnSignal(logger, () => service.shutdown());
} catch (error) {
  logger.fatal({ err: error }, `gateway failed to start: ${(error as Error).message}`);
  process.exit(1);
}
