import type { SubgraphName } from "@catalog/common";

/** Values the global setup provides to every test file (see global-setup.ts). */
declare module "vitest" {
  export interface ProvidedContext {
    databaseUrls: Record<SubgraphName, string>;
    redisUrl: string;
    redisPrefix: string;
  }
}

export {};
