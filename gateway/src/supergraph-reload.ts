import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ApolloGateway, SupergraphSdlHook, SupergraphSdlUpdateFunction } from "@apollo/gateway";
import type { Logger } from "@catalog/common/edge";
import type { GraphQLSchema } from "graphql";
import { entityTypesOf } from "./cache-tags.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { costModelFromSupergraph, type CostModel } from "./operation-limits.ts";
import { latestWins } from "./serial.ts";
import { fetchSupergraph, parseSupergraph, supergraphHash, SupergraphError, type LoadedSupergraph } from "./supergraph.ts";

/** A supergraph the gateway serves (or is about to), with everything derived from its schema. */
export interface ServedSupergraph extends LoadedSupergraph {
  /** When it started serving; undefined until then. */
  loadedAt: Date | undefined;
  costModel: CostModel;
  /** Entity types, for response-cache tags. */
  entities: Set<string>;
}

/** Where new supergraphs come from: the file (watched) or a URL (polled). */
export type SupergraphSource =
  | { kind: "file"; path: string; watch: boolean }
  | { kind: "url"; url: string; pollIntervalMs: number; timeoutMs: number; maxBytes: number };

export type ReloadOutcome = "applied" | "refused" | "failed" | "unchanged";

/** Validation beyond the supergraph's own: everything derived from it must build too. */
function serve(loaded: LoadedSupergraph): ServedSupergraph {
  return { ...loaded, loadedAt: undefined, costModel: costModelFromSupergraph(loaded.sdl), entities: entityTypesOf(loaded.sdl) };
}

/** Editors and `cp` write in several steps; one read after the writes settle sees the whole file. */
const WATCH_SETTLE_MS = 150;

/**
 * Hot reload of the supergraph through Apollo's own mechanism (`supergraphSdl` as a hook that
 * receives `update`): a new supergraph is read, validated, vetted (`vet`: e.g. partners'
 * persisted operations must still validate) and only then handed to the gateway, which swaps
 * schema, planner and query-plan cache at once, between two requests. A supergraph that fails
 * any check is refused, logged and counted; the one being served stays.
 *
 * Per-request state follows the schema a request runs on, not the latest one: `of(schema)` maps
 * the API schema Apollo Server gives a request to the supergraph it came from.
 */
export class SupergraphReloads {
  #current: ServedSupergraph;
  #pending: ServedSupergraph | undefined;
  readonly #bySchema = new WeakMap<GraphQLSchema, ServedSupergraph>();
  #update: SupergraphSdlUpdateFunction | undefined;
  #lastRefused: string | undefined;
  #etag: string | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly reload: () => Promise<ReloadOutcome>;

  constructor(
    initial: LoadedSupergraph,
    private readonly options: {
      source: SupergraphSource;
      vet: (candidate: ServedSupergraph) => string[];
      logger: Logger;
      metrics: GatewayMetrics;
    },
  ) {
    this.#current = serve(initial);
    this.#pending = this.#current;
    this.reload = latestWins(() => this.#reloadOnce());
  }

  /** The supergraph now served (the one new requests start on). */
  get current(): ServedSupergraph {
    return this.#current;
  }

  /** The supergraph a request runs on, by the schema Apollo Server gave it. */
  of(schema: GraphQLSchema): ServedSupergraph {
    return this.#bySchema.get(schema) ?? this.#current;
  }

  /** ApolloGateway's `supergraphSdl` option. */
  readonly hook: SupergraphSdlHook = async ({ update }) => {
    this.#update = update;
    this.#start();
    return {
      supergraphSdl: this.#current.sdl,
      cleanup: async () => this.close(),
    };
  };

  /**
   * Follows the gateway's swaps; `onSwap` runs synchronously inside the swap, before Apollo
   * Server serves the new schema, so derived state never lags behind it.
   */
  attach(gateway: ApolloGateway, onSwap: (next: ServedSupergraph, previous: ServedSupergraph) => void): void {
    gateway.onSchemaLoadOrUpdate(({ apiSchema, coreSupergraphSdl }) => {
      const previous = this.#current;
      const next =
        this.#pending && this.#pending.sdl === coreSupergraphSdl ? this.#pending : serve(parseSupergraph(coreSupergraphSdl, "the gateway"));
      this.#pending = undefined;
      next.loadedAt = new Date();
      this.#bySchema.set(apiSchema, next);
      this.#current = next;
      if (next !== previous) onSwap(next, previous);
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }

  #start(): void {
    const { source, logger } = this.options;
    if (source.kind === "url") {
      const poll = () => {
        this.#timer = setTimeout(() => void this.reload().finally(() => !this.#closed && poll()), source.pollIntervalMs);
        this.#timer.unref();
      };
      poll();
      return;
    }
    if (!source.watch) return;
    try {
      // The directory, not the file: `mv new supergraph.graphql` and editors that save by rename
      // replace the file's inode, and a watch on the old inode would go quiet. Any event in the
      // directory leads to one read; an unchanged hash costs nothing more.
      this.#watcher = watch(path.dirname(source.path), () => {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.reload(), WATCH_SETTLE_MS);
      });
      this.#watcher.on("error", (error) => logger.error({ err: error }, "stopped watching the supergraph; changes need a restart"));
    } catch (error) {
      logger.warn({ err: error, path: source.path }, "cannot watch the supergraph; changes need a restart");
    }
  }

