import type { Logger } from "./logger.ts";

/** How long a stopped process may take to exit by itself before it is told to. */
const EXIT_WATCHDOG_MS = 5_000;

/**
 * Every service process stops the same way on SIGTERM or SIGINT: `stop` runs once (stop taking
 * connections, finish requests in flight, stop workers, close pools), then the process exits on
 * its own, which it only can once nothing is left open. Later signals are ignored: an orchestrator
 * repeats SIGTERM, and a terminal's Ctrl-C reaches both `npm start` and its child; Node's default
 * would kill the process mid-drain.
 */
export function stopOnSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing requests in flight");
    stop().then(
      () => {
        logger.info("stopped");
        process.exitCode = 0;
        // A handle still open here is a leak (a pool, a timer); exit anyway, but say so and fail.
        setTimeout(() => {
          logger.error({ open: process.getActiveResourcesInfo() }, "still running after shutdown; exiting");
          process.exit(1);
        }, EXIT_WATCHDOG_MS).unref();
      },
      (error: unknown) => {
        logger.fatal({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
