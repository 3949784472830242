const PROBE_TIMEOUT_MS = 2_000;

export interface ReadinessReport {
  /** The gateway can serve: its supergraph is loaded and at least one subgraph answers. */
  ready: boolean;
  /** The supergraph served: its SHA-256 and when it started serving (ISO 8601). */
  supergraph: { hash: string; loadedAt: string };
  /** Each subgraph's own /ready: false degrades that subgraph's fields, not the gateway's readiness. */
  subgraphs: Record<string, boolean>;
  /** Each subgraph's circuit breaker: closed, half-open or open. */
  breakers: Record<string, "closed" | "half-open" | "open">;
  cache: { kind: string; reachable: boolean };
}

/** A subgraph is ready when its own /ready (which checks its database) says so. */
export async function probeSubgraph(graphqlUrl: string): Promise<boolean> {
  try {
    const response = await fetch(new URL("/ready", graphqlUrl), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
