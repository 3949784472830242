import { DURATION_BUCKETS } from "@catalog/common/edge";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The gateway's counters, exposed at /metrics in Prometheus' text format. One registry per gateway
 * instance (never prom-client's global one), so several gateways in one process (tests) stay apart.
 */
export interface GatewayMetrics {
  registry: Registry;
  /** GraphQL requests by operation name (bounded) and outcome, from first byte to last. */
  requestSeconds: Histogram<"operation" | "outcome">;
  /** Each subgraph call as its caller waited for it, by outcome (ok, errors, unavailable: refused, 5xx or an open breaker, timeout, too_large, error). */
  subgraphFetchSeconds: Histogram<"subgraph" | "outcome">;
  /** Requests refused before execution, by error code (RATE_LIMITED, MAX_DEPTH_EXCEEDED, ...). */
  rejected: Counter<"code">;
  /** Bearer tokens refused, by reason (expired, signature, audience, ...). */
  authFailures: Counter<"reason">;
  /** Rate-limit checks let through because Redis could not answer. */
  rateLimitFailOpen: Counter;
  /** Queries answered from the response cache (HIT), executed (MISS) or not cacheable (BYPASS). */
  responseCache: Counter<"result">;
  /** Tags purged from the response cache, as seen by this instance. */
  cacheInvalidations: Counter;
  /** Redis commands that failed or timed out (each one served as a miss), by operation. */
  redisErrors: Counter<"operation">;
  /** Partner requests by partner, operation and outcome (listed, refused, audit, quota). */
  partnerOperations: Counter<"partner" | "operation" | "outcome">;
  /** Calls made to each subgraph, calls that joined an identical one in flight, and entity calls batched with others. */
  subgraphCalls: Counter<"subgraph" | "shared">;
  /** Subgraph calls made again after a connection error (queries only). */
  subgraphRetries: Counter<"subgraph">;
  /** Each subgraph's circuit breaker: 0 closed, 1 half-open (probing), 2 open (failing fast). */
  breakerState: Gauge<"subgraph">;
  /** Calls an open breaker failed without trying the subgraph. */
  breakerRejections: Counter<"subgraph">;
  /** The event loop's mean delay over the last interval, in seconds. */
  eventLoopDelay: Gauge;
  /** 1 while new requests are shed (503) because the event loop is behind. */
  shedding: Gauge;
  /** Time spent in each request-pipeline stage (PIPELINE_TIMING only; registered when enabled). */
  stageSeconds(): Histogram<"stage">;
  /** New supergraphs seen: applied, refused (invalid or would break partners) or failed (unreadable). */
  supergraphReloads: Counter<"outcome">;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  // Process CPU, memory, GC and event-loop lag (nodejs_eventloop_lag_*), as every Node service exposes them.
  collectDefaultMetrics({ register: registry });
  let stageSeconds: Histogram<"stage"> | undefined;
  return {
    registry,
    requestSeconds: new Histogram({
      name: "gateway_request_duration_seconds",
      help: "GraphQL requests by operation name (the first METRICS_MAX_OPERATION_NAMES names, then other) and outcome (ok, partial, error, rejected).",
      labelNames: ["operation", "outcome"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    subgraphFetchSeconds: new Histogram({
      name: "gateway_subgraph_fetch_duration_seconds",
      help: "Subgraph calls as each caller waited for them, by subgraph and outcome (ok, errors, unavailable: refused, 5xx or an open breaker, timeout, too_large, error).",
      labelNames: ["subgraph", "outcome"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    rejected: new Counter({
      name: "gateway_requests_rejected_total",
      help: "Requests refused before execution, by error code.",
      labelNames: ["code"],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "gateway_auth_failures_total",
      help: "Bearer tokens refused, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    rateLimitFailOpen: new Counter({
      name: "gateway_rate_limit_fail_open_total",
      help: "Requests let through without a rate-limit decision because Redis could not answer.",
      registers: [registry],
    }),
    responseCache: new Counter({
      name: "gateway_response_cache_total",
      help: "Queries by response-cache outcome: HIT, MISS or BYPASS.",
      labelNames: ["result"],
      registers: [registry],
    }),
    cacheInvalidations: new Counter({
      name: "gateway_response_cache_invalidated_tags_total",
      help: "Entity and list tags purged from the response cache.",
      registers: [registry],
    }),
    partnerOperations: new Counter({
      name: "gateway_partner_operations_total",
      help: "Partner requests by partner, operation and outcome.",
      labelNames: ["partner", "operation", "outcome"],
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: "gateway_redis_errors_total",
      help: "Redis commands that failed or timed out and were served as cache misses, by operation.",
      labelNames: ["operation"],
      registers: [registry],
    }),
    subgraphCalls: new Counter({
      name: "gateway_subgraph_calls_total",
      help: "Calls to each subgraph; shared=true: joined an identical call already in flight; shared=batched: joined another entity call begun in the same tick.",
      labelNames: ["subgraph", "shared"],
      registers: [registry],
    }),
    subgraphRetries: new Counter({
      name: "gateway_subgraph_retries_total",
      help: "Subgraph calls made again after a connection error (queries only, never mutations).",
      labelNames: ["subgraph"],
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: "gateway_subgraph_breaker_state",
      help: "Each subgraph's circuit breaker: 0 closed, 1 half-open (one probe call let through), 2 open (calls fail fast).",
      labelNames: ["subgraph"],
      registers: [registry],
    }),
    breakerRejections: new Counter({
      name: "gateway_subgraph_breaker_rejections_total",
      help: "Subgraph calls an open circuit breaker failed at once, without trying the subgraph.",
      labelNames: ["subgraph"],
      registers: [registry],
    }),
    eventLoopDelay: new Gauge({
      name: "gateway_event_loop_delay_seconds",
      help: "The event loop's mean delay over the last half second (load shedding compares it with SHED_EVENT_LOOP_DELAY_MS).",
      registers: [registry],
    }),
    shedding: new Gauge({
      name: "gateway_load_shedding",
      help: "1 while new GraphQL requests get 503 because the event loop is behind, else 0.",
      registers: [registry],
    }),
    stageSeconds: () =>
      (stageSeconds ??= new Histogram({
        name: "gateway_pipeline_stage_seconds",
        help: "Time spent in each request-pipeline stage (wall clock, awaits included).",
        labelNames: ["stage"],
        buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers: [registry],
      })),
    supergraphReloads: new Counter({
      name: "gateway_supergraph_reloads_total",
      help: "New supergraphs seen by the gateway: applied, refused (invalid, or would break partners' operations; the served one stays) or failed (could not be read).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  };
}
