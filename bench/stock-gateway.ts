// The baseline of `npm run bench:engine`: a stock Apollo gateway over the same subgraphs, run as its
// own process (node --import tsx bench/stock-gateway.ts). It adds exactly one thing to
// @apollo/gateway + @apollo/server's startStandaloneServer: the `x-catalog-identity` header our
// subgraphs require, signed from the caller's verified bearer token (or anonymous). No response
// cache, no limits, no rate limits, no error masking, no plugins beyond turning off usage reporting
// and the landing page; the gateway's own fetcher (make-fetch-happen) and in-memory query-plan cache.
//
// Environment: PORT, HOST (127.0.0.1), SUPERGRAPH_PATH (schema/supergraph.graphql),
// <NAME>_SUBGRAPH_URL for each subgraph, JWT_SECRET, INTERNAL_AUTH_SECRET.
import { createSecretKey, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled, ApolloServerPluginUsageReportingDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { GraphQLError } from "graphql";
import jwt from "jsonwebtoken";
// Imported from their files, not from "@catalog/common": its index also loads the database drivers
// (pg, PGlite, Prisma adapters), which a stock gateway would not carry in its memory.
import { IDENTITY_HEADER, signIdentity } from "../packages/common/src/auth/internal-identity.ts";
import type { Viewer } from "../packages/common/src/auth/viewer.ts";

interface StockContext {
  requestId: string;
  viewer: Viewer | null;
  /** Signed on the first subgraph call of the request, then reused for its other calls. */
  identity?: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`stock gateway: ${name} is required`);
    process.exit(1);
  }
  return value;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 4100);
const host = process.env.HOST ?? "127.0.0.1";
const internalSecret = required("INTERNAL_AUTH_SECRET");
// A prepared key: with a string secret jsonwebtoken tries to parse it as a PEM key on every call.
const jwtKey = createSecretKey(Buffer.from(required("JWT_SECRET"), "utf8"));
const supergraphSdl = await readFile(process.env.SUPERGRAPH_PATH ?? path.join(repoRoot, "schema", "supergraph.graphql"), "utf8");

class IdentityDataSource extends RemoteGraphQLDataSource<StockContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<StockContext>): void {
    // Health checks and supergraph loading have no incoming request (no requestId): nothing to sign.
    if (!context || typeof context.requestId !== "string") return;
    context.identity ??= signIdentity(internalSecret, context.viewer);
    request.http?.headers.set(IDENTITY_HEADER, context.identity);
  }
}

function viewerFrom(authorization: string | undefined): Viewer | null {
  if (!authorization) return null;
  const token = /^Bearer (\S+)$/.exec(authorization)?.[1];
  try {
    if (!token) throw new Error("not a bearer token");
    const payload = jwt.verify(token, jwtKey, { algorithms: ["HS256"], issuer: "catalog", audience: "catalog-api" }) as jwt.JwtPayload & {
      roles?: unknown;
      scope?: unknown;
    };
    if (typeof payload.sub !== "string" || !Array.isArray(payload.roles) || typeof payload.scope !== "string") {
      throw new Error("token lacks claims");
    }
    return { userId: payload.sub, roles: payload.roles.map(String), scopes: payload.scope.split(" ").filter(Boolean) };
  } catch {
    throw new GraphQLError("The access token is invalid.", { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
  }
}

const gateway = new ApolloGateway({
  supergraphSdl,
  buildService: ({ name, url }) => new IdentityDataSource({ url: process.env[`${name.toUpperCase()}_SUBGRAPH_URL`] ?? url }),
});
const server = new ApolloServer<StockContext>({
  gateway,
  plugins: [ApolloServerPluginUsageReportingDisabled(), ApolloServerPluginLandingPageDisabled()],
});
const { url } = await startStandaloneServer(server, {
  listen: { port, host },
  context: async ({ req }) => ({ requestId: randomUUID(), viewer: viewerFrom(req.headers.authorization) }),
});
process.stdout.write(`stock gateway listening at ${url}\n`);

const shutdown = () => {
  void server.stop().finally(() => process.exit(0));
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
