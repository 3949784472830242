import { hash } from "@node-rs/argon2";
import { badUserInput, coded, conflict, ErrorCode, isUuid, notFound, parseId, type CacheInvalidator, type Logger, type Viewer } from "@catalog/common";
import { z } from "zod";
import { lockUserForChange, type AuthPayload, type AuthService } from "./auth.ts";
import type { BackgroundQueue } from "./background.ts";
import type { Role, UserStatus } from "./generated/prisma/enums.ts";
import type { Mailer } from "./mailer.ts";
import { checkNewPassword, checkPasswordLength, newOpaqueToken, sha256 } from "./passwords.ts";
import type { Tx, User, UsersPrisma } from "./prisma.ts";
import type { UsersSettings } from "./settings.ts";

/** Per-process pieces accounts need (built once in server.ts), besides the request's own. */
export interface AccountDeps {
  prisma: UsersPrisma;
  cache: CacheInvalidator;
  logger: Logger;
  settings: UsersSettings;
  mailer: Mailer;
  background: BackgroundQueue;
}

export interface UpdateMeInput {
  firstName?: string | null;
  lastName?: string | null;
}

const name = z.string().trim().min(1).max(100);
const updateMeSchema = z.object({ firstName: name.nullish(), lastName: name.nullish() });

const notActive = () => coded(ErrorCode.UNAUTHENTICATED, "This account is not active.");
const wrongCurrentPassword = () => coded(ErrorCode.UNAUTHENTICATED, "The current password is incorrect.", { field: "currentPassword" });
const invalidResetToken = () =>
  coded(ErrorCode.INVALID_RESET_TOKEN, "This password-reset link is invalid, was already used or has expired; ask for a new one.");
const forbidden = (message: string, reason: string) => coded(ErrorCode.FORBIDDEN, message, { reason });

/** Every sign-in of the user ends: their refresh tokens stop working. Access tokens live out their 15 minutes. */
const revokeSessions = (tx: Tx, userId: string, now: Date) =>
  tx.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });

/** Outstanding reset links stop working once the password changed (or the account was closed). */
const retireResets = (tx: Tx, userId: string, now: Date) =>
  tx.passwordReset.updateMany({ where: { userId, usedAt: null }, data: { usedAt: now } });

/**
 * Cached answers that show the user, including those that show them as absent: `user(id)` and
 * `me` answer null for a deleted account, and a null carries no `User:<id>` tag, only its root
 * field's. Purging the root fields drops every viewer's cached `me`; status and role changes are
 * rare enough for that.
 */
const userAndRootTags = (userId: string) => [`User:${userId}`, "Query.user", "Query.me"];

