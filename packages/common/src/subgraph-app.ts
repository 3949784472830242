import type { RequestListener } from "node:http";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import bodyParser from "body-parser";
import express, { type Express } from "express";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema } from "graphql";
import { errorMaskingPlugin, type RequestScoped } from "./error-masking.ts";
import type { Logger } from "./logger.ts";
import type { SubgraphDeps } from "./bootstrap.ts";
import { executeGraphQLOverHttp } from "./graphql-http.ts";
import { answerError, jsonErrorHandler, requestIdMiddleware, routeOf } from "./http.ts";
import { refuseDeepInput } from "./input-depth.ts";
import { inputGuardPlugin } from "./input-guard.ts";
import { enforceAuthorization, type Policy } from "./auth/authorization.ts";
import { admitGatewayRequest, gatewayIdentityVerifier, signIdentity } from "./auth/internal-identity.ts";
import { requestIdFrom } from "./request-id.ts";
import type { Database } from "./database.ts";
import { ErrorCode, isPoolExhausted } from "./errors.ts";
import { boundedNameLabel, requestOutcome } from "./metric-labels.ts";
import { createSubgraphMetrics, type SubgraphMetrics } from "./subgraph-metrics.ts";
import type { Viewer } from "./auth/viewer.ts";

/** What a subgraph knows about the request it serves, all of it vouched for by the gateway. */
export interface SubgraphRequest {
  requestId: string;
  viewer: Viewer | null;
  /** The gateway's signed identity header, forwarded when this subgraph calls a peer for the caller. */
  identityToken: string;
}

export interface SubgraphAppOptions<TContext extends RequestScoped> {
  name: string;
  schema: GraphQLSchema;
  logger: Logger;
  /** Builds the per-request context (DataLoaders live here, never at module scope). */
  context(request: SubgraphRequest): TContext;
  /** Secrets that verify the gateway's identity header; the first also signs (in-process tests). */
  internalSecrets: readonly string[];
  /** Extra HTTP routes (e.g. the users subgraph's JWKS), mounted before /graphql. */
  routes?(app: Express): void;
  /** Its database: readiness asks whether it can serve now, /metrics shows its pool. */
  database: Pick<Database, "ping" | "poolStats">;
  introspection: boolean;
  plugins?: ApolloServerPlugin<TContext>[];
}

export interface SubgraphApp {
  /** The HTTP request listener: /graphql on node:http, other routes through Express. */
  app: RequestListener;
  metrics: SubgraphMetrics;
  apollo: ApolloServer<RequestScoped>;
  /** Runs an operation in-process with a fresh request context (what unit tests call). */
  execute(query: string, variables?: Record<string, unknown>, viewer?: Viewer | null): Promise<ExecutionResultLike>;
  /**
   * What a service started together with its peers does once they are reachable, before the
   * system reports ready (the products subgraph reads inventory's stock feed to its end). Absent
   * or resolved: nothing to wait for. Rejects when the peer cannot answer; the caller logs it.
   */
  catchUp?(): Promise<void>;
  stop(): Promise<void>;
}

export interface ExecutionResultLike {
  data?: Record<string, unknown> | null;
  errors?: readonly GraphQLFormattedError[];
}

