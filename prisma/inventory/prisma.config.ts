// Prisma CLI config for the inventory subgraph. The JavaScript schema engine keeps the CLI offline
// (Prisma's native engine download host is unreachable on our machines; see docs/decisions).
import { definePrismaCliConfig } from "../cli-config.ts";

export default definePrismaCliConfig("inventory");
