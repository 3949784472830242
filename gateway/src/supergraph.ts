import { readFile } from "node:fs/promises";
import { Supergraph } from "@apollo/federation-internals";

export class SupergraphError extends Error {
  override name = "SupergraphError";
}

export interface LoadedSupergraph {
  sdl: string;
  /** The subgraphs it names, with the URLs composed into it. */
  subgraphs: { name: string; url: string }[];
}

/**
 * Reads and validates the committed supergraph. The gateway refuses to start without a valid one:
 * serving a guessed or half-composed schema would be worse than not serving at all.
 */
export async function loadSupergraph(file: string): Promise<LoadedSupergraph> {
  let sdl: string;
  try {
    sdl = await readFile(file, "utf8");
  } catch (error) {
    throw new SupergraphError(
      `Cannot read the supergraph at ${file} (${(error as NodeJS.ErrnoException).code ?? "unknown error"}). ` +
        "Run `npm run compose` to create it.",
    );
  }
  try {
    const supergraph = Supergraph.build(sdl, { validateSupergraph: true });
    return { sdl, subgraphs: supergraph.subgraphsMetadata().map(({ name, url }) => ({ name, url })) };
  } catch (error) {
    throw new SupergraphError(
      `The supergraph at ${file} is not a valid federated supergraph: ${String((error as Error).message).split("\n")[0]} ` +
        "Run `npm run compose` to regenerate it.",
    );
  }
}