/** The HTTP shell every subgraph shares: /graphql, /health, /ready, request ids and error masking. */
export async function createSubgraphApp<TContext extends RequestScoped>(
  options: SubgraphAppOptions<TContext>,
): Promise<SubgraphApp> {
  const metrics = createSubgraphMetrics(() => options.database.poolStats());
  const apollo = new ApolloServer<TContext>({
    schema: options.schema,
    // Signals are ours (stopOnSignal): Apollo's own handler stops the server and re-sends SIGTERM
    // in production, cutting the drain short and exiting 143.
    stopOnTerminationSignals: false,
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    // No connection freed up in time: the client should come back shortly, not read "internal error".
    formatError(formatted, error) {
      if (!isPoolExhausted(error)) return formatted;
      metrics.poolExhausted.inc();
      return {
        ...formatted,
        message: `The ${options.name} service is busy; try again shortly.`,
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retryAfter: 1 },
      };
    },
    // Inline tracing only feeds Apollo Studio, which we do not use; it costs time on every request.
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      requestMetricsPlugin<TContext>(metrics),
      inputGuardPlugin<TContext>(),
      errorMaskingPlugin<TContext>(options.logger),
      ...(options.plugins ?? []),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable("x-powered-by");
  app.use(requestIdMiddleware);
  app.get("/health", (_req, res) => {
    res.json({ status: "ok", service: options.name });
  });
  // Ready means able to serve now: the database answers and the pool is not saturated.
  app.get("/ready", async (_req, res) => {
    const pool = options.database.poolStats();
    try {
      await options.database.ping();
      res.json({ status: "ready", service: options.name, ...(pool ? { pool } : {}) });
    } catch (error) {
      const busy = isPoolExhausted(error);
      options.logger.warn({ err: error, pool }, "readiness check failed");
      res.status(503).json({ status: "unavailable", service: options.name, reason: busy ? "database pool exhausted" : "database unavailable", ...(pool ? { pool } : {}) });
    }
  });
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  options.routes?.(app);
  app.use(jsonErrorHandler(options.logger));

  // GraphQL without Express (graphql-http.ts). Before the body is even read: anything that did
  // not come through the gateway stops here.
  const verify = gatewayIdentityVerifier(options.internalSecrets);
  const parseJson = bodyParser.json({ limit: "1mb" });
  const graphql: RequestListener = (req, res) => {
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    res.setHeader("x-request-id", requestId);
    const admitted = admitGatewayRequest(verify, req, res);
    if (!admitted) return;
    parseJson(req, res, (error?: unknown) => {
      if (error) return answerError(error as { type?: string }, res, options.logger);
      if (refuseDeepInput(req, res)) return;
      const context = async () => options.context({ requestId, ...admitted });
      executeGraphQLOverHttp(apollo, req, res, context).catch((failure: unknown) => answerError(failure as { type?: string }, res, options.logger));
    });
  };
  const listener: RequestListener = (req, res) => {
    const path = routeOf(req.url);
    if (path === "/graphql" || path === "/graphql/") return void graphql(req, res);
    app(req, res);
  };
  return {
    app: listener,
    metrics,
    apollo: apollo as unknown as ApolloServer<RequestScoped>,
    async execute(query, variables, viewer = null) {
      const requestId = `test-${Math.random().toString(36).slice(2)}`;
      const secret = options.internalSecrets[0];
      if (!secret) throw new Error("no internal secret to sign the in-process identity with");
      const identityToken = signIdentity(secret, viewer);
      const response = await apollo.executeOperation(
        { query, ...(variables ? { variables } : {}) },
        { contextValue: options.context({ requestId, viewer, identityToken }) },
      );
      if (response.body.kind !== "single") throw new Error("incremental delivery is not used here");
      return response.body.singleResult as ExecutionResultLike;
    },
    stop: () => apollo.stop(),
  };
}

/** Each request's duration, operation name (bounded) and outcome, into subgraph_request_duration_seconds. */
function requestMetricsPlugin<TContext extends RequestScoped>(metrics: SubgraphMetrics): ApolloServerPlugin<TContext> {
  const operationLabel = boundedNameLabel(100);
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ response, operationName }) {
          const body = response.body.kind === "single" ? response.body.singleResult : undefined;
          const outcome = requestOutcome(response.http.status ?? 200, !!body?.errors?.length, body?.data != null);
          metrics.requestSeconds.observe({ operation: operationLabel(operationName), outcome }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

/** buildSubgraphSchema's resolver map type, which @apollo/subgraph does not export. */
type SubgraphResolverMap = Extract<Parameters<typeof buildSubgraphSchema>[0], { resolvers?: unknown }>["resolvers"];

/**
 * What each subgraph's server.ts declares: its SDL, resolvers and per-request context. The result
 * builds the server from injected dependencies and never listens (index.ts, or a test, does).
 */
export function defineSubgraphServer<P, TContext extends RequestScoped, Services = undefined>(definition: {
  name: string;
  typeDefs: DocumentNode;
  resolvers: object;
  /** The data-dependent rules the schema names in @policy. */
  policies?: Record<string, Policy>;
  /**
   * Per-process services built once from the dependencies before the server answers (e.g. a job
   * queue and its workers), handed to every request's context and stopped with the server.
   */
  start?(deps: SubgraphDeps<P>): Promise<Services & { stop(): Promise<void>; catchUp?(): Promise<void> }>;
  createContext(deps: SubgraphDeps<P>, request: SubgraphRequest, services: Services): TContext;
  routes?(app: Express, deps: SubgraphDeps<P>): void;
}): (deps: SubgraphDeps<P>) => Promise<SubgraphApp> {
  // Our resolvers are typed per subgraph; this is the one place they meet the loose map type.
  const schema = enforceAuthorization(
    buildSubgraphSchema({ typeDefs: definition.typeDefs, resolvers: definition.resolvers as SubgraphResolverMap }),
    definition.policies ?? {},
  );
  return async (deps) => {
    const services = definition.start ? await definition.start(deps) : undefined;
    const app = await createSubgraphApp<TContext>({
      name: definition.name,
      schema,
      logger: deps.logger,
      introspection: deps.introspection,
      context: (request) => definition.createContext(deps, request, services as Services),
      internalSecrets: deps.auth.internalSecrets,
      ...(definition.routes ? { routes: (app: Express) => definition.routes?.(app, deps) } : {}),
      database: deps.db,
    });
    return {
      ...app,
      ...(services?.catchUp ? { catchUp: () => services.catchUp!() } : {}),
      async stop() {
        // Background work first: a job must not start against a server that is going away.
        await services?.stop();
        await app.stop();
      },
    };
  };
}
