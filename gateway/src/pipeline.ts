import type { ApolloServer, ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import {
  boundedNameLabel,
  errorMaskingPlugin,
  ErrorCode,
  requestOutcome,
  executeGraphQLOverHttp,
  INPUT_DEPTH_CODE,
  inputGuardPlugin,
  MAX_INPUT_DEPTH,
  requestIdFrom,
  refuseDeepInput,
  sendError,
  type Logger,
  type TokenVerifier,
} from "@catalog/common/edge";
import accepts from "accepts";
import bodyParser from "body-parser";
import cors from "cors";
import type { GraphQLSchema } from "graphql";
import type { Redis } from "ioredis";
import proxyaddr from "proxy-addr";
import { authenticate, refuseInvalidCredentials } from "./auth.ts";
import { batchGuard } from "./batching.ts";
import type { GatewayConfig } from "./config.ts";
import type { GatewayContext } from "./context.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { LoadShedder } from "./load-shedding.ts";
import { operationLimitsPlugin, type CostModel } from "./operation-limits.ts";
import { partnerAuthentication, partnerQuotas, persistedOnly } from "./persisted/partners.ts";
import type { PersistedOperationRegistry } from "./persisted/registry.ts";
import type { RateLimiter } from "./rate-limit.ts";
import { mutationLimitPlugin, reviewWriteLimit, signInLimit } from "./mutation-limit.ts";
import {
  ANSWERED,
  middlewareStage,
  type GatewayRequest,
  type GatewayResponse,
  type HttpStage,
  type OperationStage,
  type RequestState,
  type Stage,
} from "./stage.ts";

/** What the stages are built from (server.ts makes these once per gateway). */
export interface PipelineParts {
  config: GatewayConfig;
  /** The cost model of the supergraph a request runs on (it follows hot reloads). */
  costModel: (schema: GraphQLSchema) => CostModel;
  logger: Logger;
  metrics: GatewayMetrics;
  verifier: TokenVerifier;
  internalSecret: string;
  /** Where partner quotas are counted (undefined: in process). */
  redis: Redis | undefined;
  rateLimiter: RateLimiter;
  signInLimiter: RateLimiter;
  reviewLimiter: RateLimiter;
  registry: PersistedOperationRegistry;
  /** Undefined when RESPONSE_CACHE_ENABLED is off. */
  responseCache: { stage: HttpStage["run"]; plugin: ApolloServerPlugin<GatewayContext> } | undefined;
  /** Signs (or reuses) the identity the subgraphs see for a viewer. */
  signIdentity: (viewer: RequestState["viewer"]) => string;
  /** Undefined when SHED_EVENT_LOOP_DELAY_MS is 0. */
  shedder: LoadShedder | undefined;
  /** Set once Apollo Server is built; the last stage hands the request to it. */
  apollo: () => ApolloServer<GatewayContext>;
}

/** What a GraphQL response can be sent as; text/html is the Sandbox landing page, GET only. */
const GRAPHQL_MEDIA_TYPES = ["application/graphql-response+json", "application/json"];

/**
 * The gateway's request path, in order: every GraphQL request (at `/` and `/graphql`) runs these
 * stages top to bottom until one answers. `head` stages see headers only, `body` stages the
 * parsed body, `operation` stages run inside GraphQL as Apollo Server plugins, in this order,
 * once the operation is parsed and validated. What each stage reads and writes of the request
 * state is declared beside it; the order rules live here and nowhere else:
 *
 * - an overloaded gateway refuses first (after CORS headers), before spending anything on the request;
 * - cheap refusals first (406, credentials), so they cost no body read and no Redis call;
 * - the rate limiter counts a request before its bad credentials are answered, so a caller
 *   guessing tokens or keys is limited like any other, per IP;
 * - the body is read only after the caller is known and within its limits;
 * - the response cache answers after every check that could refuse the request, and before the
 *   request deadline is armed (a hit never needs one);
 * - inside GraphQL, input checks and operation limits come before the sign-in limit (a refused
 *   document costs no sign-in point), the response cache after them, error masking last.
 */
export function requestPipeline(parts: PipelineParts): Stage[] {
  const { config, logger, metrics } = parts;
  const rejected = (code: string) => metrics.rejected.inc({ code });
  const rateLimit = parts.rateLimiter.stage((state) =>
    state.viewer ? { kind: "user", id: state.viewer.userId } : { kind: "ip", id: state.clientIp },
  );
  const stages: (Stage | false)[] = [
    {
      name: "cors",
      phase: "head",
      why: "CORS headers on every answer, refusals included; a preflight is answered here.",
      reads: [],
      writes: [],
      run: middlewareStage(cors<cors.CorsRequest>({ origin: config.corsOrigins, credentials: true })),
    },
    !!parts.shedder && {
      name: "shed",
      phase: "head",
      why: "While the event loop is behind (SHED_EVENT_LOOP_DELAY_MS), a new request gets 503 + Retry-After at once instead of slowing every request in flight.",
      reads: [],
      writes: [],
      run: (_req, res) => {
        if (!parts.shedder!.shedding) return;
        rejected(ErrorCode.SERVICE_UNAVAILABLE);
        res.setHeader("retry-after", "1");
        sendError(res, 503, ErrorCode.SERVICE_UNAVAILABLE, "The gateway is overloaded; retry in a moment.");
        return ANSWERED;
      },
    },
    {
      name: "accept",
      phase: "head",
      why:
        "GraphQL over HTTP: an Accept header that admits none of our media types gets 406 before anything runs " +
        "(Apollo Server would refuse only after executing, so a mutation would change data and not say what it did).",
      reads: [],
      writes: [],
      run: acceptGuard,
    },
    {
      name: "authenticate",
      phase: "head",
      why: "Who is calling (bearer token); internal headers from clients are dropped. A bad token is recorded, answered later.",
      reads: ["requestId"],
      writes: ["viewer", "authFailure"],
      run: authenticate(parts.verifier, metrics, logger),
    },
    {
      name: "partner",
      phase: "head",
      why: "An `x-api-key` makes the caller a partner (acting as itself, role PARTNER); a key needing a lookup first costs its IP a point.",
      reads: ["requestId", "clientIp"],
      writes: ["partner", "viewer", "apiKeyRefused"],
      run: partnerAuthentication({
        resolveUrl: config.partnerKeysUrl,
        internalSecret: parts.internalSecret,
        cacheSeconds: config.partnerKeyCacheSeconds,
        metrics,
        logger,
        ipLimiter: config.rateLimit.enabled ? parts.rateLimiter : undefined,
      }),
    },
    config.rateLimit.enabled && {
      name: "rate-limit",
      phase: "head",
      why: "Per caller (user, else IP) per window, in Redis; partners have their own quotas instead.",
      reads: ["viewer", "partner", "clientIp"],
      writes: [],
      run: (req, res, state) => (state.partner ? undefined : rateLimit(req, res, state)),
    },
    {
      name: "credentials",
      phase: "head",
      why: "401 for a refused bearer token or API key, after the rate limiter has counted it.",
      reads: ["authFailure", "apiKeyRefused"],
      writes: [],
      run: refuseInvalidCredentials,
    },
    {
      name: "partner-quotas",
      phase: "head",
      why: "A partner's per-minute and per-day quotas.",
      reads: ["partner"],
      writes: [],
      run: partnerQuotas({ redis: parts.redis, keyPrefix: config.redisKeyPrefix, metrics, logger }),
    },
    {
      name: "body",
      phase: "body",
      why: "Reads and parses the JSON body, at most MAX_REQUEST_BYTES.",
      reads: [],
      writes: [],
      run: middlewareStage(bodyParser.json({ limit: config.maxRequestBytes })),
    },
    {
      name: "input-depth",
      phase: "body",
      why: `Input nesting past ${MAX_INPUT_DEPTH} levels (body, variables, extensions, a GET's parameters) gets 400 before anything walks it.`,
      reads: [],
      writes: [],
      run: (req, res) => {
        if (!refuseDeepInput(req, res)) return;
        rejected(INPUT_DEPTH_CODE);
        return ANSWERED;
      },
    },
    {
      name: "batch",
      phase: "body",
      why: "HTTP batches are off unless MAX_BATCH_OPERATIONS allows them, and then capped.",
      reads: [],
      writes: [],
      run: batchGuard(config.maxBatchOperations),
    },
    {
      name: "persisted-only",
      phase: "body",
      why: "Partners run the operations listed for them, by id; the listed body replaces the request's.",
      reads: ["partner"],
      writes: ["viewer"],
      run: persistedOnly({ registry: parts.registry, metrics, logger }),
    },
    !!parts.responseCache && {
      name: "response-cache",
      phase: "body",
      why: "A stored answer to a query already validated, for this caller's audience: sent as stored, GraphQL never runs.",
      reads: ["viewer"],
      writes: ["cacheLookup"],
      run: parts.responseCache!.stage,
    },
    {
      name: "deadline",
      phase: "body",
      why: "One deadline (REQUEST_TIMEOUT_MS) that every subgraph call of the request shares.",
      reads: [],
      writes: ["deadline"],
      run: (_req, res, state) => {
        state.deadline = requestDeadline(res, config.requestTimeoutMs);
      },
    },
    {
      name: "graphql",
      phase: "body",
      why: "Apollo Server: parse, validate, plan, execute (the operation stages below run inside it).",
      reads: ["requestId", "viewer", "clientIp", "deadline", "cacheLookup"],
      writes: [],
      run: (req, res, state) => executeGraphQL(parts.apollo(), parts.signIdentity, req, res, state),
    },
    {
      name: "landing-page",
      phase: "operation",
      why: "Sandbox on GET / when introspection is on; nothing otherwise. Usage reporting is off.",
      reads: [],
      writes: [],
      plugin: config.introspection
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false })
        : ApolloServerPluginLandingPageDisabled(),
    },
    { name: "usage-reporting", phase: "operation", why: "Off: nothing leaves the gateway.", reads: [], writes: [], plugin: ApolloServerPluginUsageReportingDisabled() },
    {
      name: "input-guard",
      phase: "operation",
      why: "Strings PostgreSQL cannot store (NUL, lone surrogates) are refused for the whole request.",
      reads: [],
      writes: [],
      plugin: inputGuardPlugin<GatewayContext>(),
    },
    {
      name: "operation-limits",
      phase: "operation",
      why: "Depth, aliases, root fields, directives and cost, before anything executes.",
      reads: [],
      writes: [],
      plugin: operationLimitsPlugin<GatewayContext>({
        limits: config.limits,
        costModel: parts.costModel,
        onReject: rejected,
      }),
    },
    {
      name: "mutation-limits",
      phase: "operation",
      why: "Budgets of their own, far below the general limit, one such mutation per request: sign-in per IP, review writes per user.",
      reads: ["clientIp", "viewer"],
      writes: [],
      plugin: mutationLimitPlugin([signInLimit(parts.signInLimiter), reviewWriteLimit(parts.reviewLimiter)], rejected),
    },
    !!parts.responseCache && {
      name: "response-cache-store",
      phase: "operation",
      why: "Answers hits for documents the body stage does not know yet, and stores cacheable answers.",
      reads: ["viewer", "cacheLookup"],
      writes: [],
      plugin: parts.responseCache!.plugin,
    },
    {
      name: "request-metrics",
      phase: "operation",
      why: "Records the operation's name and whether the answer carries errors or data, for gateway_request_duration_seconds.",
      reads: [],
      writes: ["result"],
      plugin: {
        async requestDidStart() {
          return {
            async willSendResponse({ request, response, operationName, contextValue }) {
              if (!contextValue.state) return;
              const body = response.body.kind === "single" ? response.body.singleResult : undefined;
              contextValue.state.result = { operationName: operationName ?? request.operationName ?? null, errors: !!body?.errors?.length, data: body?.data != null };
            },
          };
        },
      },
    },
    {
      name: "error-masking",
      phase: "operation",
      why: "Only public error codes reach clients; everything else is logged and masked.",
      reads: ["requestId"],
      writes: [],
      plugin: errorMaskingPlugin<GatewayContext>(logger),
    },
  ];
  return stages.filter((stage): stage is Stage => stage !== false);
}

