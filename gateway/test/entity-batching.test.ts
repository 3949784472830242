import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, IDENTITY_HEADER } from "@catalog/common/edge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test/support/selling.ts";
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
/** "hold": answers wait for release(); "hang": never answered. */
let mode: "answer" | "hold" | "hang" = "answer";
const held: (() => void)[] = [];
const release = () => {
  for (const answer of held.splice(0)) answer();
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { query: string; variables: { representations?: { id: string }[] } };
      const representations = body.variables.representations ?? [];
      calls.push({ identity: req.headers[IDENTITY_HEADER] as string | undefined, query: body.query, representations });
      if (mode === "hang") return;
      // A subgraph that garbles its errors when asked about several "malformed" products at once.
      if (representations.length > 1 && representations.some((r) => r.id.startsWith("malformed"))) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: { _entities: representations.map(() => null) }, errors: "not a list" }));
        return;
      }
      const errors = representations.flatMap((r, i) =>
        r.id.startsWith("bad") ? [{ message: `no stock for ${r.id}`, path: ["_entities", i, "inStock"], extensions: { code: "NOT_FOUND" } }] : [],
      );
      const data = body.query.includes("_entities")
        ? { _entities: representations.map((r) => (r.id.startsWith("bad") ? null : { inStock: true, id: r.id })) }
        : { ping: "pong" };
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=30, public" });
        res.end(JSON.stringify({ data, ...(errors.length ? { errors } : {}) }));
      };
      if (mode === "hold") held.push(answer);
      else answer();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function source(batchEntities = true, timeoutMs = 5_000) {
  return new SubgraphDataSource({ subgraph: "inventory", url, timeoutMs, logger: createLogger("test", "silent"), dedupe: true, batchEntities });
}

/** A call as Apollo's executor makes it on behalf of a client's operation. */
function call(ds: SubgraphDataSource, ids: string[], options: { identity?: string; operation?: "query" | "mutation"; query?: string; deadline?: AbortSignal } = {}) {
  return ds.process({
    kind: "incoming operation",
    request: { query: options.query ?? ENTITIES, variables: { representations: ids.map((id) => ({ __typename: "Product", id })) } },
    context: { requestId: `r-${ids.join("-")}`, identityToken: options.identity ?? "anonymous-token", deadline: options.deadline },
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

describe("when a batch goes wrong, each caller is answered about its own part", () => {
  it("an answer that cannot be split (errors not a list) is asked again per caller, each getting its own answer", async () => {
    const ds = source();
    calls.length = 0;
    const [a, b] = await Promise.all([call(ds, ["malformed-1"]), call(ds, ["m2", "m3"])]);
    // One batched call, then one call per caller.
    expect(calls.map((c) => c.representations.map((r) => r.id))).toEqual([["malformed-1", "m2", "m3"], ["malformed-1"], ["m2", "m3"]]);
    expect(a.data!._entities).toEqual([{ inStock: true, id: "malformed-1" }]);
    expect(b.data!._entities).toEqual([{ inStock: true, id: "m2" }, { inStock: true, id: "m3" }]);
    await ds.close();
  });

  it("a caller whose deadline passes stops waiting; the others in its batch still get their answers", async () => {
    const ds = source();
    calls.length = 0;
    mode = "hold";
    try {
      const late = new AbortController();
      const [a, b] = [call(ds, ["d1"], { deadline: late.signal }), call(ds, ["d2"])];
      await eventually(async () => expect(calls).toHaveLength(1));
      late.abort(new DOMException("The request's deadline passed.", "TimeoutError"));
      await expect(a).rejects.toMatchObject({ extensions: { code: "GATEWAY_TIMEOUT", serviceName: "inventory" } });
      release();
      expect((await b).data!._entities).toEqual([{ inStock: true, id: "d2" }]);
    } finally {
      mode = "answer";
      release();
      await ds.close();
    }
  });
});

describe("deadline", () => {
  it("ends a call still waiting for a free connection (every connection busy)", async () => {
    const ds = source(false, 60_000);
    calls.length = 0;
    mode = "hang";
    try {
      // The pool's 64 connections each hold a call the subgraph never answers.
      const busy = Array.from({ length: 64 }, (_, i) => call(ds, [`busy-${i}`]).catch(() => undefined));
      await eventually(async () => expect(calls).toHaveLength(64));
      const deadline = new AbortController();
      const queued = call(ds, ["queued"], { deadline: deadline.signal });
      deadline.abort(new DOMException("The request's deadline passed.", "TimeoutError"));
      await expect(queued).rejects.toMatchObject({ extensions: { code: "GATEWAY_TIMEOUT", serviceName: "inventory" } });
      expect(calls).toHaveLength(64);
      void busy;
    } finally {
      mode = "answer";
      // Cut the hung calls first: closing the pool waits for calls in flight.
      server.closeAllConnections();
      await ds.close().catch(() => undefined);
    }
  });
});
