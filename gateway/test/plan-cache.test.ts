import { randomUUID } from "node:crypto";
import type { QueryPlan } from "@apollo/query-planner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import "../../test/support/provided.ts";
import { createCache, type CacheHandle } from "../src/cache.ts";
import { queryPlanCache } from "../src/plan-cache.ts";
import { eventually } from "../../test/support/selling.ts";
import { logger } from "../../test/support/stack.ts";

const plan = (label: string): QueryPlan => ({ kind: "QueryPlan", node: undefined, label } as unknown as QueryPlan);

let redis: CacheHandle;
beforeAll(async () => {
  redis = createCache({ redisUrl: inject("redisUrl"), keyPrefix: `${inject("redisPrefix")}plans-${randomUUID().slice(0, 8)}:`, logger });
  expect(await redis.connected(10_000)).toBe(true);
});
afterAll(async () => {
  await redis?.close();
});

describe("the query-plan cache across a supergraph swap", () => {
  it("shares plans by supergraph: after a swap, plans of the old one are neither found nor cached", async () => {
    const oldGateway = queryPlanCache({ shared: redis.cache, supergraphSdl: "supergraph A" });
    await oldGateway.cache.set("op", plan("A"));
    // Another instance on the same supergraph takes the plan from Redis.
    const peer = queryPlanCache({ shared: redis.cache, supergraphSdl: "supergraph A" });
    await eventually(async () => expect(await peer.cache.get("op")).toEqual(plan("A")));

    // A lookup that reached Redis before the swap and answers after it: the old plan is dropped.
    const swapping = queryPlanCache({ shared: redis.cache, supergraphSdl: "supergraph A" });
    const inFlight = swapping.cache.get("op");
    swapping.cache.clear?.();
    swapping.useSupergraph("supergraph B");
    expect(await inFlight).toBeUndefined();
    expect(await swapping.cache.get("op")).toBeUndefined();

    // Plans made for the new supergraph are shared under its hash.
    await swapping.cache.set("op", plan("B"));
    const newPeer = queryPlanCache({ shared: redis.cache, supergraphSdl: "supergraph B" });
    await eventually(async () => expect(await newPeer.cache.get("op")).toEqual(plan("B")));
    expect(await peer.cache.get("op")).toEqual(plan("A"));
  });
});
