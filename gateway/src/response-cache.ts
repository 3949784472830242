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
  /** Part of every key: a new supergraph (new hints, new rules) never serves old entries. */
  supergraphSdl: string;
  metrics: GatewayMetrics;
  logger: Logger;
}): ApolloServerPlugin<GatewayContext> {
  const { store, entities, metrics, logger } = options;
  const generation = `v1:${createHash("sha256").update(options.supergraphSdl).digest("hex").slice(0, 16)}`;
  return {
    async requestDidStart() {
      // Unset until an operation is resolved: parse or validation failures are no cache outcome.
      let outcome: CacheOutcome | undefined;
      let keys: { public: string; private: string | undefined } | undefined;
      let sinceSeq = 0;
      return {
        async responseForOperation({ operation, document, request, contextValue, overallCachePolicy }) {
          // No operation (an operationName the document does not define) is Apollo's to answer.
          if (!operation || operation.operation !== "query") {
            outcome = "BYPASS";
            return null;
          }
          outcome = "BYPASS";
          const base = createHash("sha256")
            .update(generation)
            .update("\0")
            .update(documentHash(document))
            .update("\0")
            .update(request.operationName ?? "")
            .update("\0")
            .update(stableJson(request.variables ?? {}))
            .digest("hex");
          const viewer = contextValue.viewer;
          // A private entry also carries the audience: a user whose roles change gets a fresh one.
          keys = {
            public: `pub:${audience(viewer)}:${base}`,
            private: viewer ? `priv:${viewer.userId}:${audience(viewer)}:${base}` : undefined,
          };
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
          let body: Record<string, unknown> | undefined;
          try {
            body = hit && hit.ageSeconds < hit.entry.maxAge ? (JSON.parse(hit.entry.body) as Record<string, unknown>) : undefined;
          } catch {
            body = undefined;
          }
          if (!hit || !body) {
            outcome = "MISS";
            return null;
          }
          outcome = "HIT";
          // As HTTP caches expect: the entry's max-age, and Age for the time it has spent cached
          // (measured by Redis' TTL, not by a host clock). Apollo's cache-control plugin writes
          // the header from this policy.
          overallCachePolicy.replace({ maxAge: hit.entry.maxAge, scope: hit.entry.scope });
          return {
            http: { status: undefined, headers: new HeaderMap([["age", String(hit.ageSeconds)]]) },
            body: { kind: "single", singleResult: body },
          };
        },

        async willSendResponse({ response, overallCachePolicy, document, operation, request, schema, contextValue }) {
          if (!outcome) return;
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
          let tags: string[];
          try {
            tags = responseTags({ schema, document, operation, variables: request.variables ?? {}, data: result.data, entities });
          } catch (error) {
            // A response we cannot tag could not be purged: it is sent, not stored.
            logger.error({ err: error }, "could not tag a response; not caching it");
            return;
          }
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
