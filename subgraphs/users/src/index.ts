import { runSubgraphMain } from "@catalog/common";
import { usersSubgraph } from "./module.ts";

await runSubgraphMain(usersSubgraph);
