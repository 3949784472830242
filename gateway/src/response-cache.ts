import { createHash } from "node:crypto";
import { HeaderMap, type ApolloServerPlugin } from "@apollo/server";
import type { Logger, ResponseCacheStore, Viewer } from "@catalog/common";
import { print, type DocumentNode } from "graphql";
import { responseTags } from "./cache-tags.ts";
import type { GatewayContext } from "./context.ts";
import type { GatewayMetrics } from "./metrics.ts";

type CacheOutcome = "HIT" | "MISS" | "BYPASS";

/** Printing normalizes whitespace, comments and punctuation; parsed documents are reused by Apollo. */
const documentHashes = new WeakMap<DocumentNode, string>();
function documentHash(document: DocumentNode): string {
  let hash = documentHashes.get(document);
  if (!hash) {
    hash = createHash("sha256").update(print(document)).digest("hex");
    documentHashes.set(document, hash);
  }
  return hash;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` are the same variables. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * Who may share a PUBLIC entry: anonymous callers with each other, signed-in callers with others
 * holding exactly the same scopes. Public data should not differ between them, but if a hint is
 * ever wrong, this keeps an admin's view from reaching a customer or an anonymous caller.
 */
function audience(viewer: Viewer | null): string {
  return viewer ? `auth:${[...viewer.scopes].sort().join(",")}` : "anon";
}

/**
 * Whole-response cache for queries, in Redis (shared by all gateway instances) or in process.
 *
 * - Key: the printed document's hash, the operation name, the variables and the scope. A PUBLIC
 *   entry is shared within an audience (anonymous, or signed-in with the same scopes); a PRIVATE
 *   one belongs to one user. Anonymous PRIVATE responses are not stored at all.
 * - Lifetime and scope come from the subgraphs' @cacheControl hints, which Apollo's gateway merges
 *   from each subgraph's Cache-Control header: the smallest maxAge and the most restrictive scope
 *   win, and a subgraph that sends no hint makes the response uncacheable.
 * - Mutations, responses with errors and uncacheable responses are never stored.
 * - Each entry is tagged with what it contains (cache-tags.ts); subgraphs purge by tag when they
 *   change data (common/response-cache).
 * - Any store failure (Redis down or slow) is a BYPASS: the request runs uncached.
 */
export function responseCachePlugin(options: {
  store: ResponseCacheStore;
  entities: Set<string>;
  metrics: GatewayMetrics;
  logger: Logger;
}): ApolloServerPlugin<GatewayContext> {
  const { store, entities, metrics, logger } = options;
  return {
    async requestDidStart() {
      let outcome: CacheOutcome = "BYPASS";
      let keys: { public: string; private: string | undefined } | undefined;
      let sinceSeq = 0;
      return {
        async responseForOperation({ operation, document, request, contextValue, overallCachePolicy }) {
          if (operation.operation !== "query") return null;
          const base = createHash("sha256")
            .update(documentHash(document))
            .update("\0")
            .update(request.operationName ?? "")
            .update("\0")
            .update(stableJson(request.variables ?? {}))
            .digest("hex");
          const viewer = contextValue.viewer;
          keys = { public: `pub:${audience(viewer)}:${base}`, private: viewer ? `priv:${viewer.userId}:${base}` : undefined };
          let lookup;
          try {
            lookup = await store.lookup(keys.private ? [keys.private, keys.public] : [keys.public]);
          } catch (error) {
            metrics.redisErrors.inc({ operation: "response-cache-lookup" });
            logger.debug({ err: error }, "response cache unavailable; bypassing");
            return null;
          }
          sinceSeq = lookup.seq;
          const hit = lookup.hit;
          const ageSeconds = hit ? Math.floor((Date.now() - hit.entry.storedAt) / 1000) : 0;
          if (!hit || ageSeconds >= hit.entry.maxAge) {
            outcome = "MISS";
            return null;
          }
          outcome = "HIT";
          // Apollo's cache-control plugin writes the header from this policy: what is left of it.
          overallCachePolicy.replace({ maxAge: hit.entry.maxAge - ageSeconds, scope: hit.entry.scope });
          return {
            http: { status: undefined, headers: new HeaderMap([["age", String(ageSeconds)]]) },
            body: { kind: "single", singleResult: JSON.parse(hit.entry.body) as Record<string, unknown> },
          };
        },

        async willSendResponse({ response, overallCachePolicy, document, operation, request, schema, contextValue }) {
          response.http.headers.set("x-cache", outcome);
          metrics.responseCache.inc({ result: outcome });
          const policy = overallCachePolicy.policyIfCacheable();
          // Our cache keeps audiences apart; a CDN keys by URL alone and may store `public`
          // answers to requests that carried a token. So those are `private` over HTTP (Apollo's
          // cache-control plugin writes the header from this policy after this hook).
          if (contextValue.viewer) overallCachePolicy.restrict({ scope: "PRIVATE" });
          if (outcome !== "MISS" || !keys || !document || !operation || response.body.kind !== "single") return;
          const result = response.body.singleResult;
          if (!policy || result.errors || !result.data) return;
          const key = policy.scope === "PRIVATE" ? keys.private : keys.public;
          if (!key) return;
          const tags = responseTags({
            schema,
            document,
            operation,
            variables: request.variables ?? {},
            data: result.data,
            entities,
          });
          try {
            const entry = { body: JSON.stringify({ data: result.data }), scope: policy.scope, maxAge: policy.maxAge, storedAt: Date.now() };
            await store.store(key, entry, tags, sinceSeq);
          } catch (error) {
            metrics.redisErrors.inc({ operation: "response-cache-store" });
            logger.debug({ err: error }, "could not store a response");
          }
        },
      };
    },
  };
}
