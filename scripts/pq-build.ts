// npm run pq:build: validates every partner's operations (schema/persisted/<partner>/*.graphql)
// against the committed supergraph and writes schema/persisted/manifests/<partner>.json in
// Apollo's persisted query manifest format. `--check` writes nothing and fails when a manifest is
// stale or an operation no longer validates (what CI and the tests run).
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { apiSchemaOf, buildManifest, ManifestError, MANIFEST_DIR, manifestJson, readPartnerSources } from "../gateway/src/persisted/manifest.ts";
import { SUPERGRAPH_PATH } from "../gateway/src/compose.ts";

const check = process.argv.includes("--check");
const schema = apiSchemaOf(await readFile(SUPERGRAPH_PATH, "utf8"));
const partners = await readPartnerSources();
let failed = false;
const expected = new Set<string>();
for (const [partner, files] of partners) {
  const file = path.join(MANIFEST_DIR, `${partner}.json`);
  expected.add(`${partner}.json`);
  let json: string;
  try {
    json = manifestJson(buildManifest(partner, files, schema));
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    console.error(error.message);
    failed = true;
    continue;
  }
  if (check) {
    const committed = await readFile(file, "utf8").catch(() => "");
    if (committed !== json) {
      console.error(`${path.relative(process.cwd(), file)} is stale: run npm run pq:build and commit it.`);
      failed = true;
    }
  } else {
    await mkdir(MANIFEST_DIR, { recursive: true });
    await writeFile(file, json);
    process.stdout.write(`Wrote ${path.relative(process.cwd(), file)} (${files.length} operations).\n`);
  }
}
for (const name of await readdir(MANIFEST_DIR).catch(() => [] as string[])) {
  if (!name.endsWith(".json") || expected.has(name)) continue;
  if (check) {
    console.error(`schema/persisted/manifests/${name} has no operations folder: remove it (npm run pq:build does).`);
    failed = true;
  } else {
    await rm(path.join(MANIFEST_DIR, name));
  }
}
if (failed) process.exit(1);
