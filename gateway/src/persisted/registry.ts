import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@catalog/common/edge";
import type { GraphQLSchema } from "graphql";
import { latestWins } from "../serial.ts";
import { checkManifest, ManifestError, type PersistedOperation } from "./manifest.ts";

export interface PersistedOperationRegistry {
  /** A partner's operations by id; undefined for a partner without a manifest. */
  operations(partner: string): ReadonlyMap<string, PersistedOperation> | undefined;
  /** Re-reads every manifest now (the watcher calls it on changes). */
  reload(): Promise<void>;
  /**
   * What in the lists in force would not validate against `schema` (a new supergraph's API
   * schema), one line per operation: empty when every partner keeps working on it.
   */
  check(schema: GraphQLSchema): string[];
  /** Manifests are checked against `schema` from now on (the supergraph was swapped). */
  useSchema(schema: GraphQLSchema): void;
  close(): void;
}

/**
 * Partners' safelists, loaded from `<dir>/<partner>.json` and reloaded when those files change,
 * without a restart. A manifest that fails its checks (bad JSON, an id that is not its body's
 * hash, an operation that no longer validates) is refused and logged, and the partner's last
 * good list stays in force; a removed file removes the partner's list.
 */
export async function persistedOperationRegistry(options: {
  dir: string;
  schema: GraphQLSchema;
  logger: Logger;
  /** Default on; tests turn it off and call reload(). */
  watch?: boolean;
}): Promise<PersistedOperationRegistry> {
  let lists = new Map<string, Map<string, PersistedOperation>>();
  let schema = options.schema;
  const load = async () => {
    let files: string[];
    try {
      files = (await readdir(options.dir)).filter((f) => f.endsWith(".json"));
    } catch (error) {
      // A directory being swapped or unreadable for a moment must not empty every list.
      options.logger.error({ err: error, dir: options.dir }, "cannot read the manifests; keeping the lists in force");
      return;
    }
    const next = new Map<string, Map<string, PersistedOperation>>();
    for (const file of files) {
      const partner = file.slice(0, -".json".length);
      try {
        const raw: unknown = JSON.parse(await readFile(path.join(options.dir, file), "utf8"));
        const manifest = checkManifest(`manifests/${file}`, raw, schema);
        next.set(partner, new Map(manifest.operations.map((op) => [op.id, op])));
      } catch (error) {
        const problems = error instanceof ManifestError ? error.problems : [(error as Error).message];
        const kept = lists.get(partner);
        if (kept) next.set(partner, kept);
        options.logger.error({ partner, problems, kept: Boolean(kept) }, "refused a persisted query manifest; the last good one stays in force");
      }
    }
    // Swapped whole: a request sees the old lists or the new ones, never half of each.
    lists = next;
  };
  const reload = latestWins(load);
  await reload();
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (options.watch !== false) {
    try {
      // Editors and `npm run pq:build` write in several steps: settle for 100 ms, then read all.
      watcher = watch(options.dir, () => {
        clearTimeout(timer);
        timer = setTimeout(() => void reload(), 100);
      });
    } catch (error) {
      options.logger.warn({ err: error, dir: options.dir }, "cannot watch persisted query manifests; changes need a restart");
    }
  }
  return {
    operations: (partner) => lists.get(partner),
    reload,
    check(candidate) {
      const problems: string[] = [];
      for (const [partner, operations] of lists) {
        try {
          checkManifest(partner, { format: "apollo-persisted-query-manifest", version: 1, operations: [...operations.values()] }, candidate);
        } catch (error) {
          const found = error instanceof ManifestError ? error.problems : [(error as Error).message];
          problems.push(...found.map((problem) => `partner ${partner}: ${problem}`));
        }
      }
      return problems;
    },
    useSchema(next) {
      schema = next;
    },
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
