import { badUserInput, mapPrismaError, notFound, parseId } from "@catalog/common";
import type { Context } from "../context.ts";
import { listingTags } from "../listing-tags.ts";
import type { Category, Prisma, Product } from "../prisma.ts";
import { createProductInput, optionalId, updateProductInput, validate } from "../validation.ts";
import type { MutationResolvers } from "../generated/graphql.ts";

async function requireCategory(ctx: Context, id: string, field: string): Promise<Category> {
  const category = await ctx.loaders.categoryById.load(id);
  if (!category) throw badUserInput(`${field} does not name an existing category.`, field);
  return category;
}

const duplicateSku = { unique: () => "A product with this SKU already exists." };

/**
 * After each write, the cached responses that may show it are purged (before the mutation
 * answers, so the caller's next read is fresh): the product itself, and the lists a new or
 * changed product can enter, leave or move in (listing-tags.ts).
 */
export const Mutation: MutationResolvers = {
  async createProduct(_, args, ctx): Promise<Product> {
    const input = validate(createProductInput, args.input);
    const categoryId = parseId(input.categoryId, "input.categoryId");
    await requireCategory(ctx, categoryId, "input.categoryId");
    const created = await ctx.prisma.product
      .create({
        data: {
          sku: input.sku,
          name: input.name,
          description: input.description,
          priceAmount: input.price.amount,
          currency: input.price.currency,
          imageUrls: input.imageUrls,
          weightGrams: input.weightGrams,
          categoryId,
          status: input.status ?? "ACTIVE",
        },
      })
      .catch((error: unknown) => mapPrismaError(error, duplicateSku));
    await ctx.cache.invalidate(await listingTags(ctx.db, [created.id]));
    return created;
  },

  async updateProduct(_, args, ctx): Promise<Product> {
    const id = parseId(args.id);
    const input = validate(updateProductInput, args.input);
    const data: Prisma.ProductUncheckedUpdateInput = {};
    if (input.name != null) data.name = input.name;
    if (input.description != null) data.description = input.description;
    if (input.price != null) {
      data.priceAmount = input.price.amount;
      data.currency = input.price.currency;
    }
    if (input.imageUrls != null) data.imageUrls = input.imageUrls;
    if (input.weightGrams != null) data.weightGrams = input.weightGrams;
    if (input.status != null) data.status = input.status;
    const categoryId = optionalId(input.categoryId, "input.categoryId");
    if (categoryId) {
      await requireCategory(ctx, categoryId, "input.categoryId");
      data.categoryId = categoryId;
    }
    if (Object.keys(data).length === 0) throw badUserInput("input must change at least one field.", "input");
    // The categories it leaves as well as those it enters.
    const before = await listingTags(ctx.db, [id]);
    const updated = await ctx.prisma.product
      .update({ where: { id }, data })
      .catch((error: unknown) => mapPrismaError(error, { notFound: `No product has id ${id}.` }));
    await ctx.cache.invalidate([...before, ...(await listingTags(ctx.db, [id]))]);
    return updated;
  },

  async archiveProduct(_, args, ctx): Promise<Product> {
    const id = parseId(args.id);
    const product = await ctx.loaders.productById.load(id);
    if (!product) throw notFound(`No product has id ${id}.`);
    if (product.status === "ARCHIVED") return product;
    const archived = await ctx.prisma.product
      .update({ where: { id }, data: { status: "ARCHIVED" } })
      .catch((error: unknown) => mapPrismaError(error, { notFound: `No product has id ${id}.` }));
    await ctx.cache.invalidate(await listingTags(ctx.db, [id]));
    return archived;
  },
};
