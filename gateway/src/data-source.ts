import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { ErrorCode, IDENTITY_HEADER, isPublicCode, type Logger } from "@catalog/common/edge";
import { GraphQLError } from "graphql";
import { setTimeout as wait } from "node:timers/promises";
import CircuitBreaker from "opossum";
import { Pool } from "undici";
import type { GatewayContext } from "./context.ts";
import { EntityBatcher } from "./entity-batching.ts";
import type { GatewayMetrics } from "./metrics.ts";

type GatewayGraphQLResponse = Awaited<ReturnType<GraphQLDataSource["process"]>>;

/** undici's own errors for a call that ran out of time or was cut off by the request's deadline. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_ABORTED", "UND_ERR_CONNECT_TIMEOUT"]);

/** An answer past SUBGRAPH_MAX_RESPONSE_BYTES (read so far, or declared by Content-Length). */
class ResponseTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`subgraph answer of at least ${bytes} bytes`);
  }
}

/** A 5xx answer: a failure for the breaker, reported to the client as the service being unavailable. */
class SubgraphFailed extends Error {
  constructor(readonly answer: Answer) {
    super(`subgraph answered HTTP ${answer.status}`);
  }
}

/** The request's deadline (pipeline.ts aborts with a TimeoutError) or a wait it cut short. */
const isDeadlineAbort = (error: unknown) => error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");

/** Connection errors worth one more try for a query: the subgraph never answered this call. */
const RETRIABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/** The fetch histogram's outcome label for each error a call can end in (else "error"). */
const FETCH_OUTCOMES: Record<string, string> = {
  [ErrorCode.SERVICE_UNAVAILABLE]: "unavailable",
  [ErrorCode.GATEWAY_TIMEOUT]: "timeout",
  [ErrorCode.SUBGRAPH_RESPONSE_TOO_LARGE]: "too_large",
};

export type BreakerState = "closed" | "half-open" | "open";
const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/** A subgraph's answer as read off the wire; shared by every caller of a de-duplicated call. */
export interface Answer {
  status: number;
  contentType: string | undefined;
  cacheControl: string | undefined;
  text: string;
}

interface SubgraphErrorBody {
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/**
 * Where a call's answer goes in the client's response, as a response path: the query plan's
 * path up to its first list marker ("@", every element of a list). Undefined for a call at the
 * root, whose fields are the ones that stay null.
 */
function responsePath(planPath: readonly (string | number)[] | undefined): (string | number)[] | undefined {
  if (!planPath?.length) return undefined;
  const end = planPath.indexOf("@");
  const path = end === -1 ? [...planPath] : planPath.slice(0, end);
  return path.length ? path : undefined;
}

/** The hint a subgraph's Cache-Control header gives, as Apollo's own data source reads it. */
function cacheHint(value: string | undefined): { maxAge: number; scope?: "PUBLIC" | "PRIVATE" } {
  const hint: { maxAge: number; scope?: "PUBLIC" | "PRIVATE" } = { maxAge: 0 };
  for (const directive of (value ?? "").split(",")) {
    const [name, argument] = directive.trim().toLowerCase().split("=", 2);
    if (name === "max-age" && argument && /^[0-9]+$/.test(argument)) hint.maxAge = Number(argument);
    else if (name === "private") hint.scope = "PRIVATE";
    else if (name === "public") hint.scope = "PUBLIC";
  }
  return hint;
}

/**
 * Every request to a subgraph goes through here; it is the one place that decides which headers a
 * subgraph sees: the request id, so logs line up, and the gateway-signed identity of the caller.
 * No client header is forwarded.
 *
 * It implements Apollo's data-source interface itself rather than extending
 * RemoteGraphQLDataSource, which builds node-fetch Headers and a node-fetch Request per call
 * (unused but paid for) and hands the call to a fetch-style function:
 * - one keep-alive undici Pool per subgraph: no Request/Response/web-stream objects per call,
 *   the per-call timeout is undici's own timer, and the request's deadline (one signal per
 *   client request, from the context) cuts every call it started;
 * - identical calls in flight at once are made once (`dedupe`): same subgraph, same body, same
 *   identity token, and only for calls made on behalf of a query. The identity token names the
 *   viewer (and nothing per request), so callers are only ever joined with the same viewer's
 *   identical call: nothing can cross between users. Each caller parses its own copy of the
 *   answer, since the executor merges into what it receives. A joined call runs under its first
 *   caller's deadline, and the subgraph logs that caller's request id.
 */
export class SubgraphDataSource implements GraphQLDataSource<GatewayContext> {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly inflight = new Map<string, Promise<Answer>>();

