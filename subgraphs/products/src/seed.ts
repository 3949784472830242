import { catalogSeed } from "@catalog/common";
import type { ProductsPrisma } from "./prisma.ts";

const CHUNK = 1000;

export async function seedProducts(prisma: ProductsPrisma): Promise<boolean> {
  if ((await prisma.category.count()) > 0) return false;
  const seed = catalogSeed();
  await prisma.$transaction(async (tx) => {
    // Parents before children: the tree's foreign key checks each row as it is inserted.
    for (const depth of [0, 1, 2]) {
      await tx.category.createMany({ data: seed.categories.filter((c) => c.depth === depth) });
    }
    for (let i = 0; i < seed.products.length; i += CHUNK) {
      await tx.product.createMany({
        data: seed.products.slice(i, i + CHUNK).map((p) => ({ ...p, updatedAt: p.createdAt })),
      });
    }
    for (let i = 0; i < seed.reviews.length; i += CHUNK) {
      await tx.review.createMany({ data: seed.reviews.slice(i, i + CHUNK) });
    }
  }, { timeout: 120_000 });
  return true;
}
