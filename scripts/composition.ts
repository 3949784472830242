import { readFile } from "node:fs/promises";
import path from "node:path";
import { composeServices } from "@apollo/composition";
import { DEFAULT_SUBGRAPH_PORTS, REPO_ROOT, SUBGRAPHS } from "@catalog/common";
import { parse } from "graphql";

export const SUPERGRAPH_PATH = path.join(REPO_ROOT, "schema", "supergraph.graphql");

/**
 * Composition marks the authorization specs `for: SECURITY`, which tells a router "refuse this
 * supergraph unless you enforce these directives". Apollo's JS gateway does not enforce them, so
 * it would refuse to start. In this system the subgraphs enforce them (common/auth/authorization.ts),
 * for every path to a field including direct _entities calls; so the marker is dropped and the
 * directives stay in the supergraph as documentation and for the gateway's own checks.
 */
const SECURITY_SPECS = /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes|policy)\/v[\d.]+"), for: SECURITY\)/g;

/**
 * Composes the supergraph from every subgraph's schema.graphql, as `npm run compose` does.
 * `edit` changes a subgraph's SDL first (tests compose the supergraph of a schema change).
 */
export async function composeSupergraph(edit: (subgraph: string, sdl: string) => string = (_name, sdl) => sdl): Promise<string> {
  const services = await Promise.all(
    SUBGRAPHS.map(async (name) => ({
      name,
      url: `http://localhost:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`,
      typeDefs: parse(edit(name, await readFile(path.join(REPO_ROOT, "subgraphs", name, "schema.graphql"), "utf8"))),
    })),
  );
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((error) => `  - ${error.message}`).join("\n")}`);
  }
  return result.supergraphSdl.replace(SECURITY_SPECS, "$1)");
}
