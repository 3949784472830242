import { DateTimeScalar } from "@catalog/common";
import { AccountMutation } from "./Account.ts";
import { Mutation } from "./Mutation.ts";
import { Query } from "./Query.ts";
import { User } from "./User.ts";

export const resolvers = { DateTime: DateTimeScalar, Query, Mutation: { ...Mutation, ...AccountMutation }, User };
