import { DateTimeScalar, DecimalScalar } from "@catalog/common";
import { ProductFacets } from "../search/facets.ts";
import { Category } from "./Category.ts";
import { CategoryMutation } from "./CategoryMutation.ts";
import { Mutation } from "./Mutation.ts";
import { Product } from "./Product.ts";
import { Query } from "./Query.ts";
import { Review } from "./Review.ts";
import { ReviewMutation } from "./ReviewMutation.ts";
import type { Resolvers } from "../generated/graphql.ts";

export const resolvers: Resolvers = { DateTime: DateTimeScalar, Decimal: DecimalScalar, Query, Mutation: { ...Mutation, ...ReviewMutation, ...CategoryMutation }, Product, Category, Review, ProductFacets };
