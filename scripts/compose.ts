// npm run compose           writes schema/supergraph.graphql from the subgraphs' SDL
// npm run compose -- --check exits 1 when the committed file is stale
import { readFile, writeFile } from "node:fs/promises";
import { composeSupergraph, SUPERGRAPH_PATH } from "./composition.ts";

const check = process.argv.includes("--check");
try {
  const sdl = await composeSupergraph();
  const current = await readFile(SUPERGRAPH_PATH, "utf8").catch(() => "");
  if (check) {
    if (current !== sdl) {
      console.error("schema/supergraph.graphql is stale: run `npm run compose` and commit the result.");
      process.exit(1);
    }
    console.log("schema/supergraph.graphql is up to date.");
  } else if (current === sdl) {
    console.log("schema/supergraph.graphql is already up to date.");
  } else {
    await writeFile(SUPERGRAPH_PATH, sdl);
    console.log("Wrote schema/supergraph.graphql.");
  }
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