  readonly subgraph: string;
  /** Where this source calls the subgraph. */
  readonly url: string;
  private readonly logger: Logger;
  private readonly dedupe: boolean;
  private readonly batcher: EntityBatcher | undefined;
  private readonly metrics: GatewayMetrics | undefined;
  private readonly maxResponseBytes: number;
  private readonly retries: { max: number; baseDelayMs: number };
  private readonly breaker: CircuitBreaker<[Record<string, string>, string, AbortSignal | undefined, boolean], Answer> | undefined;

  constructor(options: {
    subgraph: string;
    url: string;
    timeoutMs: number;
    /** Past this many bytes an answer is not read further and the call fails (default 10 MiB). */
    maxResponseBytes?: number;
    logger: Logger;
    dedupe: boolean;
    /** Entity calls of the same shape for the same viewer, begun in the same tick, sent as one. */
    batchEntities?: boolean;
    metrics?: GatewayMetrics;
    /** Retries after connection errors, for queries only (default: none). */
    retries?: { max: number; baseDelayMs: number };
    /** A circuit breaker for this subgraph (default: none). */
    breaker?: { errorPercent: number; minCalls: number; windowMs: number; resetMs: number };
  }) {
    const { url, timeoutMs } = options;
    this.maxResponseBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
    this.subgraph = options.subgraph;
    this.url = url;
    this.logger = options.logger;
    this.dedupe = options.dedupe;
    this.metrics = options.metrics;
    const parsed = new URL(url);
    this.path = `${parsed.pathname}${parsed.search}`;
    this.pool = new Pool(parsed.origin, { connections: 64, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    this.retries = options.retries ?? { max: 0, baseDelayMs: 0 };
    this.breaker = options.breaker && this.createBreaker(options.breaker);
    this.batcher = options.batchEntities
      ? new EntityBatcher({
          call: (headers, body, signal) => this.call(headers, body, signal, true),
          // Too large together is not too large alone.
          askAloneAfter: (error) => error instanceof ResponseTooLarge,
          joined: () => this.metrics?.subgraphCalls.inc({ subgraph: this.subgraph, shared: "batched" }),
        })
      : undefined;
  }

  /**
   * opossum's breaker around each call (retries included: one call, one outcome). Failures are
   * connection errors, subgraph timeouts and 5xx answers; an answer too large (the data's fault)
   * and a call cut by the request's own deadline do not count. Open: calls fail at once with
   * SERVICE_UNAVAILABLE. After resetMs one probe call goes through (half-open): success closes
   * it, failure reopens it.
   */
  private createBreaker(options: { errorPercent: number; minCalls: number; windowMs: number; resetMs: number }) {
    const breaker = new CircuitBreaker((headers: Record<string, string>, body: string, signal: AbortSignal | undefined, retriable: boolean) => this.attempt(headers, body, signal, retriable), {
      name: this.subgraph,
      timeout: false,
      errorThresholdPercentage: options.errorPercent,
      volumeThreshold: options.minCalls,
      rollingCountTimeout: options.windowMs,
      rollingCountBuckets: 10,
      resetTimeout: options.resetMs,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // Not the subgraph's health: an answer too large (the data), or a call cut by the request's
      // own deadline (its time may have gone to another subgraph).
      errorFilter: (error: unknown) => error instanceof ResponseTooLarge || isDeadlineAbort(error),
    });
    const report = (state: BreakerState) => () => {
      this.metrics?.breakerState.set({ subgraph: this.subgraph }, BREAKER_GAUGE[state]);
      const log = state === "open" ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
      log({ subgraph: this.subgraph, breaker: state }, `circuit breaker ${state}`);
    };
    breaker.on("open", report("open"));
    breaker.on("halfOpen", report("half-open"));
    breaker.on("close", report("closed"));
    this.metrics?.breakerState.set({ subgraph: this.subgraph }, 0);
    return breaker;
  }

  /** closed, half-open or open; closed when there is no breaker. */
  get breakerState(): BreakerState {
    if (!this.breaker || this.breaker.closed) return "closed";
    return this.breaker.halfOpen ? "half-open" : "open";
  }

  /** A call, timed into gateway_subgraph_fetch_duration_seconds by how it ended. */
  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const histogram = this.metrics?.subgraphFetchSeconds;
    if (!histogram) return this.exchange(options);
    const started = performance.now();
    let outcome = "error";
    try {
      const response = await this.exchange(options);
      outcome = response.errors?.length ? "errors" : "ok";
      return response;
    } catch (error) {
      outcome = FETCH_OUTCOMES[(error as GraphQLError).extensions?.code as string] ?? "error";
      throw error;
    } finally {
      histogram.observe({ subgraph: this.subgraph, outcome }, (performance.now() - started) / 1000);
    }
  }

  private async exchange(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const { request, context } = options;
    if (!request.query) throw new Error("Missing query");
    const { http: _http, query, ...rest } = request;
    const body = JSON.stringify({ query, ...rest });
    const incoming = "incomingRequestContext" in options ? options.incomingRequestContext : undefined;
    const identity = context && "identityToken" in context ? context.identityToken : undefined;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (identity !== undefined) {
      headers["x-request-id"] = context.requestId;
      headers[IDENTITY_HEADER] = identity;
    }
    const signal = context && "deadline" in context ? context.deadline : undefined;
    const path = responsePath("pathInIncomingRequest" in options ? options.pathInIncomingRequest : undefined);

    const isQuery = incoming?.operation?.operation === "query";
    // A query's entity call may join a batch (entity-batching.ts); anything else is a call of its own.
    const exchange = () => (isQuery && identity !== undefined && this.batcher?.join(request, headers, body, signal)) || this.call(headers, body, signal, isQuery);
    let answer: Answer;
    try {
      if (this.dedupe && identity !== undefined && isQuery) {
        const key = `${identity}\n${body}`;
        let pending = this.inflight.get(key);
        this.metrics?.subgraphCalls.inc({ subgraph: this.subgraph, shared: pending ? "true" : "false" });
        if (!pending) {
          pending = exchange().finally(() => this.inflight.delete(key));
          this.inflight.set(key, pending);
        }
        answer = await pending;
      } else {
        this.metrics?.subgraphCalls.inc({ subgraph: this.subgraph, shared: "false" });
        answer = await exchange();
      }
    } catch (error) {
      if (error instanceof SubgraphFailed) throw this.errorFromResponse(error.answer, path);
      if ((error as { code?: unknown }).code === "EOPENBREAKER") {
        this.metrics?.breakerRejections.inc({ subgraph: this.subgraph });
        throw this.unavailable(path);
      }
      throw this.networkError(error as Error, path);
    }
    if (answer.status < 200 || answer.status >= 300) throw this.errorFromResponse(answer, path);

    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      this.logger.error({ subgraph: this.subgraph, contentType: answer.contentType }, "subgraph answered something other than a JSON object");
      throw this.unavailable(path);
    }
    // Apollo's gateway merges each subgraph's Cache-Control hint into the operation's policy.
    const policy = incoming?.overallCachePolicy;
    if (policy && "restrict" in policy) policy.restrict(cacheHint(answer.cacheControl));
    return parsed as GatewayGraphQLResponse;
  }

