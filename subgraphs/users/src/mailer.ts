import { randomUUID } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@catalog/common";
import nodemailer from "nodemailer";
import type { UsersSettings } from "./settings.ts";

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Where the users subgraph sends mail (password resets). Implementations must not log the body: it holds tokens. */
export interface Mailer {
  readonly kind: "file" | "smtp";
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/**
 * Development mail: each message is written as an RFC 822 `.eml` file (open it with any mail
 * client) into `dir`. nodemailer composes the message, so the file is what SMTP would have sent.
 * The file appears complete or not at all (written beside, then renamed), so whoever watches the
 * folder (a developer, a test) never reads half a message.
 */
export function fileMailer(dir: string, from: string, logger: Logger): Mailer {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    kind: "file",
    async send(message) {
      const info = await composer.sendMail({ from, ...message });
      await mkdir(dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 8)}.eml`;
      const file = path.join(dir, name);
      // The text as written, beside the message: the .eml body is quoted-printable (as SMTP
      // sends it), which splits and escapes a long link; `cat` the .txt to follow it.
      await writeFile(file.replace(/\.eml$/, ".txt"), `To: ${message.to}\nSubject: ${message.subject}\n\n${message.text}`, { mode: 0o600 });
      await writeFile(`${file}.tmp`, info.message as Buffer, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
      logger.info({ file, subject: message.subject }, "mail written to file (development mailer; set SMTP_URL to send)");
    },
    async close() {
      composer.close();
    },
  };
}

/** Mail through an SMTP server, e.g. `smtps://user:pass@smtp.example.com:465` or `smtp://127.0.0.1:1025`. */
export function smtpMailer(url: string, from: string, logger: Logger): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    kind: "smtp",
    async send(message) {
      const info = await transport.sendMail({ from, ...message });
      logger.info({ messageId: info.messageId, subject: message.subject }, "mail sent");
    },
    async close() {
      transport.close();
    },
  };
}

/** SMTP when SMTP_URL is set, else the folder (MAIL_DIR). */
export function createMailer(settings: UsersSettings, logger: Logger): Mailer {
  const log = logger.child({ component: "mailer" });
  if (settings.smtpUrl) return smtpMailer(settings.smtpUrl, settings.mailFrom, log);
  if (settings.production) {
    log.warn({ dir: settings.mailDir }, "SMTP_URL is not set: password-reset mail is written to files, not sent");
  }
  return fileMailer(settings.mailDir, settings.mailFrom, log);
}
