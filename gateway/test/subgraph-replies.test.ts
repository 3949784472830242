import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCategoryTree, createProduct } from "../../test/support/fixtures.ts";
import { gql, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";

const LIMIT = 64 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x20);
/** What the runaway subgraph would send if nobody stopped reading: 64 MiB. */
const RUNAWAY_BYTES = 1024 * CHUNK.length;

/**
 * A real HTTP server standing in for the inventory subgraph that answers far too much: streamed
 * (chunked, no length) or announced by a Content-Length the gateway must refuse without reading.
 */
function runawaySubgraph() {
  let mode: "stream" | "declared" = "stream";
  let written = 0;
  let closed: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", async () => {
      written = 0;
      closed = new Promise((resolve) => res.on("close", () => resolve()));
      if (mode === "declared") {
        res.writeHead(200, { "content-type": "application/json", "content-length": String(RUNAWAY_BYTES) });
        res.write(CHUNK);
        written += CHUNK.length;
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      while (written < RUNAWAY_BYTES && !res.destroyed) {
        written += CHUNK.length;
        if (!res.write(CHUNK)) await Promise.race([once(res, "drain"), once(res, "close")]);
      }
      if (!res.destroyed) res.end();
    });
  });
  return {
    async start() {
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    },
    setMode(next: typeof mode) {
      mode = next;
    },
    /** Resolves once the gateway has dropped the connection of the latest call. */
    closed: () => closed,
    written: () => written,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let stack: Stack;
const runaway = runawaySubgraph();
let gateway: Awaited<ReturnType<typeof startExtraGateway>>;
beforeAll(async () => {
  stack = await startStack();
  const url = await runaway.start();
  gateway = await startExtraGateway(stack, { INVENTORY_SUBGRAPH_URL: url, SUBGRAPH_MAX_RESPONSE_BYTES: String(LIMIT), RESPONSE_CACHE_ENABLED: "false" });
});
afterAll(async () => {
  await gateway?.close();
  await runaway.close();
  await stack?.close();
});

describe("subgraph answers past SUBGRAPH_MAX_RESPONSE_BYTES", () => {
  it.each(["stream", "declared"] as const)(
    "are refused with SUBGRAPH_RESPONSE_TOO_LARGE naming the subgraph, read no further (%s), and the gateway serves on",
    async (mode) => {
      runaway.setMode(mode);
      const { leaf } = await createCategoryTree(stack.prisma.products);
      const product = await createProduct(stack.prisma.products, { categoryId: leaf.id });
      const { status, body } = await gql(gateway.url, `query ($id: ID!) { product(id: $id) { id name inStock } }`, { id: product.id });
      expect(status).toBe(200);
      const error = body.errors?.find((e) => e.extensions?.code === "SUBGRAPH_RESPONSE_TOO_LARGE");
      expect(error?.message).toBe("The inventory service answered with more data than the gateway accepts.");
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|http:/);
      // The gateway dropped the connection instead of reading 64 MiB.
      await runaway.closed();
      expect(runaway.written()).toBeLessThan(RUNAWAY_BYTES);

      const other = await gql(gateway.url, `query ($id: ID!) { product(id: $id) { id name } }`, { id: product.id });
      expect(other.body).toEqual({ data: { product: { id: product.id, name: product.name } } });
    },
  );
});