  /** One call through the breaker, if there is one. */
  private call(headers: Record<string, string>, body: string, signal: AbortSignal | undefined, retriable: boolean): Promise<Answer> {
    return this.breaker ? this.breaker.fire(headers, body, signal, retriable) : this.attempt(headers, body, signal, retriable);
  }

  /**
   * A call and, for a query whose connection was refused or cut before any answer, up to
   * `retries.max` more after a random wait (full jitter: 0 to base x 2^n ms) that the request's
   * deadline cuts short. A mutation is never sent twice: the subgraph may have acted on it.
   */
  private async attempt(headers: Record<string, string>, body: string, signal: AbortSignal | undefined, retriable: boolean): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.send(headers, body, signal);
        if (answer.status >= 500) throw new SubgraphFailed(answer);
        return answer;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (!retriable || attempt >= this.retries.max || typeof code !== "string" || !RETRIABLE_CODES.has(code)) throw error;
        this.metrics?.subgraphRetries.inc({ subgraph: this.subgraph });
        await wait(Math.random() * this.retries.baseDelayMs * 2 ** attempt, undefined, signal ? { signal } : {});
      }
    }
  }

  /**
   * One call, on undici's low-level dispatch API: no Readable stream, async iterator or Request
   * object per call, which were a tenth of the gateway's CPU on uncached reads. The answer is
   * collected chunk by chunk up to maxResponseBytes: past it (or when its Content-Length already
   * says so) the call is aborted and nothing more is read, so a runaway subgraph costs the gateway
   * a bounded amount of memory. The request's deadline aborts the call the same way.
   */
  private send(headers: Record<string, string>, body: string, signal: AbortSignal | undefined): Promise<Answer> {
    const limit = this.maxResponseBytes;
    return new Promise<Answer>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let abort: ((error: Error) => void) | undefined;
      // A deadline may pass while the call still waits for a connection (no abort yet): the
      // caller is answered now, and the call is cut as soon as undici hands it a connection.
      const onAbort = () => {
        if (abort) return abort(signal!.reason as Error);
        settle();
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = () => signal?.removeEventListener("abort", onAbort);
      const answer: Answer = { status: 0, contentType: undefined, cacheControl: undefined, text: "" };
      const chunks: Buffer[] = [];
      let size = 0;
      this.pool.dispatch(
        { path: this.path, method: "POST", headers, body },
        {
          onConnect(abortCall) {
            abort = abortCall;
            if (signal?.aborted) abortCall(signal.reason as Error);
          },
          onHeaders(status, rawHeaders) {
            answer.status = status;
            for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
              const name = rawHeaders[i]!.toString("latin1").toLowerCase();
              if (name === "content-type") answer.contentType = rawHeaders[i + 1]!.toString("latin1");
              else if (name === "cache-control") answer.cacheControl = rawHeaders[i + 1]!.toString("latin1");
              else if (name === "content-length" && Number(rawHeaders[i + 1]!.toString("latin1")) > limit) {
                abort?.(new ResponseTooLarge(Number(rawHeaders[i + 1]!.toString("latin1"))));
                return false;
              }
            }
            return true;
          },
          onData(chunk) {
            size += chunk.length;
            if (size > limit) {
              abort?.(new ResponseTooLarge(size));
              return false;
            }
            chunks.push(chunk);
            return true;
          },
          onComplete() {
            settle();
            answer.text = Buffer.concat(chunks, size).toString("utf8");
            resolve(answer);
          },
          onError(error) {
            settle();
            reject(error);
          },
        },
      );
    });
  }

  /**
   * A failed call as the client sees it: where in the response it left nulls (`path`, when the
   * call filled in part of the response) and which subgraph failed (`extensions.serviceName`, as
   * Apollo names subgraph errors), never the subgraph's address.
   */
  private failure(message: string, code: string, path: readonly (string | number)[] | undefined): GraphQLError {
    return new GraphQLError(message, { ...(path ? { path } : {}), extensions: { code, serviceName: this.subgraph } });
  }

  private unavailable(path: readonly (string | number)[] | undefined): GraphQLError {
    return this.failure(`The ${this.subgraph} service is unavailable; try again later.`, ErrorCode.SERVICE_UNAVAILABLE, path);
  }

  /**
   * A subgraph answers 400 when a custom scalar (Decimal, DateTime) rejects a variable: only the
   * subgraph knows how to parse it. That is the client's mistake, so pass the subgraph's own
   * public error through instead of an opaque "400: Bad Request" that would be masked as internal.
   * Any other failed status (a 401 when the internal secret or clocks disagree, a 5xx) is our
   * fault, not the caller's: SERVICE_UNAVAILABLE naming the subgraph, never the subgraph's URL
   * or response body, and never, for a 401, a hint to the client to sign in again.
   */
  private errorFromResponse(answer: Answer, path: readonly (string | number)[] | undefined): GraphQLError {
    if (answer.status === 400) {
      let body: SubgraphErrorBody | undefined;
      try {
        body = JSON.parse(answer.text) as SubgraphErrorBody;
      } catch {
        body = undefined;
      }
      const first = body?.errors?.[0];
      const code = first?.extensions?.code;
      if (typeof first?.message === "string" && isPublicCode(code)) {
        return this.failure(first.message, code as string, path);
      }
    }
    // A client sees only "unavailable"; an operator needs the status (401: secrets or clocks).
    this.logger.error({ subgraph: this.subgraph, status: answer.status }, "subgraph refused or failed a request");
    return this.unavailable(path);
  }

  /**
   * Timeouts and unreachable subgraphs become public errors that name the subgraph but never its
   * URL or the network error text (which would disclose internal addresses).
   */
  private networkError(error: Error, path: readonly (string | number)[] | undefined): Error {
    if (error instanceof ResponseTooLarge) {
      this.logger.error({ subgraph: this.subgraph, bytes: error.bytes, limit: this.maxResponseBytes }, "subgraph answer larger than allowed");
      return this.failure(`The ${this.subgraph} service answered with more data than the gateway accepts.`, ErrorCode.SUBGRAPH_RESPONSE_TOO_LARGE, path);
    }
    const code = (error as { code?: unknown }).code;
    if (isDeadlineAbort(error) || (typeof code === "string" && TIMEOUT_CODES.has(code))) {
      return this.failure(`The ${this.subgraph} service did not answer in time.`, ErrorCode.GATEWAY_TIMEOUT, path);
    }
    if (typeof code === "string" && (code.startsWith("UND_ERR") || /^E[A-Z]+$/.test(code))) return this.unavailable(path);
    return error;
  }

  /** Closes the subgraph's keep-alive connections and stops the breaker's timers (gateway shutdown). */
  close(): Promise<void> {
    this.breaker?.shutdown();
    return this.pool.close();
  }
}
