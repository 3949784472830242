import { createHash } from "node:crypto";
import type { QueryPlan, QueryPlanCache } from "@apollo/query-planner";
import { InMemoryLRUCache, type KeyValueCache } from "@apollo/utils.keyvaluecache";

const PLAN_TTL_SECONDS = 86_400;

export interface PlanCacheStats {
  local: number;
  shared: number;
  planned: number;
}

/**
 * The gateway's query-plan store: an in-process LRU in front of the shared cache (Redis when
 * configured). A new instance, or one restarted, takes plans other instances already made instead
 * of planning again. Keys carry the supergraph's hash, so a new supergraph never reuses a plan
 * made for an old one. Plans are plain data; they cross Redis as JSON.
 */
export function queryPlanCache(options: { shared: KeyValueCache<string> | undefined; supergraphSdl: string }): {
  cache: QueryPlanCache;
  stats: PlanCacheStats;
  /** The gateway now plans for this supergraph (hot reload): shared keys carry its hash. */
  useSupergraph(sdl: string): void;
} {
  const hashOf = (sdl: string) => createHash("sha256").update(sdl).digest("hex").slice(0, 16);
  let supergraph = hashOf(options.supergraphSdl);
  const local = new InMemoryLRUCache<QueryPlan>({ maxSize: 30 * 2 ** 20, sizeCalculation: (plan) => JSON.stringify(plan).length });
  const stats: PlanCacheStats = { local: 0, shared: 0, planned: 0 };
  const sharedKey = (key: string) => `qp:${supergraph}:${key}`;
  return {
    stats,
    useSupergraph(sdl) {
      supergraph = hashOf(sdl);
    },
    cache: {
      async get(key) {
        // Apollo asks for the supergraph it serves now; a swap may come while this awaits.
        const asked = supergraph;
        const shared = sharedKey(key);
        const hit = await local.get(key);
        if (hit) {
          stats.local += 1;
          return hit;
        }
        const raw = await options.shared?.get(shared);
        // The supergraph changed meanwhile: that plan was made for the old one, and must neither
        // run on the new one nor land in the local cache the swap just cleared.
        if (!raw || asked !== supergraph) return undefined;
        try {
          const plan = JSON.parse(raw) as QueryPlan;
          await local.set(key, plan);
          stats.shared += 1;
          return plan;
        } catch {
          return undefined;
        }
      },
      async set(key, plan) {
        // Apollo plans synchronously and stores in the same tick: the key names the supergraph
        // that made the plan, read before anything awaits.
        const shared = sharedKey(key);
        stats.planned += 1;
        await local.set(key, plan);
        // Not awaited: sharing a plan must never delay the request that made it.
        void options.shared?.set(shared, JSON.stringify(plan), { ttl: PLAN_TTL_SECONDS });
      },
      async delete(key) {
        await local.delete(key);
        await options.shared?.delete(sharedKey(key));
        return true;
      },
      // Called when the gateway loads another supergraph; shared keys carry the old hash and
      // simply stop being asked for, then expire.
      clear() {
        local.clear();
      },
    },
  };
}
