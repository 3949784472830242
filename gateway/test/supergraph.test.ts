import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO_ROOT } from "@catalog/common";
import { describe, expect, it } from "vitest";
import { composeSupergraph, SUPERGRAPH_PATH } from "../../scripts/composition.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { TEST_AUTH_ENV } from "../../test/support/auth.ts";
import { buildGateway } from "../src/server.ts";
import { SupergraphError } from "../src/supergraph.ts";
import { logger } from "../../test/support/stack.ts";

describe("the committed supergraph", () => {
  it("is exactly what composing the subgraphs' schema.graphql produces (run `npm run compose` if this fails)", async () => {
    const committed = await readFile(SUPERGRAPH_PATH, "utf8");
    expect(committed).toBe(await composeSupergraph());
  });

  it("declares the four subgraphs, a @requires and entity keys", async () => {
    const sdl = await readFile(SUPERGRAPH_PATH, "utf8");
    for (const name of ["users", "products", "orders", "inventory"]) expect(sdl).toContain(`name: "${name}"`);
    expect(sdl).toMatch(/shippingEstimate: ShippingEstimate @join__field\(graph: INVENTORY, requires: "weightGrams"\)/);
  });
});

describe("the gateway refuses to start without a valid supergraph", () => {
  it("rejects a missing file with a message that says how to fix it", async () => {
    const config = loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_PATH: "/nonexistent/supergraph.graphql" });
    await expect(buildGateway(config, logger)).rejects.toThrow(SupergraphError);
    await expect(buildGateway(config, logger)).rejects.toThrow(/npm run compose/);
  });

  it("rejects a file that is not a supergraph (a subgraph schema, say)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "supergraph-"));
    const file = path.join(dir, "supergraph.graphql");
    await writeFile(file, await readFile(path.join(REPO_ROOT, "subgraphs/users/schema.graphql"), "utf8"));
    await expect(buildGateway(loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_PATH: file }), logger)).rejects.toThrow(SupergraphError);
  });

  it("exits non-zero as a process, before listening", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "gateway/src/index.ts")], {
      env: { ...process.env, ...TEST_AUTH_ENV, SUPERGRAPH_PATH: "/nonexistent/supergraph.graphql", PORT: "0", LOG_LEVEL: "error" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(output).toContain("Cannot read the supergraph");
    expect(output).not.toContain("listening");
  });
});

describe("the engine names no subgraph", () => {
  it("boots on any valid supergraph, takes URL overrides by subgraph name, and refuses API keys it has no directory for", async () => {
    const { composeServices } = await import("@apollo/composition");
    const { parse } = await import("graphql");
    const composed = composeServices([
      {
        name: "book-store",
        url: "http://127.0.0.1:1/graphql",
        typeDefs: parse(`extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
          type Book @key(fields: "id") { id: ID! title: String! }
          type Query { book(id: ID!): Book }`),
      },
    ]);
    expect(composed.errors).toBeUndefined();
    const dir = await mkdtemp(path.join(tmpdir(), "supergraph-"));
    const file = path.join(dir, "supergraph.graphql");
    await writeFile(file, composed.supergraphSdl!);
    const gateway = await buildGateway(
      loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_PATH: file, BOOK_STORE_SUBGRAPH_URL: "http://127.0.0.1:2/graphql", RATE_LIMIT_ENABLED: "false" }),
      logger,
    );
    try {
      expect(gateway.subgraphUrls).toEqual({ "book-store": "http://127.0.0.1:2/graphql" });
      const { listen } = await import("@catalog/common");
      const server = await listen(gateway.app, 0);
      try {
        const keyed = await fetch(`${server.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": `cpk_${"a".repeat(43)}` },
          body: JSON.stringify({ query: "{ __typename }" }),
        });
        expect(keyed.status).toBe(401);
        expect(((await keyed.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("UNAUTHENTICATED");
      } finally {
        await server.close();
      }
    } finally {
      await gateway.stop();
    }
    expect(() => loadGatewayConfig({ ...TEST_AUTH_ENV, BOOK_STORE_SUBGRAPH_URL: "not a url" })).toThrow(/BOOK_STORE_SUBGRAPH_URL/);
  });
});