/** The Apollo Server plugins of the operation stages, in pipeline order. */
export function operationPlugins(stages: readonly Stage[]): ApolloServerPlugin<GatewayContext>[] {
  return stages.filter((stage): stage is OperationStage => stage.phase === "operation").map((stage) => stage.plugin);
}

/**
 * A signal that aborts with a TimeoutError `ms` after the request began, disarmed as soon as the
 * answer is done: AbortSignal.timeout would keep a timer and its signal alive for the full
 * deadline after every request (thousands at a time under load, all promoted to the old heap).
 */
function requestDeadline(res: GatewayResponse, ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("The request's deadline passed.", "TimeoutError")), ms);
  res.once("close", () => clearTimeout(timer));
  return controller.signal;
}

/**
 * Runs the head and body stages in order until one answers (the last, `graphql`, always does; a
 * list without it calls `next`). Plain node:http, no Express: on this machine Express alone
 * costs more CPU per request than a cache hit does without it. With `metrics`, every request's
 * duration goes into gateway_request_duration_seconds once its answer is sent, and with
 * `stageTiming` each stage's wall-clock time into gateway_pipeline_stage_seconds. Errors (an
 * unreadable body) go to `next(error)`.
 */
export function pipelineHandler(
  stages: readonly Stage[],
  options: { metrics?: GatewayMetrics; stageTiming?: boolean; maxOperationNames?: number; trustProxy?: string | number | false } = {},
): (req: GatewayRequest, res: GatewayResponse, next: (error?: unknown) => void) => void {
  const http = stages.filter((stage): stage is HttpStage => stage.phase !== "operation");
  const histogram = options.stageTiming ? options.metrics?.stageSeconds() : undefined;
  const requestSeconds = options.metrics?.requestSeconds;
  const operationLabel = boundedNameLabel(options.maxOperationNames ?? 100);
  const clientIp = clientIpResolver(options.trustProxy ?? false);
  return async (req, res, next) => {
    const started = requestSeconds ? performance.now() : 0;
    // Every answer carries the request id: the caller's when it is a safe token, else a new one.
    let requestId = res.getHeader("x-request-id");
    if (typeof requestId !== "string") {
      requestId = requestIdFrom(req.headers["x-request-id"]);
      res.setHeader("x-request-id", requestId);
    }
    const state: RequestState = {
      requestId,
      clientIp: clientIp(req),
      viewer: null,
      authFailure: undefined,
      apiKeyRefused: false,
      partner: undefined,
      cacheLookup: undefined,
      deadline: undefined,
      result: undefined,
    };
    if (requestSeconds) {
      // "close" fires for every request, a client that hung up included (its slow answer counts too).
      res.once("close", () => {
        const { result } = state;
        // Only names of operations GraphQL ran are labels: a name in a refused or unauthenticated
        // body would let anyone fill the label's slots with invented names.
        const outcome = res.writableFinished
          ? requestOutcome(res.statusCode, result?.errors ?? false, result?.data ?? res.statusCode < 300)
          : "error";
        requestSeconds.observe({ operation: result ? operationLabel(result.operationName) : "none", outcome }, (performance.now() - started) / 1000);
      });
    }
    try {
      for (const stage of http) {
        const started = histogram ? performance.now() : 0;
        const result = await stage.run(req, res, state);
        if (histogram) histogram.observe({ stage: stage.name }, (performance.now() - started) / 1000);
        if (result === ANSWERED) return;
      }
    } catch (error) {
      next(error);
      return;
    }
    next();
  };
}

