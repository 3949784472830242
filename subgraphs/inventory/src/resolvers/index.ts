import { DateTimeScalar, DecimalScalar } from "@catalog/common";
import { Mutation } from "./Mutation.ts";
import { Inventory, Product } from "./Product.ts";
import { ReservationMutations, ReservationQueries } from "./Reservation.ts";
import type { Resolvers } from "../generated/graphql.ts";

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  Query: ReservationQueries,
  Mutation: { ...Mutation, ...ReservationMutations },
  Product,
  Inventory,
};