export function accountService(deps: AccountDeps, auth: AuthService) {
  const { prisma, cache, settings, mailer, logger } = deps;
  const purgeUser = (userId: string) => cache.invalidate([`User:${userId}`]);

  async function activeUser(viewer: Viewer): Promise<User> {
    const user = await prisma.user.findUnique({ where: { id: viewer.userId } });
    if (!user || user.status !== "ACTIVE") throw notActive();
    return user;
  }

  /**
   * The mail of a reset request, after the request was answered (see requestPasswordReset). At
   * most one per account per PASSWORD_RESET_COOLDOWN_SECONDS: requests from many addresses
   * cannot flood the mailbox, nor keep retiring the link the owner is about to use. Older links
   * are retired only once the new mail went out, so a mailer failure leaves them working.
   */
  async function sendReset(email: string): Promise<void> {
    if (email.length > 254) return;
    const user = await prisma.user.findUnique({ where: { email } });
    if (!user || user.status !== "ACTIVE") return;
    const token = newOpaqueToken();
    const now = new Date();
    const created = await prisma.$transaction(async (tx) => {
      // Serializes requests for one account across processes, so two cannot both pass the check.
      await lockUserForChange(tx, user.id);
      const recent = await tx.passwordReset.count({
        where: { userId: user.id, createdAt: { gt: new Date(now.getTime() - settings.passwordResetCooldownSeconds * 1000) } },
      });
      if (recent > 0) return null;
      return tx.passwordReset.create({
        data: {
          userId: user.id,
          tokenHash: sha256(token),
          expiresAt: new Date(now.getTime() + settings.passwordResetTtlMinutes * 60_000),
        },
      });
    });
    if (!created) {
      logger.info({ user: user.id }, "password reset asked again within the cooldown; no mail sent");
      return;
    }
    try {
      await mailer.send({
        to: user.email,
        subject: "Reset your password",
        text:
          `Hello ${user.firstName},\n\n` +
          `someone (hopefully you) asked to reset the password of your account. Choose a new one here:\n\n` +
          `${settings.passwordResetUrl}${token}\n\n` +
          `The link works once, within ${settings.passwordResetTtlMinutes} minutes. ` +
          `If you did not ask for it, ignore this mail: your password stays as it is.\n`,
      });
    } catch (error) {
      // Nobody got this link: drop it, so it neither counts against the cooldown nor lingers.
      await prisma.passwordReset.deleteMany({ where: { id: created.id } });
      throw error;
    }
    // Only the newest mail's link works from now on.
    await prisma.passwordReset.updateMany({
      where: { userId: user.id, usedAt: null, id: { not: created.id }, createdAt: { lte: created.createdAt } },
      data: { usedAt: new Date() },
    });
  }

  /** An admin changes another user; the rows are locked so concurrent admin changes serialize. */
  async function adminChange(viewer: Viewer, id: string, data: { status?: UserStatus; roles?: Role[] }): Promise<User> {
    const targetId = parseId(id);
    if (targetId === viewer.userId.toLowerCase()) {
      throw forbidden("Admins cannot change their own status or roles; ask another admin.", "SELF");
    }
    // Only a user may act here (a partner or service identity never holds users:write, but an id
    // that is not a UUID must not reach the cast below).
    if (!isUuid(viewer.userId)) throw forbidden("Only an active admin may change users.", "NOT_ACTIVE_ADMIN");
    const user = await prisma.$transaction(async (tx) => {
      // Locked in id order (no deadlock between two admins changing each other). The actor must
      // still be an active admin now, not only when their token was signed: two admins demoting
      // each other at once serialize here, and the second finds they are no longer one. Since
      // nobody changes themself, the actor stays an active admin: the last one cannot be removed.
      const rows = await tx.$queryRaw<{ id: string; status: string; roles: string[] }[]>`
        SELECT id::text AS id, status::text AS status, roles::text[] AS roles FROM users
        WHERE id IN (${viewer.userId}::uuid, ${targetId}::uuid) ORDER BY id FOR UPDATE`;
      const actor = rows.find((row) => row.id === viewer.userId.toLowerCase());
      if (!actor || actor.status !== "ACTIVE" || !actor.roles.includes("ADMIN")) {
        throw forbidden("Only an active admin may change users.", "NOT_ACTIVE_ADMIN");
      }
      if (!rows.some((row) => row.id === targetId)) throw notFound("No user has this id.");
      const now = new Date();
      const updated = await tx.user.update({ where: { id: targetId }, data });
      if (updated.status !== "ACTIVE") {
        await revokeSessions(tx, targetId, now);
        await retireResets(tx, targetId, now);
      }
      return updated;
    });
    await cache.invalidate(userAndRootTags(targetId));
    logger.info({ actor: viewer.userId, user: targetId, ...data }, "user changed by an admin");
    return user;
  }

  return {
    async updateMe(viewer: Viewer, input: UpdateMeInput): Promise<User> {
      const parsed = updateMeSchema.safeParse(input);
      if (!parsed.success) {
        const field = String(parsed.error.issues[0]?.path[0] ?? "input");
        throw badUserInput(`${field} must be 1 to 100 characters.`, `input.${field}`);
      }
      const data = {
        ...(parsed.data.firstName != null ? { firstName: parsed.data.firstName } : {}),
        ...(parsed.data.lastName != null ? { lastName: parsed.data.lastName } : {}),
      };
      if (Object.keys(data).length === 0) return activeUser(viewer);
      const updated = await prisma.user.updateMany({ where: { id: viewer.userId, status: "ACTIVE" }, data });
      if (updated.count !== 1) throw notActive();
      await purgeUser(viewer.userId);
      return prisma.user.findUniqueOrThrow({ where: { id: viewer.userId } });
    },

    async changePassword(viewer: Viewer, currentPassword: string, newPassword: string): Promise<AuthPayload> {
      const user = await activeUser(viewer);
      if (!(await auth.verifyPassword(user.passwordHash, currentPassword))) throw wrongCurrentPassword();
      checkNewPassword(newPassword, user.email, "newPassword");
      const passwordHash = await hash(newPassword);
      const now = new Date();
      await prisma.$transaction(async (tx) => {
        // Conditional on the hash just verified: of two changes racing, one wins and one is told.
        const changed = await tx.user.updateMany({
          where: { id: user.id, status: "ACTIVE", passwordHash: user.passwordHash },
          data: { passwordHash },
        });
        if (changed.count !== 1) throw conflict("The password was changed meanwhile; sign in again.", "currentPassword");
        await revokeSessions(tx, user.id, now);
        await retireResets(tx, user.id, now);
      });
      await purgeUser(user.id);
      // After the revocation, so this sign-in is the one that stays; unless the password changed
      // again or the account closed since, which this sign-in must not outlive.
      const session = await auth.startSession(await prisma.user.findUniqueOrThrow({ where: { id: user.id } }), passwordHash);
      if (!session) throw conflict("The password was changed again or the account closed meanwhile; sign in again.");
      return session;
    },

    /**
     * Always true, answered before anything is looked up: neither the answer nor its timing says
     * whether the address has an account. The lookup and the mail run afterwards, in this
     * process's background queue.
     */
    requestPasswordReset(email: string): boolean {
      const normalized = email.trim().toLowerCase();
      deps.background.push(() => sendReset(normalized));
      return true;
    },

    async resetPassword(token: string, newPassword: string): Promise<boolean> {
      // Before the token is looked up; the rules that need the account follow.
      checkPasswordLength(newPassword, "newPassword");
      const row =
        token.length <= 100
          ? await prisma.passwordReset.findUnique({ where: { tokenHash: sha256(token) }, include: { user: true } })
          : null;
      if (!row || row.usedAt || row.expiresAt.getTime() <= Date.now() || row.user.status !== "ACTIVE") {
        throw invalidResetToken();
      }
      checkNewPassword(newPassword, row.user.email, "newPassword");
      const passwordHash = await hash(newPassword);
      const now = new Date();
      await prisma.$transaction(async (tx) => {
        // Using the token is a conditional update: of two concurrent uses exactly one succeeds.
        const used = await tx.passwordReset.updateMany({
          where: { id: row.id, usedAt: null, expiresAt: { gt: now } },
          data: { usedAt: now },
        });
        if (used.count !== 1) throw invalidResetToken();
        await tx.user.update({ where: { id: row.userId }, data: { passwordHash } });
        await revokeSessions(tx, row.userId, now);
        await retireResets(tx, row.userId, now);
      });
      await purgeUser(row.userId);
      return true;
    },

    setUserStatus: (viewer: Viewer, id: string, status: UserStatus) => adminChange(viewer, id, { status }),

    setUserRoles(viewer: Viewer, id: string, roles: readonly Role[]): Promise<User> {
      if (roles.length === 0) throw badUserInput("roles must name at least one role.", "roles");
      return adminChange(viewer, id, { roles: [...new Set(roles)].sort() });
    },
  };
}

export type AccountService = ReturnType<typeof accountService>;
