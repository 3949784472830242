/** What an operation name may look like in a label: a GraphQL name, not too long. */
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/**
 * A label whose values come from clients (operation names) must not grow a time series per value
 * a caller invents: the first `max` valid names are kept as they are, every later one and anything
 * that is not a GraphQL name is counted as "other". Per process, so a restart forgets them.
 */
export function boundedNameLabel(max: number): (name: string | null | undefined) => string {
  const seen = new Set<string>();
  return (name) => {
    if (!name) return "anonymous";
    if (seen.has(name)) return name;
    if (seen.size >= max || !GRAPHQL_NAME.test(name)) return "other";
    seen.add(name);
    return name;
  };
}

/** How a GraphQL answer went, as a bounded label: refused before running, failed, partly or fully answered. */
export type RequestOutcome = "ok" | "partial" | "error" | "rejected";

export function requestOutcome(status: number, hasErrors: boolean, hasData: boolean): RequestOutcome {
  if (status >= 500) return "error";
  if (status >= 400) return "rejected";
  if (!hasErrors) return "ok";
  return hasData ? "partial" : "error";
}

/** Request and fetch durations: from a cache hit (~0.1 ms) to a deadline (~30 s). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
