import { hash } from "@node-rs/argon2";
import { catalogSeed, SEED_DEMO_PASSWORD } from "@catalog/common";
import type { UsersPrisma } from "./prisma.ts";

export async function seedUsers(prisma: UsersPrisma): Promise<boolean> {
  if ((await prisma.user.count()) > 0) return false;
  // One argon2id hash shared by every demo account: hashing 250 passwords would cost seconds of
  // start-up for data whose only purpose is a demo sign-in.
  const passwordHash = await hash(SEED_DEMO_PASSWORD);
  const users = catalogSeed().users.map((user) => ({ ...user, passwordHash, updatedAt: user.createdAt }));
  await prisma.user.createMany({ data: users });
  return true;
}
