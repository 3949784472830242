import { randomUUID } from "node:crypto";
import { deriveDatabaseUrl, dropPostgresDatabase, SUBGRAPHS } from "@catalog/common";
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { startSystemProcess } from "../scripts/start-process.ts";
import { TEST_AUTH_ENV } from "./support/auth.ts";
import { steadyLoad } from "./support/load.ts";
import { eventually } from "./support/selling.ts";

// A listing that crosses products and inventory, computed every time (no response cache).
const LISTING = `{ products(first: 5) { totalCount edges { node { id name inventory { onHand } } } } }`;

const base = (() => {
  const url = new URL(inject("databaseUrls").users);
  url.pathname = `/catalog_shutdown_${randomUUID().slice(0, 8)}`;
  return url.toString();
})();
afterAll(async () => {
  await Promise.all(SUBGRAPHS.map((name) => dropPostgresDatabase(deriveDatabaseUrl(base, name))));
});

describe("npm start on SIGTERM", () => {
  it("under load: the gateway and the subgraphs finish every request they accepted, then the process exits 0", async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/DATABASE_URL$|^REDIS_|_SUBGRAPH_URL$/.test(key)));
    const system = await startSystemProcess({
      ...env,
      ...TEST_AUTH_ENV,
      NODE_ENV: "test",
      PORT: "0",
      SUBGRAPH_PORT_BASE: "0",
      LOG_LEVEL: "info",
      SEED_ON_START: "false",
      // Databases of its own, created and migrated at start: its orders' job workers (recovery
      // sweeps included) must not act on other tests' orders.
      DATABASE_URL: base,
      REDIS_URL: inject("redisUrl"),
      REDIS_KEY_PREFIX: `${inject("redisPrefix")}system-shutdown:`,
      RESPONSE_CACHE_ENABLED: "false",
      RATE_LIMIT_ENABLED: "false",
      // A busy test machine holds the event loop now and then; that is not what this test is about.
      SHED_EVENT_LOOP_DELAY_MS: "0",
    });
    try {
      const load = steadyLoad(() =>
        fetch(`${system.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: LISTING }) }),
      );
      await eventually(async () => expect(load.ok()).toBeGreaterThanOrEqual(20), 120_000);

      load.mark();
      const code = system.stop();
      const result = await load.finished;
      expect(result.failures).toEqual([]);
      // Requests were in flight when the signal came, and they were answered.
      expect(load.spanningMark()).toBeGreaterThan(0);
      expect(await code, system.output()).toBe(0);
      expect(system.output()).toContain('"msg":"stopped"');
    } finally {
      if (system.child.exitCode === null) system.child.kill("SIGKILL");
    }
  });
});
