const PROBE_TIMEOUT_MS = 2_000;

export interface ReadinessReport {
  ready: boolean;
  supergraph: boolean;
  subgraphs: Record<string, boolean>;
  cache: { kind: string; reachable: boolean };
}

/**
 * A subgraph is ready when its own /ready says so (it checks its database). A subgraph that is not
 * ours to know (URL not ending in /graphql) is probed with a trivial GraphQL query instead.
 */
export async function probeSubgraph(graphqlUrl: string): Promise<boolean> {
  try {
    if (graphqlUrl.endsWith("/graphql")) {
      const response = await fetch(graphqlUrl.replace(/\/graphql$/, "/ready"), {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await response.body?.cancel();
      return response.ok;
    }
    const response = await fetch(graphqlUrl, {
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
