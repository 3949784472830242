import type { RequestScoped } from "@catalog/common/edge";
import type { RequestState } from "./stage.ts";

export interface GatewayContext extends RequestScoped {
  requestId: string;
  /** The signed identity header every subgraph call of this request carries. */
  identityToken: string;
  /** As Express sees it (TRUST_PROXY decides whether X-Forwarded-For counts). */
  clientIp: string;
  /** Aborts every subgraph call still running when the request's deadline passes. */
  deadline: AbortSignal | undefined;
  /** What the pipeline's stages established before GraphQL ran (pipeline.ts). */
  state: RequestState | undefined;
}
