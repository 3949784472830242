import { createHash, randomBytes } from "node:crypto";
import { badUserInput } from "@catalog/common";

/** Longer passwords are refused before hashing: argon2 over megabytes is a denial of service. */
export const MAX_PASSWORD = 256;
export const MIN_PASSWORD = 10;

/** Refresh tokens and reset tokens are 256 random bits, stored only as this hash. */
export const sha256 = (token: string) => createHash("sha256").update(token).digest("hex");

export const newOpaqueToken = () => randomBytes(32).toString("base64url");

/** The length rule alone: checkable before anything is looked up. */
export function checkPasswordLength(password: string, field: string): void {
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw badUserInput(`password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters.`, field);
  }
}

/** Every password a user chooses (register, changePassword, resetPassword) follows the same rules. */
export function checkNewPassword(password: string, email: string, field: string): void {
  checkPasswordLength(password, field);
  const lowered = password.toLowerCase();
  if (lowered === email || lowered === email.split("@")[0]) {
    throw badUserInput("password must not be the email address.", field);
  }
}
