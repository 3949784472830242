import { randomBytes, randomUUID } from "node:crypto";
import type { Stack } from "./stack.ts";

type Prismas = Stack["prisma"];

/** A short unique token, so every test's rows are its own whatever runs beside it. */
export function token(): string {
  return randomBytes(4).toString("hex");
}

export async function createUser(prisma: Prismas["users"], overrides: { status?: "ACTIVE" | "INACTIVE" | "DELETED"; admin?: boolean } = {}) {
  const t = token();
  return prisma.user.create({
    data: {
      email: `user-${t}@test.example`,
      firstName: "Test",
      lastName: `User ${t}`,
      passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$dGVzdHNhbHQ$notarealhashbutwellformed00000000000000000",
      status: overrides.status ?? "ACTIVE",
      roles: overrides.admin ? ["CUSTOMER", "ADMIN"] : ["CUSTOMER"],
    },
  });
}

/** root > child > leaf, with paths as the products subgraph writes them. */
export async function createCategoryTree(prisma: Prismas["products"]) {
  const t = token();
  const make = async (name: string, parent?: { id: string; path: string; depth: number }) => {
    const id = randomUUID();
    return prisma.category.create({
      data: {
        id,
        name,
        slug: `${name.toLowerCase()}-${t}`,
        parentId: parent?.id ?? null,
        path: `${parent?.path ?? "/"}${id}/`,
        depth: parent ? parent.depth + 1 : 0,
      },
    });
  };
  const root = await make("Root");
  const child = await make("Child", root);
  const leaf = await make("Leaf", child);
  return { root, child, leaf };
}

export async function createProduct(
  prisma: Prismas["products"],
  data: { categoryId: string; price?: string; name?: string; weightGrams?: number; status?: "ACTIVE" | "ARCHIVED"; createdAt?: Date },
) {
  const t = token();
  return prisma.product.create({
    data: {
      sku: `T-${t}`.toUpperCase(),
      name: data.name ?? `Product ${t}`,
      description: "A product made by a test.",
      priceAmount: data.price ?? "10.00",
      currency: "USD",
      weightGrams: data.weightGrams ?? 500,
      categoryId: data.categoryId,
      status: data.status ?? "ACTIVE",
      ...(data.createdAt ? { createdAt: data.createdAt } : {}),
    },
  });
}

export async function createOrder(
  prisma: Prismas["orders"],
  userId: string,
  items: { productId: string; quantity: number; unitPrice: string }[],
  createdAt = new Date(),
) {
  const total = items.reduce((sum, item) => sum + Number(item.unitPrice) * item.quantity, 0);
  return prisma.order.create({
    data: {
      userId,
      status: "DELIVERED",
      currency: "USD",
      totalAmount: total.toFixed(2),
      shipName: "Test Person",
      shipLine1: "1 Test Street",
      shipCity: "Testville",
      shipPostalCode: "12345",
      shipCountry: "DE",
      createdAt,
      items: { create: items.map((item, position) => ({ ...item, position })) },
    },
  });
}
