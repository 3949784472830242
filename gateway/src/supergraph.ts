import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Supergraph } from "@apollo/federation-internals";
import type { GraphQLSchema } from "graphql";

export class SupergraphError extends Error {
  override name = "SupergraphError";
}

export interface LoadedSupergraph {
  sdl: string;
  /** SHA-256 of the SDL (hex): what plans, cache keys and /ready name it by. */
  hash: string;
  /** The subgraphs it names, with the URLs composed into it. */
  subgraphs: { name: string; url: string }[];
  /** What clients can query: persisted operations are checked against it. */
  apiSchema: GraphQLSchema;
}

export const supergraphHash = (sdl: string) => createHash("sha256").update(sdl).digest("hex");

/**
 * Validates a supergraph's text as Apollo's gateway would (composition metadata, join directives,
 * subgraph URLs). `origin` names where it came from in the error, never its content.
 */
export function parseSupergraph(sdl: string, origin: string): LoadedSupergraph {
  try {
    const supergraph = Supergraph.build(sdl, { validateSupergraph: true });
    return {
      sdl,
      hash: supergraphHash(sdl),
      subgraphs: supergraph.subgraphsMetadata().map(({ name, url }) => ({ name, url })),
      apiSchema: supergraph.apiSchema().toGraphQLJSSchema(),
    };
  } catch (error) {
    throw new SupergraphError(
      `The supergraph at ${origin} is not a valid federated supergraph: ${String((error as Error).message).split("\n")[0]} ` +
        "Run `npm run compose` to regenerate it.",
    );
  }
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
  return parseSupergraph(sdl, file);
}

/**
 * Fetches a supergraph from a URL (a schema registry, a bucket): at most `maxBytes`, within
 * `timeoutMs`, a 2xx answer only. An ETag seen before and answered 304 returns undefined.
 */
export async function fetchSupergraph(
  url: string,
  options: { timeoutMs: number; maxBytes: number; etag?: string | undefined },
): Promise<{ sdl: string; etag: string | undefined } | undefined> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "text/plain, application/graphql, */*", ...(options.etag ? { "if-none-match": options.etag } : {}) },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const reason = (error as Error).name === "TimeoutError" ? `no answer within ${options.timeoutMs} ms` : "unreachable";
    throw new SupergraphError(`Cannot fetch the supergraph from ${url} (${reason}).`);
  }
  if (response.status === 304) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new SupergraphError(`Cannot fetch the supergraph from ${url} (HTTP ${response.status}).`);
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > options.maxBytes) {
    await response.body?.cancel();
    throw new SupergraphError(`The supergraph at ${url} is larger than SUPERGRAPH_MAX_BYTES (${options.maxBytes}).`);
  }
  // The declared length may be absent or wrong: count what actually arrives and stop past the limit.
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > options.maxBytes) {
        throw new SupergraphError(`The supergraph at ${url} is larger than SUPERGRAPH_MAX_BYTES (${options.maxBytes}).`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof SupergraphError) throw error;
    throw new SupergraphError(`Cannot fetch the supergraph from ${url} (the answer was cut off).`);
  }
  return { sdl: Buffer.concat(chunks).toString("utf8"), etag: response.headers.get("etag") ?? undefined };
}
