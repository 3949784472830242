import { DateTimeScalar, DecimalScalar } from "@catalog/common";
import { Order, OrderItem } from "./Order.ts";
import { Query } from "./Query.ts";
import { User } from "./User.ts";

export const resolvers = { DateTime: DateTimeScalar, Decimal: DecimalScalar, Query, Order, OrderItem, User };
