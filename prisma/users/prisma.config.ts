// Prisma CLI config for the users subgraph. The JavaScript schema engine keeps the CLI offline
// (Prisma's native engine download host is unreachable on our machines; see docs/decisions).
import { definePrismaCliConfig } from "../cli-config.ts";

export default definePrismaCliConfig("users");
