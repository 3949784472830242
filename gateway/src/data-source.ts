import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { ErrorCode, IDENTITY_HEADER, isPublicCode, type Logger } from "@catalog/common";
import { GraphQLError } from "graphql";
import { Pool } from "undici";
import type { GatewayContext } from "./context.ts";
import { currentDeadline } from "./deadline.ts";

type FetcherResponse = Parameters<RemoteGraphQLDataSource["errorFromResponse"]>[0];

interface SubgraphErrorBody {
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/** undici's own errors for a call that ran out of time or was cut off by the request's deadline. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_ABORTED", "UND_ERR_CONNECT_TIMEOUT"]);

/**
 * The part of a fetch Response that Apollo's data source and our error handling read, built from
 * an undici answer whose body has already been read.
 */
function responseLike(url: string, statusCode: number, headers: Record<string, string | string[] | undefined>, text: string): FetcherResponse {
  const header = (name: string) => {
    const value = headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(", ") : (value ?? null);
  };
  const response = {
    url,
    ok: statusCode >= 200 && statusCode < 300,
    status: statusCode,
    statusText: "",
    redirected: false,
    headers: { get: header },
    text: async () => text,
    json: async () => JSON.parse(text) as unknown,
    clone: () => response,
  };
  return response as unknown as FetcherResponse;
}

/**
 * Every request to a subgraph goes through here; it is the one place that decides which headers a
 * subgraph sees: the request id, so logs line up, and the gateway-signed identity of the caller.
 * No client header is forwarded.
 *
 * Calls go through one keep-alive undici Pool per subgraph instead of the global fetch: no
 * Request/Response/web-stream objects per call (a fifth of the gateway's busy time went there),
 * and the per-call timeout is undici's own timer rather than an AbortSignal per call. The
 * request's deadline, one signal per client request, still cuts every call it started.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  private readonly pool: Pool;

  constructor(
    private readonly subgraph: string,
    url: string,
    timeoutMs: number,
    private readonly logger: Logger,
  ) {
    const parsed = new URL(url);
    const path = `${parsed.pathname}${parsed.search}`;
    const pool = new Pool(parsed.origin, { connections: 64, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    super({
      url,
      // Apollo's data source hands us the URL and a fetch-style init; we answer with what it reads.
      fetcher: async (input, init) => {
        const deadline = currentDeadline();
        const answer = await pool.request({
          path,
          method: "POST",
          headers: (init?.headers ?? {}) as Record<string, string>,
          body: init?.body as string,
          ...(deadline ? { signal: deadline } : {}),
        });
        return responseLike(String(input), answer.statusCode, answer.headers, await answer.body.text());
      },
    });
    this.pool = pool;
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (context && "identityToken" in context) {
      request.http?.headers.set("x-request-id", context.requestId);
      request.http?.headers.set(IDENTITY_HEADER, context.identityToken);
    }
  }

  /**
   * A subgraph answers 400 when a custom scalar (Decimal, DateTime) rejects a variable: only the
   * subgraph knows how to parse it. That is the client's mistake, so pass the subgraph's own
   * public error through instead of an opaque "400: Bad Request" that would be masked as internal.
   * Any other failed status (a 401 when the internal secret or clocks disagree, a 5xx) is our
   * fault, not the caller's: SERVICE_UNAVAILABLE naming the subgraph, never Apollo's default
   * error, which carries the subgraph's URL and response body and, for a 401, tells the client
   * to sign in again.
   */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    if (response.status === 400) {
      let body: SubgraphErrorBody | undefined;
      try {
        body = (await response.json()) as SubgraphErrorBody;
      } catch {
        body = undefined;
      }
      const first = body?.errors?.[0];
      const code = first?.extensions?.code;
      if (typeof first?.message === "string" && isPublicCode(code)) {
        return new GraphQLError(first.message, { extensions: { code } });
      }
    }
    // A client sees only "unavailable"; an operator needs the status (401: secrets or clocks).
    this.logger.error({ subgraph: this.subgraph, status: response.status }, "subgraph refused or failed a request");
    return new GraphQLError(`The ${this.subgraph} service is unavailable; try again later.`, {
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
    });
  }

  /**
   * Timeouts and unreachable subgraphs become public errors that name the subgraph but never its
   * URL or the network error text (which would disclose internal addresses).
   */
  override didEncounterError(error: Error): void {
    if (error instanceof GraphQLError) throw error;
    const code = (error as { code?: unknown }).code;
    if (error.name === "TimeoutError" || error.name === "AbortError" || (typeof code === "string" && TIMEOUT_CODES.has(code))) {
      throw new GraphQLError(`The ${this.subgraph} service did not answer in time.`, {
        extensions: { code: ErrorCode.GATEWAY_TIMEOUT },
      });
    }
    if (typeof code === "string" && (code.startsWith("UND_ERR") || /^E[A-Z]+$/.test(code))) {
      throw new GraphQLError(`The ${this.subgraph} service is unavailable; try again later.`, {
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
      });
    }
    throw error;
  }

  /** Closes the subgraph's keep-alive connections (gateway shutdown). */
  close(): Promise<void> {
    return this.pool.close();
  }
}
