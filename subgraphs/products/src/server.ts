import { readFileSync } from "node:fs";
import { defineSubgraphServer } from "@catalog/common";
import { parse } from "graphql";
import { createContext } from "./context.ts";
import { resolvers } from "./resolvers/index.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/** Builds the products subgraph from injected dependencies. It never listens: index.ts does. */
export const buildProductsServer = defineSubgraphServer({ name: "products", typeDefs, resolvers, createContext });
