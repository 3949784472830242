import path from "node:path";
import { parseEnv, REPO_ROOT } from "@catalog/common";
import { z } from "zod";

/** The users subgraph's own settings (accounts and mail), parsed once at build: a bad value stops the boot. */
const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATA_DIR: z.string().default(path.join(REPO_ROOT, ".data")),
  /** Where the development mailer writes each message as an .eml file (used when SMTP_URL is unset). */
  MAIL_DIR: z.string().min(1).optional(),
  /** smtp:// or smtps:// URL of the mail server (credentials in the URL); set, mail goes out through it. */
  SMTP_URL: z
    .url()
    .refine((url) => /^smtps?:\/\//.test(url), "must be an smtp:// or smtps:// URL")
    .optional(),
  MAIL_FROM: z.string().min(3).default("Catalog <no-reply@catalog.example>"),
  /** The reset link: the token is appended to it. */
  PASSWORD_RESET_URL: z.url().default("http://localhost:4000/reset-password?token="),
  PASSWORD_RESET_TTL_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
  /** At most one reset mail per account within this many seconds; later requests are answered and ignored. */
  PASSWORD_RESET_COOLDOWN_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
});

export interface UsersSettings {
  production: boolean;
  mailDir: string;
  smtpUrl: string | undefined;
  mailFrom: string;
  passwordResetUrl: string;
  passwordResetTtlMinutes: number;
  passwordResetCooldownSeconds: number;
}

export function usersSettings(env: Readonly<Record<string, string | undefined>>): UsersSettings {
  const parsed = parseEnv(schema, { ...env });
  return {
    production: parsed.NODE_ENV === "production",
    mailDir: parsed.MAIL_DIR ?? path.join(parsed.DATA_DIR, "mail"),
    smtpUrl: parsed.SMTP_URL,
    mailFrom: parsed.MAIL_FROM,
    passwordResetUrl: parsed.PASSWORD_RESET_URL,
    passwordResetTtlMinutes: parsed.PASSWORD_RESET_TTL_MINUTES,
    passwordResetCooldownSeconds: parsed.PASSWORD_RESET_COOLDOWN_SECONDS,
  };
}
