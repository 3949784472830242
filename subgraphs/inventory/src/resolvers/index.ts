import { DateTimeScalar, DecimalScalar } from "@catalog/common";
import { Mutation } from "./Mutation.ts";
import { Inventory, Product } from "./Product.ts";

export const resolvers = { DateTime: DateTimeScalar, Decimal: DecimalScalar, Mutation, Product, Inventory };
