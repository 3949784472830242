import { DateTimeScalar } from "@catalog/common";
import { AccountMutation } from "./Account.ts";
import { Mutation } from "./Mutation.ts";
import { Query } from "./Query.ts";
import { User } from "./User.ts";
import type { Resolvers } from "../generated/graphql.ts";

export const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Mutation: { ...Mutation, ...AccountMutation }, User };
