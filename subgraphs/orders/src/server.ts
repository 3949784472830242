import { readFileSync } from "node:fs";
import { defineSubgraphServer } from "@catalog/common";
import { parse } from "graphql";
import { createContext } from "./context.ts";
import { policies } from "./policies.ts";
import { resolvers } from "./resolvers/index.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/** Builds the orders subgraph from injected dependencies. It never listens: index.ts does. */
export const buildOrdersServer = defineSubgraphServer({ name: "orders", typeDefs, resolvers, policies, createContext });
