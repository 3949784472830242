import { DateTimeScalar } from "@catalog/common";
import { Query } from "./Query.ts";
import { User } from "./User.ts";

export const resolvers = { DateTime: DateTimeScalar, Query, User };
