import type { Logger } from "../logger.ts";
import { expandTags, type ResponseCacheStore } from "./store.ts";

/** What a subgraph calls after it changed data that cached responses may show. */
export interface CacheInvalidator {
  /** Resolves once the purge is done (or has failed and been logged); never rejects. */
  invalidate(tags: readonly string[]): Promise<void>;
}

const ATTEMPTS = 3;

/**
 * Subgraphs purge the shared response cache themselves, right after their write commits and
 * before they answer, so the caller's next read (through any gateway) sees the change. A write is
 * never failed because the cache could not be purged: the purge is retried briefly and a failure
 * is logged; entries then live out their maxAge, which is the most any cached response may.
 */
export function cacheInvalidator(store: ResponseCacheStore | undefined, logger: Logger): CacheInvalidator {
  if (!store) return { invalidate: async () => {} };
  return {
    async invalidate(tags) {
      if (tags.length === 0) return;
      const expanded = expandTags(tags);
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          const purged = await store.invalidate(expanded);
          logger.debug({ tags: expanded, purged }, "purged cached responses");
          return;
        } catch (error) {
          if (attempt === ATTEMPTS) {
            logger.error({ err: error, tags: expanded }, "could not purge cached responses; they expire with their maxAge");
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    },
  };
}
