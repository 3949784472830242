// npm run partner -- <command>: manage partners and their API keys in the users database.
//
//   create <slug> <name> --per-minute N --per-day N [--audit]
//   set <slug> [--enforce | --audit] [--per-minute N] [--per-day N]
//   issue <slug>            prints a new API key (shown once)
//   revoke <key id>
//   list
//
// Works on the database DATABASE_URL / USERS_DATABASE_URL names (migrated: npm run db:migrate),
// else on the embedded one in DATA_DIR (stop npm start first: an embedded database has one user
// at a time). Through the gateway, admins have the same as createPartner / updatePartner /
// issueApiKey / revokeApiKey / partners.
import path from "node:path";
import { openSubgraphDatabase, parseEnv, REPO_ROOT } from "@catalog/common";
import { z } from "zod";
import { partnerService } from "../subgraphs/users/src/partners.ts";
import { createPrisma } from "../subgraphs/users/src/prisma.ts";

const env = parseEnv(z.object({ DATA_DIR: z.string().default(path.join(REPO_ROOT, ".data")) }).loose());
const [command, ...args] = process.argv.slice(2);
const option = (name: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const USAGE =
  "usage: npm run partner -- create <slug> <name> --per-minute N --per-day N [--audit] | set <slug> [--enforce|--audit] [--per-minute N] [--per-day N] | issue <slug> | revoke <key id> | list";
class UsageError extends Error {}
const usage = (): never => {
  throw new UsageError(USAGE);
};
const number = (name: string) => (option(name) === undefined ? undefined : Number(option(name)));
if (!command) {
  console.error(USAGE);
  process.exit(1);
}

const db = await openSubgraphDatabase("users", { env: process.env, dataDir: env.DATA_DIR });
const prisma = createPrisma(db.adapter);
const partners = partnerService(prisma);
const print = (line: string) => process.stdout.write(`${line}\n`);
try {
  if (command === "create") {
    const [slug, name] = args;
    if (!slug || !name || name.startsWith("--")) usage();
    const created = await partners.create({
      slug,
      name,
      mode: args.includes("--audit") ? "AUDIT" : "ENFORCE",
      quotaPerMinute: number("per-minute"),
      quotaPerDay: number("per-day"),
    });
    print(`Created partner ${created.slug} (${created.mode}, ${created.quotaPerMinute}/min, ${created.quotaPerDay}/day).`);
  } else if (command === "set") {
    if (!args[0] || args[0].startsWith("--")) usage();
    const mode = args.includes("--audit") ? "AUDIT" : args.includes("--enforce") ? "ENFORCE" : undefined;
    const updated = await partners.update(args[0]!, { mode, quotaPerMinute: number("per-minute"), quotaPerDay: number("per-day") });
    print(`Partner ${updated.slug}: ${updated.mode}, ${updated.quotaPerMinute}/min, ${updated.quotaPerDay}/day.`);
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
