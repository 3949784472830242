import { runSubgraphMain } from "@catalog/common";
import { ordersSubgraph } from "./module.ts";

await runSubgraphMain(ordersSubgraph);
