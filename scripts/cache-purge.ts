// npm run cache:purge -- Product:<id> Category:<id> Query.products ...
// Purges every cached response carrying one of these tags from the shared (Redis) response
// cache, as the subgraphs do after their writes.
import { createLogger, expandTags, openPurgeStore, parseEnv } from "@catalog/common";
import { z } from "zod";

const env = parseEnv(z.object({ REDIS_URL: z.url().optional(), REDIS_KEY_PREFIX: z.string().default("catalog:") }).loose());
const tags = process.argv.slice(2);
if (!env.REDIS_URL) {
  console.error("REDIS_URL is not set: without Redis the response cache lives inside the npm start process (restart it to empty it).");
  process.exit(1);
}
if (tags.length === 0) {
  console.error("Name at least one tag: Type:<id> (e.g. Product:6f1c...), a type (Product) or a root field (Query.products).");
  process.exit(1);
}
const logger = createLogger("cache-purge", "warn");
const { redis, store, connected } = await openPurgeStore(env.REDIS_URL, { keyPrefix: env.REDIS_KEY_PREFIX, logger, commandTimeoutMs: 5_000, waitMs: 5_000 });
try {
  if (!connected) throw new Error(`cannot reach Redis at ${env.REDIS_URL}`);
  const expanded = expandTags(tags);
  const purged = await store.invalidate(expanded);
  process.stdout.write(`Purged ${purged} cached responses (tags: ${expanded.join(", ")}).\n`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
