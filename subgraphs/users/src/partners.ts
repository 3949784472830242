import { createHash, randomBytes } from "node:crypto";
import { badUserInput, mapPrismaError, notFound, parseId } from "@catalog/common";
import { z } from "zod";
import type { UsersPrisma } from "./prisma.ts";

export const hashApiKey = (key: string) => createHash("sha256").update(key).digest("hex");

const changes = z.object({
  mode: z.enum(["ENFORCE", "AUDIT"]).optional(),
  quotaPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  quotaPerDay: z.number().int().min(1).max(1_000_000_000).optional(),
});

const partnerInput = z.object({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/),
  name: z.string().trim().min(1).max(100),
  mode: z.enum(["ENFORCE", "AUDIT"]).default("ENFORCE"),
  quotaPerMinute: z.number().int().min(1).max(1_000_000),
  quotaPerDay: z.number().int().min(1).max(1_000_000_000),
});

/** What the gateway needs to serve a partner's request. */
export interface ResolvedPartner {
  /** The partner's own id: what it acts as (e.g. the owner of the orders it places). */
  partnerId: string;
  keyId: string;
  slug: string;
  mode: "ENFORCE" | "AUDIT";
  quotaPerMinute: number;
  quotaPerDay: number;
}

/**
 * Partners and their API keys. Keys are 32 random bytes, stored as SHA-256 (high entropy needs no
 * slow hash), shown once when issued; `prefix` tells them apart in lists.
 */
export function partnerService(prisma: UsersPrisma) {
  return {
    async create(input: unknown) {
      const parsed = partnerInput.safeParse(input);
      if (!parsed.success) {
        const field = String(parsed.error.issues[0]?.path[0] ?? "input");
        throw badUserInput(`${field} is not valid (slug: lower-case letters, digits and dashes; quotas: positive).`, `input.${field}`);
      }
      return prisma.partner
        .create({ data: parsed.data, include: { apiKeys: true } })
        .catch((error: unknown) => mapPrismaError(error, { unique: () => `A partner with slug "${parsed.data.slug}" already exists.` }));
    },
    /** Mode and quotas: e.g. AUDIT to ENFORCE once a partner's client sends listed ids only. */
    async update(slug: string, input: unknown) {
      const parsed = changes.safeParse(input ?? {});
      if (!parsed.success) {
        const field = String(parsed.error.issues[0]?.path[0] ?? "input");
        throw badUserInput(`${field} is not valid (quotas: positive whole numbers).`, `input.${field}`);
      }
      const data = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
      if (Object.keys(data).length === 0) throw badUserInput("input must change at least one field.", "input");
      return prisma.partner
        .update({ where: { slug }, data, include: { apiKeys: true } })
        .catch((error: unknown) => mapPrismaError(error, { notFound: `No partner has slug "${slug}".` }));
    },
    async issueKey(slug: string) {
      const partner = await prisma.partner.findUnique({ where: { slug } });
      if (!partner) throw notFound(`No partner has slug "${slug}".`);
      const key = `cpk_${randomBytes(32).toString("base64url")}`;
      const apiKey = await prisma.apiKey.create({ data: { partnerId: partner.id, keyHash: hashApiKey(key), prefix: key.slice(0, 12) } });
      return { key, apiKey };
    },
    async revokeKey(id: string) {
      const keyId = parseId(id);
      const existing = await prisma.apiKey.findUnique({ where: { id: keyId } });
      if (!existing) throw notFound(`No API key has id ${keyId}.`);
      if (existing.revokedAt) return existing;
      return prisma.apiKey.update({ where: { id: keyId }, data: { revokedAt: new Date() } });
    },
    list: () => prisma.partner.findMany({ orderBy: { slug: "asc" }, include: { apiKeys: { orderBy: { createdAt: "asc" } } } }),
    /** The partner behind an active key, or null for an unknown or revoked one. */
    async resolve(key: string): Promise<ResolvedPartner | null> {
      if (key.length > 200) return null;
      const found = await prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(key) }, include: { partner: true } });
      if (!found || found.revokedAt) return null;
      const { partner } = found;
      return { partnerId: partner.id, keyId: found.id, slug: partner.slug, mode: partner.mode, quotaPerMinute: partner.quotaPerMinute, quotaPerDay: partner.quotaPerDay };
    },
  };
}

export type PartnerService = ReturnType<typeof partnerService>;
