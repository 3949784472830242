import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeSupergraph, SUPERGRAPH_PATH } from "../../scripts/composition.ts";
import { createCategoryTree, createProduct } from "../../test/support/fixtures.ts";
import { eventually } from "../../test/support/selling.ts";
import { gql, json, metricValue, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";
import { supergraphHash } from "../src/supergraph.ts";

/** A field of Product that no partner's persisted operation uses: removing it is a safe change. */
const withoutUpdatedAt = (subgraph: string, sdl: string) =>
  subgraph === "products" ? sdl.replace(/^ {2}updatedAt: DateTime!\n(?=})/m, "") : sdl;
/** A field acme's listed ProductBySku selects: removing it would break that partner. */
const withoutImageUrls = (subgraph: string, sdl: string) => (subgraph === "products" ? sdl.replace(/^ {2}imageUrls: \[String!\]!\n/m, "") : sdl);

const STREAM = `query Stream($id: ID!) { product(id: $id) { id name price { amount currency } } }`;
const REMOVED = `query Removed($id: ID!) { product(id: $id) { id updatedAt } }`;
const PARTNER_FIELD = `query Images($id: ID!) { product(id: $id) { id imageUrls } }`;

let stack: Stack;
let productId: string;
let committed: string;

beforeAll(async () => {
  stack = await startStack();
  const { leaf } = await createCategoryTree(stack.prisma.products);
  productId = (await createProduct(stack.prisma.products, { categoryId: leaf.id })).id;
  committed = await readFile(SUPERGRAPH_PATH, "utf8");
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

/**
 * Clients querying without pause: each loop sends one query at a time, half of them for the
 * product (cached after the first), half for ids nobody has (each one planned and executed).
 * Every answer that is not a 200 with the product's data (or null) is kept as a failure.
 */
function steadyLoad(url: string, clients: number) {
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  const loop = async () => {
    for (let i = 0; running; i++) {
      const id = i % 2 === 0 ? productId : randomUUID();
      try {
        const { status, body } = await gql<{ product: { id: string } | null }>(url, STREAM, { id });
        if (status !== 200 || body.errors || (id === productId ? body.data?.product?.id !== id : body.data?.product !== null)) {
          failures.push(`${status} ${JSON.stringify(body).slice(0, 300)}`);
        }
      } catch (error) {
        failures.push(`request failed: ${(error as Error).message}`);
      }
      answered += 1;
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    failures,
    get answered() {
      return answered;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function served(url: string): Promise<{ hash: string; loadedAt: string }> {
  const ready = await fetch(`${url}/ready`);
  return ((await json(ready)) as { supergraph: { hash: string; loadedAt: string } }).supergraph;
}

/** Replaces the file as deploy tools do: write beside it, then rename over it (atomic). */
async function replaceFile(file: string, content: string) {
  const next = `${file}.next-${randomUUID().slice(0, 8)}`;
  await writeFile(next, content);
  await rename(next, file);
}

describe("supergraph hot reload from the watched file", () => {
  it("refuses an invalid file and one that breaks a partner, then swaps in a valid change under load without failing a request", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "supergraph-reload-"));
    const file = path.join(dir, "supergraph.graphql");
    await copyFile(SUPERGRAPH_PATH, file);
    const gateway = await startExtraGateway(stack, {
      SUPERGRAPH_PATH: file,
      REDIS_URL: stack.redisUrl,
      REDIS_KEY_PREFIX: `${stack.redisPrefix}reload-${randomUUID().slice(0, 8)}:`,
    });
    const load = steadyLoad(gateway.url, 6);
    try {
      const before = await served(gateway.url);
      expect(before.hash).toBe(supergraphHash(committed));
      // A query on the field the change removes, answered and then cached on the old supergraph.
      expect((await gql(gateway.url, REMOVED, { id: productId })).body.errors).toBeUndefined();
      const cached = await gql(gateway.url, REMOVED, { id: productId });
      expect(cached.headers.get("x-cache")).toBe("HIT");
      await eventually(async () => expect(load.answered).toBeGreaterThan(50));

      // (a) Half a supergraph, written in place as an editor or a failed copy would leave it.
      const refused = () => metricValue(gateway.url, 'gateway_supergraph_reloads_total{outcome="refused"}');
      await writeFile(file, committed.slice(0, committed.length / 2));
      // At least once: a slow write may be read once truncated and once written.
      await eventually(async () => expect(await refused()).toBeGreaterThanOrEqual(1));
      const refusedBefore = await refused();
      expect((await served(gateway.url)).hash).toBe(before.hash);
      expect((await gql(gateway.url, REMOVED, { id: productId })).body.data).toEqual({ product: { id: productId, updatedAt: expect.any(String) } });

      // (b) A valid supergraph that drops a field acme's persisted ProductBySku selects.
      const breaksPartner = await composeSupergraph(withoutImageUrls);
      await replaceFile(file, breaksPartner);
      await eventually(async () => expect(await refused()).toBe(refusedBefore + 1));
      expect((await served(gateway.url)).hash).toBe(before.hash);
      expect((await gql(gateway.url, PARTNER_FIELD, { id: productId })).body.data).toEqual({ product: { id: productId, imageUrls: expect.any(Array) } });

      // (c) A valid change, renamed over the file: served without a restart, and nothing cached
      // or planned for the old supergraph answers for it.
      const changed = await composeSupergraph(withoutUpdatedAt);
      expect(changed).not.toBe(committed);
      const answeredBefore = load.answered;
      await replaceFile(file, changed);
      await eventually(async () => expect((await served(gateway.url)).hash).toBe(supergraphHash(changed)));
      const after = await served(gateway.url);
      expect(Date.parse(after.loadedAt)).toBeGreaterThan(Date.parse(before.loadedAt));
      expect(await metricValue(gateway.url, 'gateway_supergraph_reloads_total{outcome="applied"}')).toBe(1);
      const removed = await gql(gateway.url, REMOVED, { id: productId });
      expect(removed.status).toBe(400);
      expect(removed.body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(removed.headers.get("x-cache")).not.toBe("HIT");
      // Still there on the new supergraph.
      expect((await gql(gateway.url, PARTNER_FIELD, { id: productId })).body.data).toEqual({ product: { id: productId, imageUrls: expect.any(Array) } });
      await eventually(async () => expect(load.answered).toBeGreaterThan(answeredBefore + 50));
    } finally {
      await load.stop();
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    }
    expect(load.failures).toEqual([]);
  });
});

describe("supergraph hot reload from a polled URL", () => {
  let registry: Server;
  let registryUrl: string;
  let body = "";
  beforeAll(async () => {
    // A real HTTP server in the role of a schema registry: it answers whatever `body` holds.
    registry = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" }).end(body);
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/supergraph.graphql`;
  });
  afterAll(async () => {
    await new Promise((resolve) => registry?.close(resolve));
  });

  it("starts from the URL, refuses an oversized or invalid answer, and applies a valid change", async () => {
    body = committed;
    const gateway = await startExtraGateway(stack, {
      SUPERGRAPH_URL: registryUrl,
      SUPERGRAPH_POLL_INTERVAL_MS: "100",
      SUPERGRAPH_MAX_BYTES: String(committed.length + 10_000),
    });
    try {
      expect((await served(gateway.url)).hash).toBe(supergraphHash(committed));
      expect((await gql(gateway.url, REMOVED, { id: productId })).body.errors).toBeUndefined();

      body = `${committed}\n${"#".repeat(20_000)}\n`;
      await eventually(async () => expect(await metricValue(gateway.url, 'gateway_supergraph_reloads_total{outcome="failed"}')).toBeGreaterThan(0));
      body = "type Query { hello: String }";
      await eventually(async () => expect(await metricValue(gateway.url, 'gateway_supergraph_reloads_total{outcome="refused"}')).toBe(1));
      expect((await served(gateway.url)).hash).toBe(supergraphHash(committed));
      expect((await gql(gateway.url, REMOVED, { id: productId })).body.errors).toBeUndefined();

      const changed = await composeSupergraph(withoutUpdatedAt);
      body = changed;
      await eventually(async () => expect((await served(gateway.url)).hash).toBe(supergraphHash(changed)));
      expect((await gql(gateway.url, REMOVED, { id: productId })).body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      // A refused answer polled again is counted once.
      expect(await metricValue(gateway.url, 'gateway_supergraph_reloads_total{outcome="refused"}')).toBe(1);
    } finally {
      await gateway.close();
    }
  });
});
