import { DateTimeScalar, DecimalScalar } from "@catalog/common";
import { Mutation } from "./Mutation.ts";
import { Inventory, Product } from "./Product.ts";
import { ReservationMutations, ReservationQueries } from "./Reservation.ts";

export const resolvers = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  Query: ReservationQueries,
  Mutation: { ...Mutation, ...ReservationMutations },
  Product,
  Inventory,
};
