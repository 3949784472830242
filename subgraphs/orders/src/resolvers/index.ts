import { DateTimeScalar, DecimalScalar } from "@catalog/common";
import { Cart, CartLine } from "./Cart.ts";
import { Mutation } from "./Mutation.ts";
import { Order, OrderItem, OrderTransition, Payment } from "./Order.ts";
import { Query } from "./Query.ts";
import { User } from "./User.ts";
import type { Resolvers } from "../generated/graphql.ts";

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  Query,
  Mutation,
  Order,
  OrderItem,
  OrderTransition,
  Payment,
  Cart,
  CartLine,
  User,
};
