import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PoolStats } from "./database.ts";
import { DURATION_BUCKETS } from "./metric-labels.ts";

/** A subgraph's series at its own /metrics, on a registry of its own (npm start runs four in one process). */
export interface SubgraphMetrics {
  registry: Registry;
  /** GraphQL requests by operation (bounded) and outcome, from parsed request to answer. */
  requestSeconds: Histogram<"operation" | "outcome">;
  /** Requests that failed because no database connection freed up within the queue timeout. */
  poolExhausted: Counter;
}

/** Series carry no service label: Prometheus' job and instance labels say which service answered. */
export function createSubgraphMetrics(poolStats: () => PoolStats | undefined): SubgraphMetrics {
  const registry = new Registry();
  // Process CPU, memory, GC and event-loop lag (nodejs_eventloop_lag_*), as every Node service exposes them.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "subgraph_db_pool_connections",
    help: "The serving database pool: connections busy and idle, and requests waiting for one (PostgreSQL only).",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const stats = poolStats();
      if (!stats) return;
      this.set({ state: "busy" }, stats.total - stats.idle);
      this.set({ state: "idle" }, stats.idle);
      this.set({ state: "waiting" }, stats.waiting);
    },
  });
  new Gauge({
    name: "subgraph_db_pool_max",
    help: "The serving database pool's size (DB_POOL_SIZE).",
    registers: [registry],
    collect() {
      const stats = poolStats();
      if (stats) this.set(stats.max);
    },
  });
  return {
    registry,
    requestSeconds: new Histogram({
      name: "subgraph_request_duration_seconds",
      help: "GraphQL requests by operation name (the first 100 names, then other) and outcome (ok, partial, error, rejected).",
      labelNames: ["operation", "outcome"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    poolExhausted: new Counter({
      name: "subgraph_db_pool_exhausted_total",
      help: "Fields that failed with SERVICE_UNAVAILABLE because no database connection freed up within DB_POOL_ACQUIRE_TIMEOUT_MS.",
      registers: [registry],
    }),
  };
}
