import { readFile } from "node:fs/promises";
import path from "node:path";
import { composeServices } from "@apollo/composition";
import { DEFAULT_SUBGRAPH_PORTS, REPO_ROOT, SUBGRAPHS } from "@catalog/common";
import { parse } from "graphql";

export const SUPERGRAPH_PATH = path.join(REPO_ROOT, "schema", "supergraph.graphql");


/** Composes the supergraph from every subgraph's schema.graphql, as `npm run compose` does. */
export async function composeSupergraph(): Promise<string> {
  const services = await Promise.all(
    SUBGRAPHS.map(async (name) => ({
      name,
      url: `http://localhost:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`,
      typeDefs: parse(await readFile(path.join(REPO_ROOT, "subgraphs", name, "schema.graphql"), "utf8")),
    })),
  );
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((error) => `  - ${error.message}`).join("\n")}`);
  }
  return result.supergraphSdl;
}
