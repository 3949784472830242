import { createLogger } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "../../../test/support/fixtures.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";
import { accountService } from "../src/account.ts";
import type { AuthService } from "../src/auth.ts";
import type { BackgroundQueue } from "../src/background.ts";
import type { Mailer, MailMessage } from "../src/mailer.ts";
import { usersSubgraph } from "../src/module.ts";
import type { UsersPrisma } from "../src/prisma.ts";
import { usersSettings } from "../src/settings.ts";

let h: SubgraphHarness<UsersPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(usersSubgraph);
});
afterAll(async () => {
  await h?.close();
});

/** The account rules with a mailer the test controls, and a queue whose tasks the test awaits. */
function accounts(send: (message: MailMessage) => Promise<void>) {
  const tasks: Promise<void>[] = [];
  const background: BackgroundQueue = {
    push: (task) => tasks.push(task()) > 0,
    drain: async () => void (await Promise.allSettled(tasks)),
  };
  const mailer: Mailer = { kind: "file", send, close: async () => {} };
  const service = accountService(
    {
      prisma: h.prisma,
      cache: { invalidate: async () => {} },
      logger: createLogger("test", "silent"),
      settings: usersSettings({ PASSWORD_RESET_COOLDOWN_SECONDS: "60" }),
      mailer,
      background,
    },
    // requestPasswordReset never signs anyone in.
    {} as AuthService,
  );
  return { service, ran: () => Promise.allSettled(tasks.splice(0)) };
}

describe("password-reset mail", () => {
  it("a mailer failure leaves the earlier link working, drops the unsent one and does not start the cooldown", async () => {
    const user = await createUser(h.prisma);
    const ok = accounts(async () => {});
    ok.service.requestPasswordReset(user.email);
    await ok.ran();
    const [earlier] = await h.prisma.passwordReset.findMany({ where: { userId: user.id } });
    // Past the cooldown, moved back rather than waited out.
    await h.prisma.passwordReset.update({ where: { id: earlier!.id }, data: { createdAt: new Date(Date.now() - 61_000) } });

    const failing = accounts(async () => {
      throw new Error("mail server down");
    });
    failing.service.requestPasswordReset(user.email);
    const [outcome] = await failing.ran();
    expect(outcome!.status).toBe("rejected");
    const rows = await h.prisma.passwordReset.findMany({ where: { userId: user.id } });
    expect(rows.map((row) => [row.id, row.usedAt])).toEqual([[earlier!.id, null]]);

    // The mail goes out on the next request, and only then is the earlier link retired.
    const sent: MailMessage[] = [];
    const retry = accounts(async (message) => void sent.push(message));
    retry.service.requestPasswordReset(user.email);
    await retry.ran();
    expect(sent).toHaveLength(1);
    const after = await h.prisma.passwordReset.findMany({ where: { userId: user.id }, orderBy: { createdAt: "asc" } });
    expect(after).toHaveLength(2);
    expect(after[0]!.usedAt).not.toBeNull();
    expect(after[1]!.usedAt).toBeNull();
  });

  it("PASSWORD_RESET_COOLDOWN_SECONDS defaults to 60 and is validated", () => {
    expect(usersSettings({}).passwordResetCooldownSeconds).toBe(60);
    expect(usersSettings({ PASSWORD_RESET_COOLDOWN_SECONDS: "0" }).passwordResetCooldownSeconds).toBe(0);
    expect(() => usersSettings({ PASSWORD_RESET_COOLDOWN_SECONDS: "-1" })).toThrow(/PASSWORD_RESET_COOLDOWN_SECONDS/);
  });
});