  async #read(): Promise<string | undefined> {
    const { source } = this.options;
    if (source.kind === "file") {
      try {
        return await readFile(source.path, "utf8");
      } catch (error) {
        throw new SupergraphError(`Cannot read the supergraph at ${source.path} (${(error as NodeJS.ErrnoException).code ?? "unknown error"}).`);
      }
    }
    const fetched = await fetchSupergraph(source.url, { timeoutMs: source.timeoutMs, maxBytes: source.maxBytes, etag: this.#etag });
    if (!fetched) return undefined;
    this.#etag = fetched.etag;
    return fetched.sdl;
  }

  async #reloadOnce(): Promise<ReloadOutcome> {
    const { logger, metrics, source } = this.options;
    const origin = source.kind === "file" ? source.path : source.url;
    const served = this.#current.hash;
    let sdl: string | undefined;
    try {
      sdl = await this.#read();
    } catch (error) {
      // Unreadable for now (deleted, a registry down): keep serving, try again on the next change.
      metrics.supergraphReloads.inc({ outcome: "failed" });
      logger.warn({ reason: (error as Error).message, served }, "could not read a new supergraph; the served one stays");
      return "failed";
    }
    if (sdl === undefined || this.#closed) return "unchanged";
    const hash = supergraphHash(sdl);
    // A registry answering the same refused text at every poll is logged and counted once; a file
    // written again is an operator's new attempt (partners' lists may have changed since).
    if (hash === served || (source.kind === "url" && hash === this.#lastRefused)) return "unchanged";
    const refuse = (problems: string[]): ReloadOutcome => {
      this.#lastRefused = hash;
      metrics.supergraphReloads.inc({ outcome: "refused" });
      logger.error({ refused: hash, served, problems }, "refused a new supergraph; the served one stays");
      return "refused";
    };
    let candidate: ServedSupergraph;
    try {
      candidate = serve(parseSupergraph(sdl, origin));
    } catch (error) {
      return refuse([error instanceof SupergraphError ? error.message : `cannot derive the gateway's state from it: ${(error as Error).message.split("\n")[0]}`]);
    }
    const problems = this.options.vet(candidate);
    if (problems.length) return refuse(problems);
    if (!this.#update) return refuse(["the gateway is not running"]);
    this.#pending = candidate;
    try {
      // Synchronous: schema, planner and plan cache change between two requests.
      this.#update(candidate.sdl);
    } catch (error) {
      this.#pending = undefined;
      return refuse([`the gateway refused it: ${(error as Error).message.split("\n")[0]}`]);
    }
    this.#lastRefused = undefined;
    metrics.supergraphReloads.inc({ outcome: "applied" });
    logger.info({ served: hash, previous: served, subgraphs: candidate.subgraphs.map((s) => s.name) }, "serving a new supergraph");
    return "applied";
  }
}
