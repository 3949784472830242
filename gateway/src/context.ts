import type { RequestScoped } from "@catalog/common";

export interface GatewayContext extends RequestScoped {
  requestId: string;
}
