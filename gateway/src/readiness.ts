const PROBE_TIMEOUT_MS = 2_000;

export interface ReadinessReport {
  ready: boolean;
  supergraph: boolean;
  subgraphs: Record<string, boolean>;
  cache: { kind: string; reachable: boolean };
}

/** A subgraph is reachable when it answers a trivial GraphQL query over its real endpoint. */
export async function probeSubgraph(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { data?: { __typename?: string } };
    return body.data?.__typename === "Query";
  } catch {
    return false;
  }
}
