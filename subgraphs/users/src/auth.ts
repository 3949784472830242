import { randomBytes, randomUUID } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { badUserInput, ErrorCode, mapPrismaError, type TokenIssuer } from "@catalog/common";
import { GraphQLError } from "graphql";
import { z } from "zod";
import { checkNewPassword, MAX_PASSWORD, MIN_PASSWORD, newOpaqueToken, sha256 } from "./passwords.ts";
import type { Tx, User, UsersPrisma } from "./prisma.ts";

export interface AuthPayload {
  accessToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  user: User;
}

const invalidCredentials = () =>
  new GraphQLError("Email or password is incorrect.", { extensions: { code: ErrorCode.UNAUTHENTICATED } });
const invalidRefreshToken = () =>
  new GraphQLError("The refresh token is invalid, expired or revoked; sign in again.", {
    extensions: { code: ErrorCode.UNAUTHENTICATED },
  });

const registerSchema = z.object({
  email: z.string().trim().toLowerCase().max(254).pipe(z.email()),
  password: z.string().min(MIN_PASSWORD).max(MAX_PASSWORD),
  firstName: z.string().trim().min(1).max(100),
  lastName: z.string().trim().min(1).max(100),
});

/**
 * A fixed hash verified whenever the email is unknown, so an unknown email costs the same argon2
 * work as a wrong password and response time does not tell which accounts exist.
 */
let dummyHash: Promise<string> | undefined;
const timingDummy = () => (dummyHash ??= hash(randomBytes(24).toString("base64url")));

