import type { ApolloServerPlugin } from "@apollo/server";
import type { Viewer } from "@catalog/common/edge";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayContext } from "./context.ts";
import type { Partner } from "./persisted/partners.ts";

/** Why a bearer token was refused; answered (401) once the rate limiter has counted the request. */
export interface AuthFailure {
  message: string;
  oauthError: "invalid_request" | "invalid_token";
}

/** What the response cache looked up before GraphQL ran, so a miss is not looked up twice. */
export interface CacheLookup {
  /** The key's base (document, operation name, variables); the plugin checks it is its own. */
  base: string;
  keys: { public: string; private: string | undefined };
  /** The invalidation sequence at lookup time: a later store is refused if a tag moved past it. */
  seq: number;
}

/**
 * Everything the stages of one request tell each other, typed, in one place (never
 * `res.locals`). Each stage declares which of these it reads and writes (pipeline.ts).
 */
export interface RequestState {
  readonly requestId: string;
  /** As Express sees it (TRUST_PROXY decides whether X-Forwarded-For counts). */
  readonly clientIp: string;
  /** Who is calling: null is anonymous (or a bearer token that was refused: see authFailure). */
  viewer: Viewer | null;
  authFailure: AuthFailure | undefined;
  /** An `x-api-key` that is unknown, revoked or malformed. */
  apiKeyRefused: boolean;
  partner: Partner | undefined;
  cacheLookup: CacheLookup | undefined;
  /** Aborts every subgraph call still running when the request's deadline passes. */
  deadline: AbortSignal | undefined;
  /** How GraphQL answered (undefined when a stage answered first), for the request histogram. */
  result: { operationName: string | null; errors: boolean; data: boolean } | undefined;
}

/**
 * Where a stage runs:
 * - `head`: on the request line and headers, before the body is read (cheap refusals first);
 * - `body`: on the parsed body, before GraphQL;
 * - `operation`: inside GraphQL execution, as an Apollo Server plugin, once the operation is
 *   parsed and validated (its hooks run in the order the stages are listed).
 */
export type Phase = "head" | "body" | "operation";

/** Plain node:http: the GraphQL path does not go through Express (pipeline.ts). */
export type GatewayRequest = IncomingMessage & { body?: unknown };
export type GatewayResponse = ServerResponse;
/** A connect-style middleware (cors, body-parser) as node:http runs it. */
export type Middleware = (req: GatewayRequest, res: GatewayResponse, next: (error?: unknown) => void) => void;

/** A stage that answered the request: nothing after it runs. */
export const ANSWERED = Symbol("answered");
export type StageResult = void | typeof ANSWERED;

interface StageInfo {
  name: string;
  /** What the stage is for, and why it sits where it does. */
  why: string;
  reads: readonly (keyof RequestState)[];
  writes: readonly (keyof RequestState)[];
}

export interface HttpStage extends StageInfo {
  phase: "head" | "body";
  run(req: GatewayRequest, res: GatewayResponse, state: RequestState): StageResult | Promise<StageResult>;
}

export interface OperationStage extends StageInfo {
  phase: "operation";
  plugin: ApolloServerPlugin<GatewayContext>;
}

export type Stage = HttpStage | OperationStage;

/**
 * Runs a connect-style middleware (cors, the body parser) as a stage: it continues when the
 * middleware calls next(), fails with what it passes to next(error), and counts as answered when
 * it ends the response itself (a CORS preflight).
 */
export function middlewareStage(handler: Middleware): HttpStage["run"] {
  return (req, res) =>
    new Promise<StageResult>((resolve, reject) => {
      handler(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
      if (res.writableEnded) resolve(ANSWERED);
    });
}
