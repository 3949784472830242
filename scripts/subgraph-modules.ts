import type { PrismaLike, SubgraphModule } from "@catalog/common";
import { inventorySubgraph } from "@catalog/inventory";
import { ordersSubgraph } from "@catalog/orders";
import { productsSubgraph } from "@catalog/products";
import { usersSubgraph } from "@catalog/users";

/** Every subgraph, in the order of their default ports (users 4001 ... inventory 4004). */
export const subgraphModules: readonly SubgraphModule<PrismaLike>[] = [usersSubgraph, productsSubgraph, ordersSubgraph, inventorySubgraph];