/**
 * The client's address as Express computes `req.ip` for a TRUST_PROXY setting: a hop count, or
 * proxy addresses and subnets; false trusts no proxy (X-Forwarded-For is ignored).
 */
export function clientIpResolver(trust: string | number | false): (req: GatewayRequest) => string {
  const trusted =
    typeof trust === "number"
      ? (_address: string, hop: number) => hop < trust
      : proxyaddr.compile(trust === false ? [] : trust.split(",").map((entry) => entry.trim()));
  return (req) => proxyaddr(req, trusted) ?? "unknown";
}

const acceptGuard: HttpStage["run"] = (req, res) => {
  if (!req.headers.accept) return;
  if (accepts(req).type(req.method === "GET" ? [...GRAPHQL_MEDIA_TYPES, "text/html"] : GRAPHQL_MEDIA_TYPES)) return;
  sendError(res, 406, "NOT_ACCEPTABLE", `The Accept header must admit ${GRAPHQL_MEDIA_TYPES.join(" or ")}.`);
  return ANSWERED;
};

/** Hands the request to Apollo Server, with the request state as its context. */
async function executeGraphQL(
  apollo: ApolloServer<GatewayContext>,
  sign: PipelineParts["signIdentity"],
  req: GatewayRequest,
  res: GatewayResponse,
  state: RequestState,
): Promise<typeof ANSWERED> {
  let identityToken: string | undefined;
  await executeGraphQLOverHttp(apollo, req, res, async () => ({
    requestId: state.requestId,
    viewer: state.viewer,
    // Signed on the first subgraph call: refused operations never need it.
    get identityToken() {
      return (identityToken ??= sign(state.viewer));
    },
    clientIp: state.clientIp,
    deadline: state.deadline,
    state,
  }));
  return ANSWERED;
}
