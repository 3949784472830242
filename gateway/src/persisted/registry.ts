import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@catalog/common";
import type { GraphQLSchema } from "graphql";
import { checkManifest, ManifestError, type PersistedOperation } from "./manifest.ts";

export interface PersistedOperationRegistry {
  /** A partner's operations by id; undefined for a partner without a manifest. */
  operations(partner: string): ReadonlyMap<string, PersistedOperation> | undefined;
  /** Re-reads every manifest now (the watcher calls it on changes). */
  reload(): Promise<void>;
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
  const lists = new Map<string, Map<string, PersistedOperation>>();
  const reload = async () => {
    const files = (await readdir(options.dir).catch(() => [] as string[])).filter((f) => f.endsWith(".json"));
    const present = new Set<string>();
    for (const file of files) {
      const partner = file.slice(0, -".json".length);
      present.add(partner);
      try {
        const raw: unknown = JSON.parse(await readFile(path.join(options.dir, file), "utf8"));
        const manifest = checkManifest(`manifests/${file}`, raw, options.schema);
        lists.set(partner, new Map(manifest.operations.map((op) => [op.id, op])));
      } catch (error) {
        const problems = error instanceof ManifestError ? error.problems : [(error as Error).message];
        options.logger.error(
          { partner, problems, kept: lists.has(partner) },
          "refused a persisted query manifest; the last good one stays in force",
        );
      }
    }
    for (const partner of [...lists.keys()]) if (!present.has(partner)) lists.delete(partner);
  };
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
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
