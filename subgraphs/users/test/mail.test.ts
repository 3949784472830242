import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@catalog/common";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailer, fileMailer, smtpMailer } from "../src/mailer.ts";
import { usersSettings } from "../src/settings.ts";

const logger = createLogger("test", "silent");
const FROM = "Catalog <no-reply@catalog.example>";
const MESSAGE = { to: "grace@test.example", subject: "Reset your password", text: "Open https://shop.example/reset?token=abc123\n" };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "catalog-mail-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Received {
  from: string | undefined;
  to: string[];
  user: string | undefined;
  raw: string;
}

/** A real SMTP server in this process (no TLS: loopback only), resolving each message as it arrives. */
async function smtpServer(credentials?: { username: string; password: string }) {
  const messages: Received[] = [];
  const waiting: ((message: Received) => void)[] = [];
  const server = new SMTPServer({
    disabledCommands: credentials ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    allowInsecureAuth: true,
    authOptional: !credentials,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === credentials?.username && auth.password === credentials?.password) callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const message: Received = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          raw: Buffer.concat(chunks).toString("utf8"),
        };
        messages.push(message);
        waiting.shift()?.(message);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    next: () => new Promise<Received>((resolve) => waiting.push(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    messages,
  };
}

describe("mailers", () => {
  it("the development mailer writes each message, complete, as an .eml file into its folder", async () => {
    const folder = path.join(dir, "dev", "nested");
    const mailer = fileMailer(folder, FROM, logger);
    await mailer.send(MESSAGE);
    await mailer.send({ ...MESSAGE, to: "ada@test.example" });
    await mailer.close();
    const all = (await readdir(folder)).sort();
    const files = all.filter((f) => f.endsWith(".eml"));
    expect(files).toHaveLength(2);
    // Each beside its plain text, where a long link is whole (the .eml body is quoted-printable).
    expect(all.filter((f) => f.endsWith(".txt"))).toEqual(files.map((f) => f.replace(/\.eml$/, ".txt")));
    const long = `https://shop.example/reset?token=${"x".repeat(80)}`;
    await fileMailer(folder, FROM, logger).send({ ...MESSAGE, to: "long@test.example", text: `Choose a new one here:\n\n${long}\n` });
    const plain = await Promise.all((await readdir(folder)).filter((f) => f.endsWith(".txt")).map((f) => readFile(path.join(folder, f), "utf8")));
    expect(plain.find((t) => t.startsWith("To: long@test.example\n"))).toContain(`\n${long}\n`);
    const texts = await Promise.all(files.map((f) => readFile(path.join(folder, f), "utf8")));
    const grace = texts.find((t) => /^To: grace@test\.example$/m.test(t))!;
    expect(grace).toMatch(/^From: Catalog <no-reply@catalog\.example>$/m);
    expect(grace).toMatch(/^Subject: Reset your password$/m);
    expect(grace).toMatch(/^Message-ID: </m);
    expect(grace).toContain("https://shop.example/reset?token=abc123");
    expect(texts.some((t) => /^To: ada@test\.example$/m.test(t))).toBe(true);
  });

  it("the SMTP adapter delivers to a real SMTP server", async () => {
    const server = await smtpServer();
    const mailer = smtpMailer(`smtp://127.0.0.1:${server.port}`, FROM, logger);
    try {
      const arrived = server.next();
      await mailer.send(MESSAGE);
      const message = await arrived;
      expect(message.from).toBe("no-reply@catalog.example");
      expect(message.to).toEqual(["grace@test.example"]);
      expect(message.raw).toMatch(/^Subject: Reset your password\r?$/m);
      expect(message.raw).toContain("https://shop.example/reset?token=abc123");
    } finally {
      await mailer.close();
      await server.close();
    }
  });

  it("signs in with the credentials in SMTP_URL, and a refused login fails the send", async () => {
    const server = await smtpServer({ username: "mailer", password: "s3cret" });
    const good = smtpMailer(`smtp://mailer:s3cret@127.0.0.1:${server.port}`, FROM, logger);
    const bad = smtpMailer(`smtp://mailer:wrong@127.0.0.1:${server.port}`, FROM, logger);
    try {
      const arrived = server.next();
      await good.send(MESSAGE);
      expect((await arrived).user).toBe("mailer");
      await expect(bad.send(MESSAGE)).rejects.toThrow(/Invalid username or password|auth/i);
      expect(server.messages).toHaveLength(1);
    } finally {
      await Promise.all([good.close(), bad.close()]);
      await server.close();
    }
  });

  it("configuration picks the adapter: SMTP_URL set sends over SMTP, else files under MAIL_DIR (default <DATA_DIR>/mail)", () => {
    const defaults = usersSettings({ DATA_DIR: "/srv/catalog" });
    expect(defaults).toMatchObject({ mailDir: path.join("/srv/catalog", "mail"), smtpUrl: undefined, passwordResetTtlMinutes: 30 });
    expect(createMailer(defaults, logger).kind).toBe("file");
    const smtp = usersSettings({ SMTP_URL: "smtps://u:p@smtp.example.com:465", MAIL_FROM: "Shop <shop@example.com>" });
    expect(createMailer(smtp, logger).kind).toBe("smtp");
    expect(() => usersSettings({ SMTP_URL: "http://smtp.example.com" })).toThrow(/SMTP_URL/);
    expect(() => usersSettings({ PASSWORD_RESET_TTL_MINUTES: "0" })).toThrow(/PASSWORD_RESET_TTL_MINUTES/);
  });
});
