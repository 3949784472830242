// npm run partner -- <command>: manage partners and their API keys in the users database.
//
//   create <slug> <name> --per-minute N --per-day N [--audit]
//   issue <slug>            prints a new API key (shown once)
//   revoke <key id>
//   list
//
// Works on the database DATABASE_URL / USERS_DATABASE_URL names, else on the embedded one in
// DATA_DIR (stop npm start first: an embedded database has one user at a time). Through the
// gateway, the same is available to admins as createPartner / issueApiKey / revokeApiKey.
import path from "node:path";
import { applyMigrations, openSubgraphDatabase, parseEnv, REPO_ROOT } from "@catalog/common";
import { z } from "zod";
import { partnerService } from "../subgraphs/users/src/partners.ts";
import { createPrisma } from "../subgraphs/users/src/prisma.ts";

const env = parseEnv(z.object({ DATA_DIR: z.string().default(path.join(REPO_ROOT, ".data")) }).loose());
const [command, ...args] = process.argv.slice(2);
const option = (name: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const usage = () => {
  console.error("usage: npm run partner -- create <slug> <name> --per-minute N --per-day N [--audit] | issue <slug> | revoke <key id> | list");
  process.exit(1);
};
if (!command) usage();

const db = await openSubgraphDatabase("users", { env: process.env, dataDir: env.DATA_DIR });
// The partner tables may be newer than the database: migrations are idempotent, apply them.
await applyMigrations(db, "users");
const prisma = createPrisma(db.adapter);
const partners = partnerService(prisma);
const print = (line: string) => process.stdout.write(`${line}\n`);
try {
  if (command === "create") {
    const [slug, name] = args;
    if (!slug || !name) usage();
    const created = await partners.create({
      slug,
      name,
      mode: args.includes("--audit") ? "AUDIT" : "ENFORCE",
      quotaPerMinute: Number(option("per-minute")),
      quotaPerDay: Number(option("per-day")),
    });
    print(`Created partner ${created.slug} (${created.mode}, ${created.quotaPerMinute}/min, ${created.quotaPerDay}/day).`);
  } else if (command === "issue") {
    if (!args[0]) usage();
    const { key, apiKey } = await partners.issueKey(args[0]!);
    print(`API key ${apiKey.id} for ${args[0]} (shown once, store it now):\n${key}`);
  } else if (command === "revoke") {
    if (!args[0]) usage();
    const revoked = await partners.revokeKey(args[0]!);
    print(`Revoked ${revoked.id} (${revoked.prefix}...) at ${revoked.revokedAt?.toISOString()}.`);
  } else if (command === "list") {
    for (const partner of await partners.list()) {
      print(`${partner.slug}  ${partner.name}  ${partner.mode}  ${partner.quotaPerMinute}/min  ${partner.quotaPerDay}/day`);
      for (const key of partner.apiKeys) {
        print(`  ${key.id}  ${key.prefix}...  ${key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : "active"}`);
      }
    }
  } else {
    usage();
  }
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  await prisma.$disconnect();
  await db.close();
}
