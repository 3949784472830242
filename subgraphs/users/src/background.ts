import type { Logger } from "@catalog/common";

export interface BackgroundQueue {
  /** Runs `task` after the ones already queued; false (and nothing queued) when the queue is full. */
  push(task: () => Promise<void>): boolean;
  /** Resolves once every queued task has run (shutdown waits for it). */
  drain(): Promise<void>;
}

/**
 * Work done after the answer was sent (password-reset mail), one task at a time in arrival order:
 * the answer cannot depend on it, and a flood of requests queues work instead of running it all
 * at once. Bounded: past `limit` waiting tasks new ones are dropped and logged.
 */
export function backgroundQueue(logger: Logger, limit = 1_000): BackgroundQueue {
  let tail: Promise<void> = Promise.resolve();
  let waiting = 0;
  return {
    push(task) {
      if (waiting >= limit) {
        logger.warn({ limit }, "background queue full; task dropped");
        return false;
      }
      waiting++;
      tail = tail.then(async () => {
        try {
          await task();
        } catch (error) {
          logger.error({ err: error }, "background task failed");
        } finally {
          waiting--;
        }
      });
      return true;
    },
    drain: () => tail,
  };
}