export function authService(prisma: UsersPrisma, issuer: TokenIssuer, onSignedIn: (userId: string) => void) {
  /**
   * `expiresAt` is the sign-in's: rotation hands out new tokens, never more time, so a sign-in
   * ends REFRESH_TOKEN_TTL_SECONDS after the password was checked however often it is refreshed.
   */
  async function issue(
    user: User,
    familyId: string,
    expiresAt = new Date(Date.now() + issuer.refreshTokenTtlSeconds * 1000),
    db: Pick<UsersPrisma, "refreshToken"> = prisma,
  ): Promise<AuthPayload> {
    const refreshToken = newOpaqueToken();
    await db.refreshToken.create({ data: { userId: user.id, familyId, tokenHash: sha256(refreshToken), expiresAt } });
    const access = issuer.signAccessToken(user);
    onSignedIn(user.id);
    return {
      accessToken: access.token,
      tokenType: "Bearer",
      expiresIn: access.expiresIn,
      refreshToken,
      refreshTokenExpiresAt: expiresAt,
      user,
    };
  }

  /**
   * Issues a sign-in only if the user row, read under a lock in the same transaction, is still
   * ACTIVE with the password hash the caller verified (null otherwise). The lock (FOR SHARE)
   * conflicts with the row lock every password change, reset and admin status change takes by
   * updating the row, so either that change commits first and this sees it, or this commits
   * first and the change's revocation (a later statement of its transaction) sees this token.
   * Without it a sign-in whose argon2 check overlapped a password change kept a live token.
   */
  const issueIfCurrent = (user: User, verifiedHash: string): Promise<AuthPayload | null> =>
    prisma.$transaction(async (tx) => {
      const current = await lockUser(tx, user.id);
      if (!current || current.status !== "ACTIVE" || current.passwordHash !== verifiedHash) return null;
      return issue(user, randomUUID(), undefined, tx);
    });

  /**
   * Ends a sign-in: every token of its family. Under the user row's lock, like every revocation: a
   * rotation in the family either committed first (its successor is revoked here) or waits for
   * this and then finds its token revoked. Without the lock, an UPDATE that waited on the rotated
   * token's row skipped the successor its snapshot could not see.
   */
  const revokeFamily = (row: { userId: string; familyId: string }) =>
    prisma.$transaction(async (tx) => {
      await lockUserForChange(tx, row.userId);
      await tx.refreshToken.updateMany({ where: { familyId: row.familyId, revokedAt: null }, data: { revokedAt: new Date() } });
    });

  return {
    async register(input: unknown): Promise<AuthPayload> {
      const parsed = registerSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = String(issue?.path[0] ?? "input");
        const message =
          field === "password"
            ? `password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters.`
            : field === "email"
              ? "email is not a valid email address."
              : `${field} must be 1 to 100 characters.`;
        throw badUserInput(message, `input.${field}`);
      }
      const { email, password, firstName, lastName } = parsed.data;
      checkNewPassword(password, email, "input.password");
      let user: User;
      try {
        user = await prisma.user.create({
          data: { email, firstName, lastName, passwordHash: await hash(password), roles: ["CUSTOMER"] },
        });
      } catch (error) {
        // Says no more than that this address cannot be used: not whether the account is
        // active, deleted or staff, and nothing about it.
        mapPrismaError(error, { unique: () => "This email address cannot be used to register." });
      }
      return issue(user, randomUUID());
    },

    async login(email: string, password: string): Promise<AuthPayload> {
      const normalized = email.trim().toLowerCase();
      const user =
        normalized.length <= 254 && password.length <= MAX_PASSWORD
          ? await prisma.user.findUnique({ where: { email: normalized } })
          : null;
      // Always one argon2 verification, whether or not the account exists.
      const matches = await verify(user?.passwordHash ?? (await timingDummy()), password.slice(0, MAX_PASSWORD)).catch(
        () => false,
      );
      if (!user || !matches || user.status !== "ACTIVE") throw invalidCredentials();
      // The same answer when the password changed or the account closed during the check.
      const payload = await issueIfCurrent(user, user.passwordHash);
      if (!payload) throw invalidCredentials();
      return payload;
    },

    async refresh(token: string): Promise<AuthPayload> {
      const row = token.length <= 100 ? await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(token) } }) : null;
      if (!row) throw invalidRefreshToken();
      if (row.revokedAt) {
        // A rotated token came back: either the client replayed it or someone stole it. Either
        // way nobody may keep using this sign-in.
        await revokeFamily(row);
        throw invalidRefreshToken();
      }
      if (row.expiresAt.getTime() <= Date.now()) throw invalidRefreshToken();
      // Marking the old token used and storing its successor commit together. A concurrent use
      // of the same token waits on the row lock, then finds it used, and revokes the family
      // after the successor exists, so the successor is revoked too: a replay race leaves no
      // live token behind. The user row is locked first (FOR SHARE, as in issueIfCurrent): a
      // password change, reset or deactivation either commits before (then the old token is
      // revoked and the conditional update below decides: no successor) or waits for this
      // commit (then its revocation sees the successor). Without the lock, a revocation that
      // waited on the old token's row lock skipped the successor it could not yet see.
      const payload = await prisma.$transaction(async (tx) => {
        const current = await lockUser(tx, row.userId);
        if (!current || current.status !== "ACTIVE") return null;
        const rotated = await tx.refreshToken.updateMany({
          where: { id: row.id, revokedAt: null },
          data: { revokedAt: new Date() },
        });
        if (rotated.count !== 1) return null;
        const user = await tx.user.findUniqueOrThrow({ where: { id: row.userId } });
        return issue(user, row.familyId, row.expiresAt, tx);
      });
      if (!payload) {
        await revokeFamily(row);
        throw invalidRefreshToken();
      }
      return payload;
    },

    /**
     * A new sign-in for a user whose credentials were just checked elsewhere (changePassword sets
     * `passwordHash`); null when the password changed again or the account closed since.
     */
    startSession: (user: User, passwordHash: string) => issueIfCurrent(user, passwordHash),

    /** Verifies a password against a stored hash (false on any malformed hash or input). */
    verifyPassword: (passwordHash: string, password: string) =>
      password.length <= MAX_PASSWORD ? verify(passwordHash, password).catch(() => false) : Promise.resolve(false),

    async logout(token: string): Promise<boolean> {
      const row = token.length <= 100 ? await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(token) } }) : null;
      if (row) await revokeFamily(row);
      return true;
    },
  };
}

/**
 * Locks the user's row as a change of it does (FOR NO KEY UPDATE), without changing it: a
 * revocation or a reset request serializes with sign-ins (lockUser) and with other changes.
 */
export async function lockUserForChange(tx: Tx, userId: string): Promise<void> {
  await tx.$queryRaw`SELECT 1 FROM users WHERE id = ${userId}::uuid FOR NO KEY UPDATE`;
}

/** The user's row read under FOR SHARE: see issueIfCurrent. */
async function lockUser(tx: Tx, userId: string): Promise<{ passwordHash: string; status: string } | undefined> {
  const rows = await tx.$queryRaw<{ passwordHash: string; status: string }[]>`
    SELECT password_hash AS "passwordHash", status::text AS status FROM users WHERE id = ${userId}::uuid FOR SHARE`;
  return rows[0];
}

export type AuthService = ReturnType<typeof authService>;
