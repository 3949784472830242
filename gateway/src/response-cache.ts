import { createHash } from "node:crypto";
import { HeaderMap, type ApolloServerPlugin } from "@apollo/server";
import { rememberBounded, type Logger, type ResponseCacheStore, type Viewer } from "@catalog/common/edge";
import accepts from "accepts";
import { print, type DocumentNode, type GraphQLSchema } from "graphql";
import { responseTags } from "./cache-tags.ts";
import type { GatewayContext } from "./context.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { ANSWERED, type CacheLookup, type HttpStage } from "./stage.ts";

type CacheOutcome = "HIT" | "MISS" | "BYPASS";

/** What the cache needs of a supergraph: its hash (in every key) and its entity types (tags). */
export interface CacheSupergraph {
  hash: string;
  entities: Set<string>;
}

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

/**
 * JSON with object keys sorted, so `{a, b}` and `{b, a}` are the same variables. Variables come
 * from the client and reach this before GraphQL has checked them: the walk is iterative, and
 * undefined (no key) past MAX_VARIABLE_DEPTH levels, where no operation's variables go.
 */
const MAX_VARIABLE_DEPTH = 32;
export function stableJson(root: unknown): string | undefined {
  let out = "";
  // Each frame: a value to write, or a literal to append (closing brackets, commas, keys).
  const stack: { value?: unknown; text?: string; depth: number }[] = [{ value: root, depth: 0 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.text !== undefined) {
      out += frame.text;
      continue;
    }
    const value = frame.value;
    if (frame.depth > MAX_VARIABLE_DEPTH) return undefined;
    if (Array.isArray(value)) {
      out += "[";
      stack.push({ text: "]", depth: frame.depth });
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], depth: frame.depth + 1 });
        if (i > 0) stack.push({ text: ",", depth: frame.depth });
      }
    } else if (value && typeof value === "object") {
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out += "{";
      stack.push({ text: "}", depth: frame.depth });
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i]!;
        stack.push({ value: item, depth: frame.depth + 1 });
        stack.push({ text: `${i > 0 ? "," : ""}${JSON.stringify(key)}:`, depth: frame.depth });
      }
    } else {
      out += JSON.stringify(value ?? null);
    }
  }
  return out;
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
 *
 * Two parts share this state:
 * - `plugin` (operation phase) stores responses, and answers hits for documents it has not seen
 *   before. Each query it resolves is remembered: the hash of its text (what APQ calls its id)
 *   and operation name, mapped to the printed document's hash.
 * - `stage` (body phase, before GraphQL) answers hits for remembered documents with the stored
 *   bytes: no parsing, validation, planning or re-serialization. A document is remembered only
 *   after it parsed, validated and passed every operation limit; an entry exists only for
 *   variables and an audience that ran before; and every head and body stage (credentials, rate
 *   limits, partner lists) has run by then. So a hit here is what GraphQL would have answered.
 *   On a miss it leaves its lookup in the request state, and the plugin does not look up again.
 */
