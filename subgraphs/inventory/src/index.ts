import { runSubgraphMain } from "@catalog/common";
import { inventorySubgraph } from "./module.ts";

await runSubgraphMain(inventorySubgraph);
