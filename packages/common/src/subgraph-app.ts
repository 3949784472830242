import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type Express } from "express";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema } from "graphql";
import { errorMaskingPlugin, type RequestScoped } from "./error-masking.ts";
import type { Logger } from "./logger.ts";
import type { SubgraphDeps } from "./bootstrap.ts";
import { jsonErrorHandler, requestIdMiddleware } from "./http.ts";
import { inputGuardPlugin } from "./input-guard.ts";

export interface SubgraphAppOptions<TContext extends RequestScoped> {
  name: string;
  schema: GraphQLSchema;
  logger: Logger;
  /** Builds the per-request context (DataLoaders live here, never at module scope). */
  context(requestId: string): TContext;
  /** Throws when the subgraph cannot serve (e.g. its database is unreachable). */
  checkReady(): Promise<void>;
  introspection: boolean;
  plugins?: ApolloServerPlugin<TContext>[];
}

export interface SubgraphApp {
  app: Express;
  apollo: ApolloServer<RequestScoped>;
  /** Runs an operation in-process with a fresh request context (what unit tests call). */
  execute(query: string, variables?: Record<string, unknown>): Promise<ExecutionResultLike>;
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
  const apollo = new ApolloServer<TContext>({
    schema: options.schema,
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    // Inline tracing only feeds Apollo Studio, which we do not use; it costs time on every request.
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
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
  app.get("/ready", async (_req, res) => {
    try {
      await options.checkReady();
      res.json({ status: "ready", service: options.name });
    } catch (error) {
      options.logger.warn({ err: error }, "readiness check failed");
      res.status(503).json({ status: "unavailable", service: options.name });
    }
  });
  app.use(
    "/graphql",
    express.json({ limit: "1mb" }),
    expressMiddleware(apollo, {
      context: async ({ res }) => options.context(res.locals.requestId as string),
    }),
  );
  app.use(jsonErrorHandler(options.logger));
  return {
    app,
    apollo: apollo as unknown as ApolloServer<RequestScoped>,
    async execute(query, variables) {
      const response = await apollo.executeOperation(
        { query, ...(variables ? { variables } : {}) },
        { contextValue: options.context(`test-${Math.random().toString(36).slice(2)}`) },
      );
      if (response.body.kind !== "single") throw new Error("incremental delivery is not used here");
      return response.body.singleResult as ExecutionResultLike;
    },
    stop: () => apollo.stop(),
  };
}

/** buildSubgraphSchema's resolver map type, which @apollo/subgraph does not export. */
type SubgraphResolverMap = Extract<Parameters<typeof buildSubgraphSchema>[0], { resolvers?: unknown }>["resolvers"];

/**
 * What each subgraph's server.ts declares: its SDL, resolvers and per-request context. The result
 * builds the server from injected dependencies and never listens (index.ts, or a test, does).
 */
export function defineSubgraphServer<P, TContext extends RequestScoped>(definition: {
  name: string;
  typeDefs: DocumentNode;
  resolvers: object;
  createContext(deps: SubgraphDeps<P>, requestId: string): TContext;
}): (deps: SubgraphDeps<P>) => Promise<SubgraphApp> {
  // Our resolvers are typed per subgraph; this is the one place they meet the loose map type.
  const schema = buildSubgraphSchema({ typeDefs: definition.typeDefs, resolvers: definition.resolvers as SubgraphResolverMap });
  return (deps) =>
    createSubgraphApp<TContext>({
      name: definition.name,
      schema,
      logger: deps.logger,
      introspection: deps.introspection,
      context: (requestId) => definition.createContext(deps, requestId),
      checkReady: async () => {
        await deps.db.query("SELECT 1");
      },
    });
}