export function createResponseCache(options: {
  store: ResponseCacheStore;
  /**
   * The supergraph served now (the stage, before GraphQL) and the one a request runs on (the
   * plugin, by its schema): its hash is part of every key, so entries of another supergraph (other
   * fields, hints, rules) never answer, and its entity types tag what is stored.
   */
  supergraphs: { current: CacheSupergraph; of(schema: GraphQLSchema): CacheSupergraph };
  metrics: GatewayMetrics;
  logger: Logger;
}): { plugin: ApolloServerPlugin<GatewayContext>; stage: HttpStage["run"] } {
  const { store, supergraphs, metrics, logger } = options;
  /** `<sha256 of the query text>:<operation name>` -> printed document hash, for queries only. */
  const known = new Map<string, string>();
  const remember = (textHash: string, operationName: string, docHash: string) => {
    const key = `${textHash}:${operationName}`;
    if (!known.has(key)) rememberBounded(known, key, docHash, KNOWN_DOCUMENTS_LIMIT);
  };
  const baseKey = (supergraph: CacheSupergraph, docHash: string, operationName: string, variablesJson: string) =>
    createHash("sha256")
      .update(`v1:${supergraph.hash}`)
      .update("\0")
      .update(docHash)
      .update("\0")
      .update(operationName)
      .update("\0")
      .update(variablesJson)
      .digest("hex");
  // A private entry also carries the audience: a user whose roles change gets a fresh one.
  const keysFor = (base: string, viewer: Viewer | null): CacheLookup["keys"] => ({
    public: `pub:${audience(viewer)}:${base}`,
    private: viewer ? `priv:${viewer.userId}:${audience(viewer)}:${base}` : undefined,
  });
  /** Undefined when the store cannot answer: the request runs uncached (BYPASS). */
  const lookup = async (keys: CacheLookup["keys"]) => {
    try {
      return await store.lookup(keys.private ? [keys.private, keys.public] : [keys.public]);
    } catch (error) {
      metrics.redisErrors.inc({ operation: "response-cache-lookup" });
      logger.debug({ err: error }, "response cache unavailable; bypassing");
      return undefined;
    }
  };

  const stage: HttpStage["run"] = async (req, res, state) => {
    const body = req.body as Record<string, unknown> | undefined;
    // JSON POSTs only: their content type already needed a CORS preflight (Apollo's CSRF rule).
    if (req.method !== "POST" || !body || typeof body !== "object" || Array.isArray(body)) return;
    const { query, operationName, variables, extensions } = body as {
      query?: unknown;
      operationName?: unknown;
      variables?: unknown;
      extensions?: { persistedQuery?: { sha256Hash?: unknown } };
    };
    const givenHash = extensions?.persistedQuery?.sha256Hash;
    let textHash: string;
    if (typeof query === "string") {
      textHash = createHash("sha256").update(query).digest("hex");
      // A mismatched APQ id is an error Apollo reports.
      if (givenHash !== undefined && givenHash !== textHash) return;
    } else if (query === undefined && typeof givenHash === "string") {
      textHash = givenHash;
    } else {
      return;
    }
    if (operationName != null && typeof operationName !== "string") return;
    if (variables != null && (typeof variables !== "object" || Array.isArray(variables))) return;
    const docHash = known.get(`${textHash}:${operationName ?? ""}`);
    if (!docHash) return;
    // As Apollo chooses: its own JSON types only; anything else it answers (or refuses) itself.
    const contentType = accepts(req).type(RESPONSE_TYPES);
    if (contentType !== RESPONSE_TYPES[0] && contentType !== RESPONSE_TYPES[1]) return;
    const variablesJson = stableJson(variables ?? {});
    if (variablesJson === undefined) return;
    const base = baseKey(supergraphs.current, docHash, operationName ?? "", variablesJson);
    const keys = keysFor(base, state.viewer);
    const found = await lookup(keys);
    if (!found) return;
    const hit = found.hit;
    if (!hit || hit.ageSeconds >= hit.entry.maxAge) {
      state.cacheLookup = { base, keys, seq: found.seq };
      return;
    }
    metrics.responseCache.inc({ result: "HIT" });
    // What Apollo would send for the same hit (see the plugin): a signed-in caller's answer is
    // `private` over HTTP whatever its scope in our cache.
    const scope = state.viewer ? "private" : hit.entry.scope.toLowerCase();
    const bytes = Buffer.from(`${hit.entry.body}\n`, "utf8");
    res.statusCode = 200;
    res.setHeader("content-type", contentType);
    res.setHeader("content-length", bytes.length);
    res.setHeader("cache-control", `max-age=${hit.entry.maxAge}, ${scope}`);
    res.setHeader("age", String(hit.ageSeconds));
    res.setHeader("x-cache", "HIT");
    res.end(bytes);
    return ANSWERED;
  };

  const plugin: ApolloServerPlugin<GatewayContext> = {
    async requestDidStart() {
      // Unset until an operation is resolved: parse or validation failures are no cache outcome.
      let outcome: CacheOutcome | undefined;
      let keys: CacheLookup["keys"] | undefined;
      let sinceSeq = 0;
      return {
        async responseForOperation({ operation, document, request, source, contextValue, overallCachePolicy, schema }) {
          // No operation (an operationName the document does not define) is Apollo's to answer.
          if (!operation || operation.operation !== "query") {
            outcome = "BYPASS";
            return null;
          }
          outcome = "BYPASS";
          const docHash = documentHash(document);
          const variablesJson = stableJson(request.variables ?? {});
          if (variablesJson === undefined) return null;
          if (source !== undefined) remember(createHash("sha256").update(source).digest("hex"), request.operationName ?? "", docHash);
          // The supergraph this request was validated on, even if another is served by now.
          const base = baseKey(supergraphs.of(schema), docHash, request.operationName ?? "", variablesJson);
          const early = contextValue.state?.cacheLookup;
          if (early?.base === base) {
            // The stage looked this up before GraphQL ran, and missed.
            keys = early.keys;
            sinceSeq = early.seq;
            outcome = "MISS";
            return null;
          }
          keys = keysFor(base, contextValue.viewer);
          const found = await lookup(keys);
          if (!found) return null;
          sinceSeq = found.seq;
          const hit = found.hit;
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
            const { entities } = supergraphs.of(schema);
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
  return { plugin, stage };
}

/** How many query texts the stage recognizes; past it the oldest is forgotten (and re-learned). */
const KNOWN_DOCUMENTS_LIMIT = 5_000;
/** The single-result media types Apollo Server chooses between, in its order. */
const RESPONSE_TYPES = [
  "application/json; charset=utf-8",
  "application/graphql-response+json; charset=utf-8",
  "application/json; callbackSpec=1.0; charset=utf-8",
];
