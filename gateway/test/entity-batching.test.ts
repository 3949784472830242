import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, IDENTITY_HEADER } from "@catalog/common/edge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubgraphDataSource } from "../src/data-source.ts";

const ENTITIES = `query($representations:[_Any!]!){_entities(representations:$representations){...on Product{inStock}}}`;

/**
 * A real HTTP server standing in for a subgraph's `_entities`: it answers each representation
 * with its own id, fails the ones whose id starts with "bad" (null, and an error at its path), and
 * records every call it receives.
 */
let server: Server;
let url: string;
const calls: { identity: string | undefined; query: string; representations: { id: string }[] }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { query: string; variables: { representations?: { id: string }[] } };
      const representations = body.variables.representations ?? [];
      calls.push({ identity: req.headers[IDENTITY_HEADER] as string | undefined, query: body.query, representations });
      const errors = representations.flatMap((r, i) =>
        r.id.startsWith("bad") ? [{ message: `no stock for ${r.id}`, path: ["_entities", i, "inStock"], extensions: { code: "NOT_FOUND" } }] : [],
      );
      const data = body.query.includes("_entities")
        ? { _entities: representations.map((r) => (r.id.startsWith("bad") ? null : { inStock: true, id: r.id })) }
        : { ping: "pong" };
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=30, public" });
      res.end(JSON.stringify({ data, ...(errors.length ? { errors } : {}) }));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function source(batchEntities = true) {
  return new SubgraphDataSource({ subgraph: "inventory", url, timeoutMs: 5_000, logger: createLogger("test", "silent"), dedupe: true, batchEntities });
}

/** A call as Apollo's executor makes it on behalf of a client's operation. */
function call(ds: SubgraphDataSource, ids: string[], options: { identity?: string; operation?: "query" | "mutation"; query?: string } = {}) {
  return ds.process({
    kind: "incoming operation",
    request: { query: options.query ?? ENTITIES, variables: { representations: ids.map((id) => ({ __typename: "Product", id })) } },
    context: { requestId: `r-${ids.join("-")}`, identityToken: options.identity ?? "anonymous-token", deadline: undefined },
    incomingRequestContext: { operation: { operation: options.operation ?? "query" } },
    pathInIncomingRequest: ["products", "edges", "@", "node"],
  } as never) as Promise<{ data?: { _entities?: ({ id: string } | null)[] }; errors?: { message: string; path?: unknown[] }[] }>;
}

describe("entity calls begun in the same tick", () => {
  it("go to the subgraph as one call; each caller gets its own entities and only its own errors, renumbered", async () => {
    const ds = source();
    calls.length = 0;
    const [a, b, c] = await Promise.all([call(ds, ["a1", "a2"]), call(ds, ["b1", "bad-b2", "b3"]), call(ds, ["c1", "bad-c2"])]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.representations.map((r) => r.id)).toEqual(["a1", "a2", "b1", "bad-b2", "b3", "c1", "bad-c2"]);

    expect(a.data!._entities).toEqual([{ inStock: true, id: "a1" }, { inStock: true, id: "a2" }]);
    expect(a.errors).toBeUndefined();
    expect(b.data!._entities).toEqual([{ inStock: true, id: "b1" }, null, { inStock: true, id: "b3" }]);
    expect(b.errors).toEqual([{ message: "no stock for bad-b2", path: ["_entities", 1, "inStock"], extensions: { code: "NOT_FOUND" } }]);
    expect(c.data!._entities).toEqual([{ inStock: true, id: "c1" }, null]);
    expect(c.errors).toEqual([{ message: "no stock for bad-c2", path: ["_entities", 1, "inStock"], extensions: { code: "NOT_FOUND" } }]);
    // Each caller got objects of its own: the executor merges into what it receives.
    expect(a.data!._entities![0]).not.toBe(b.data!._entities![0]);
    await ds.close();
  });

  it("never joins different viewers, mutations, other operations, or calls of different ticks", async () => {
    const ds = source();
    calls.length = 0;
    await Promise.all([
      call(ds, ["v1"], { identity: "viewer-one" }),
      call(ds, ["v2"], { identity: "viewer-two" }),
      call(ds, ["m1"], { operation: "mutation" }),
      call(ds, ["o1"], { query: `query($representations:[_Any!]!){_entities(representations:$representations){...on Product{id}}}` }),
    ]);
    expect(calls).toHaveLength(4);
    expect(calls.map((c) => c.identity).sort()).toEqual(["anonymous-token", "anonymous-token", "viewer-one", "viewer-two"]);
    expect(calls.every((c) => c.representations.length === 1)).toBe(true);

    calls.length = 0;
    await call(ds, ["t1"]);
    await call(ds, ["t2"]);
    expect(calls).toHaveLength(2);
    await ds.close();
  });

  it("off (SUBGRAPH_ENTITY_BATCHING=false): one call per caller", async () => {
    const ds = source(false);
    calls.length = 0;
    await Promise.all([call(ds, ["x1"]), call(ds, ["x2"]), call(ds, ["x3"])]);
    expect(calls).toHaveLength(3);
    await ds.close();
  });
});
