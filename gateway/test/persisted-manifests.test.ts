import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUPERGRAPH_PATH } from "../../scripts/composition.ts";
import {
  apiSchemaOf,
  buildManifest,
  checkManifest,
  ManifestError,
  MANIFEST_DIR,
  manifestJson,
  operationId,
  readPartnerSources,
  type PersistedQueryManifest,
} from "../src/persisted/manifest.ts";
import { persistedOperationRegistry } from "../src/persisted/registry.ts";

let schema: ReturnType<typeof apiSchemaOf>;
beforeAll(async () => {
  schema = apiSchemaOf(await readFile(SUPERGRAPH_PATH, "utf8"));
});

describe("partners' operation manifests", () => {
  it("every committed manifest is what npm run pq:build makes from the partner's operations today", async () => {
    const partners = await readPartnerSources();
    expect([...partners.keys()].sort()).toEqual(expect.arrayContaining(["acme", "pricewatch"]));
    for (const [partner, files] of partners) {
      // Throws, naming the file and the problem, when an operation no longer validates.
      const built = manifestJson(buildManifest(partner, files, schema));
      const committed = await readFile(path.join(MANIFEST_DIR, `${partner}.json`), "utf8");
      expect(committed, `schema/persisted/manifests/${partner}.json is stale: npm run pq:build`).toBe(built);
      expect(checkManifest(partner, JSON.parse(committed), schema).operations.length).toBe(files.length);
    }
  });

  it("a schema change that breaks a partner's operation fails the build with the partner, file and field", () => {
    const files = [{ name: "Broken.graphql", source: `query Broken { product(id: "1") { id weightInPounds } }` }];
    expect(() => buildManifest("acme", files, schema)).toThrow(ManifestError);
    try {
      buildManifest("acme", files, schema);
    } catch (error) {
      expect((error as ManifestError).message).toContain("schema/persisted/acme");
      expect((error as ManifestError).problems[0]).toMatch(/^Broken\.graphql: Cannot query field "weightInPounds" on type "Product"/);
    }
  });

  it("files need exactly one named operation, and names must be unique", () => {
    const problems = (files: { name: string; source: string }[]) => {
      try {
        buildManifest("p", files, schema);
        return [];
      } catch (error) {
        return (error as ManifestError).problems;
      }
    };
    expect(problems([{ name: "A.graphql", source: "{ categories { id } }" }])).toEqual(["A.graphql: the operation has no name"]);
    expect(problems([{ name: "B.graphql", source: "query X { categories { id } } query Y { categories { id } }" }])[0]).toMatch(/holds 2 operations/);
    expect(
      problems([
        { name: "C.graphql", source: "query Same { categories { id } }" },
        { name: "D.graphql", source: "query Same { categories { name } }" },
      ]),
    ).toEqual(["D.graphql: another file already defines Same"]);
  });

  it("a manifest from elsewhere is checked: tampered ids, wrong names or types, invalid bodies are refused", () => {
    const body = "query Ok { categories { id } }";
    const good: PersistedQueryManifest = { format: "apollo-persisted-query-manifest", version: 1, operations: [{ id: operationId(body), name: "Ok", type: "query", body }] };
    expect(checkManifest("good", good, schema).operations).toHaveLength(1);
    const refused = (manifest: unknown) => {
      try {
        checkManifest("m", manifest, schema);
        return [];
      } catch (error) {
        return (error as ManifestError).problems;
      }
    };
    expect(refused({ ...good, format: "something-else" })[0]).toMatch(/not an Apollo persisted query manifest/);
    expect(refused({ ...good, operations: [{ ...good.operations[0], id: "0".repeat(64) }] })).toEqual(["Ok: id is not the SHA-256 of the body"]);
    expect(refused({ ...good, operations: [{ ...good.operations[0], name: "Other" }] })).toContain("Other: the body's operation is named Ok");
    expect(refused({ ...good, operations: [{ ...good.operations[0], type: "mutation" }] })).toContain("Ok: the body is a query, not a mutation");
    const invalid = "query Bad { categories { nope } }";
    expect(refused({ ...good, operations: [{ id: operationId(invalid), name: "Bad", type: "query", body: invalid }] })[0]).toMatch(/Cannot query field "nope"/);
  });
});

describe("the gateway's registry of manifests", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "manifests-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const manifestOf = (...bodies: string[]): PersistedQueryManifest => ({
    format: "apollo-persisted-query-manifest",
    version: 1,
    operations: bodies.map((body) => ({ id: operationId(body), name: /query (\w+)/.exec(body)![1]!, type: "query", body })),
  });
  const first = "query First { categories { id } }";
  const second = "query Second { categories { name } }";

  it("loads each partner's list, reloads on change, keeps the last good list when a manifest is bad", async () => {
    await writeFile(path.join(dir, "acme.json"), JSON.stringify(manifestOf(first)));
    const registry = await persistedOperationRegistry({ dir, schema, logger: createLogger("t", "silent"), watch: false });
    try {
      expect([...registry.operations("acme")!.keys()]).toEqual([operationId(first)]);
      expect(registry.operations("pricewatch")).toBeUndefined();

      await writeFile(path.join(dir, "acme.json"), JSON.stringify(manifestOf(first, second)));
      await registry.reload();
      expect(registry.operations("acme")!.size).toBe(2);

      // Broken JSON, then a tampered id: both refused, the two-operation list stays.
      await writeFile(path.join(dir, "acme.json"), "{ not json");
      await registry.reload();
      expect(registry.operations("acme")!.size).toBe(2);
      const tampered = manifestOf(first);
      tampered.operations[0]!.id = "f".repeat(64);
      await writeFile(path.join(dir, "acme.json"), JSON.stringify(tampered));
      await registry.reload();
      expect(registry.operations("acme")!.size).toBe(2);

      await rm(path.join(dir, "acme.json"));
      await registry.reload();
      expect(registry.operations("acme")).toBeUndefined();
    } finally {
      registry.close();
    }
  });

  it("overlapping reloads never undo a newer one", async () => {
    const registry = await persistedOperationRegistry({ dir, schema, logger: createLogger("t", "silent"), watch: false });
    try {
      const reloads = [registry.reload()];
      await writeFile(path.join(dir, "late.json"), JSON.stringify(manifestOf(first)));
      reloads.push(registry.reload(), registry.reload());
      await Promise.all(reloads);
      expect(registry.operations("late")?.size).toBe(1);
    } finally {
      registry.close();
    }
  });

  it("notices changed files by itself", async () => {
    await writeFile(path.join(dir, "watched.json"), JSON.stringify(manifestOf(first)));
    const registry = await persistedOperationRegistry({ dir, schema, logger: createLogger("t", "silent") });
    try {
      await writeFile(path.join(dir, "watched.json"), JSON.stringify(manifestOf(first, second)));
      for (let i = 0; i < 50 && registry.operations("watched")?.size !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(registry.operations("watched")?.size).toBe(2);
    } finally {
      registry.close();
    }
  });
});
