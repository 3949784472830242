import { runSubgraphMain } from "@catalog/common";
import { productsSubgraph } from "./module.ts";

await runSubgraphMain(productsSubgraph);
