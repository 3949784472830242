import { readFileSync } from "node:fs";
import { defineSubgraphServer } from "@catalog/common";
import { parse } from "graphql";
import { createContext } from "./context.ts";
import { policies } from "./policies.ts";
import { resolvers } from "./resolvers/index.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/** Builds the users subgraph from injected dependencies. It never listens: index.ts does. */
export const buildUsersServer = defineSubgraphServer({
  name: "users",
  typeDefs,
  resolvers,
  policies,
  createContext,
  // The public keys that verify access tokens (RS256); the gateway fetches them from here.
  routes: (app, deps) => {
    app.get("/.well-known/jwks.json", (_req, res) => {
      res.setHeader("cache-control", "public, max-age=300");
      res.json(deps.auth.issuer?.jwks() ?? { keys: [] });
    });
  },
});
