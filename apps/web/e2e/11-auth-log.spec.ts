// "My internet does not connect": support has the customer's page open; the customer's
// router sends a real Access-Request with a wrong password to the running collector; the
// page's Login attempts panel shows "Wrong password" (with what to do) without a reload;
// then the NOC auth-log page, filtered to rejects for that user name, lists the attempt.
// The packet is built here (apps/web may not import @isp/network): PAP + Message-Authenticator.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { join } from "node:path";
import { DEMO_NAS, DEMO_SUBSCRIBER } from "@isp/db/seed";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

test.afterAll(closeDb);

const collectorHost = "127.0.0.1";
const authPort = Number(process.env.RADIUS_AUTH_PORT);

const attr = (type: number, value: Buffer) => Buffer.concat([Buffer.from([type, value.length + 2]), value]);
const text = (s: string) => Buffer.from(s, "utf8");
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const ipv4 = (ip: string) => Buffer.from(ip.split(".").map(Number));

/** Access-Request, PAP (RFC 2865 5.2), Message-Authenticator first (RFC 3579 3.2). */
function accessRequest(id: number, secret: string, nasIp: string, username: string, password: string, mac: string): { packet: Buffer; authenticator: Buffer } {
  const authenticator = randomBytes(16);
  const pw = Buffer.alloc(Math.ceil(Buffer.byteLength(password) / 16) * 16);
  pw.write(password);
  const hidden = Buffer.alloc(pw.length);
  let prev = authenticator;
  for (let i = 0; i < pw.length; i += 16) {
    const b = createHash("md5").update(secret).update(prev).digest();
    for (let j = 0; j < 16; j++) hidden[i + j] = pw[i + j]! ^ b[j]!;
    prev = hidden.subarray(i, i + 16);
  }
  const packet = Buffer.concat([
    Buffer.from([1, id, 0, 0]),
    authenticator,
    attr(80, Buffer.alloc(16)),
    attr(1, text(username)),
    attr(2, hidden),
    attr(4, ipv4(nasIp)),
    attr(31, text(mac)), // Calling-Station-Id
    attr(61, u32(15)), // NAS-Port-Type Ethernet (PPPoE)
  ]);
  packet.writeUInt16BE(packet.length, 2);
  createHmac("md5", secret).update(packet).digest().copy(packet, 22);
  return { packet, authenticator };
}

/** The authenticated reply's code, or null when nothing came back. */
async function exchange(sock: Socket, secret: string, id: number, built: { packet: Buffer; authenticator: Buffer }, timeoutMs = 3000): Promise<number | null> {
  return new Promise((resolve) => {
    const done = (code: number | null) => {
      clearTimeout(timer);
      sock.off("message", onMessage);
      resolve(code);
    };
    const onMessage = (msg: Buffer) => {
      if (msg.length < 20 || msg[1] !== id) return;
      const expected = createHash("md5").update(msg.subarray(0, 4)).update(built.authenticator).update(msg.subarray(20)).update(secret).digest();
      if (!expected.equals(msg.subarray(4, 20))) return;
      done(msg[0]!);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("message", onMessage);
    sock.send(built.packet, authPort, collectorHost);
  });
}

test("support sees a wrong-password login appear on the subscriber page; the NOC auth log lists it", async ({ page }) => {
  test.setTimeout(120_000);
  expect(authPort, "RADIUS_AUTH_PORT from e2e/run.mjs").toBeGreaterThan(0);
  // An active subscriber other than the demo one (other specs dial and disconnect that one);
  // the newest, as the simulator dials the oldest ones (apps/collector/src/dev/simulate.ts).
  const { rows } = await db().query<{ id: number; account_no: string; pppoe_username: string }>(
    "SELECT id, account_no, pppoe_username FROM subscribers WHERE status = 'active' AND pppoe_username <> $1 ORDER BY id DESC LIMIT 1",
    [DEMO_SUBSCRIBER.username],
  );
  const sub = rows[0]!;
  expect(sub).toBeTruthy();
  const { rows: routers } = await db().query<{ name: string; secret: string }>("SELECT name, radius_secret AS secret FROM routers WHERE host(ip_address) = $1", [DEMO_NAS.ip]);
  const nas = routers[0]!;
  const mac = `02:e2:e0:${randomBytes(3).toString("hex").match(/../g)!.join(":")}`;

  await login(page, "support");
  await page.goto(`/subscribers/${sub.id}`);
  await expect(page.getByTestId("profile-account")).toHaveText(sub.account_no);
  const panel = page.getByTestId("auth-log-panel");
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId("auth-log")).toBeVisible();
  const fromThisTest = panel.locator('[data-testid="auth-attempt"]').filter({ hasText: mac });
  await expect(fromThisTest).toHaveCount(0);

  // The customer's router tries with a wrong password: the collector answers Access-Reject.
  const sock = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(0, DEMO_NAS.ip, () => resolve());
  });
  const sentAt = Date.now();
  try {
    const id = randomBytes(1)[0]!;
    const code = await exchange(sock, nas.secret, id, accessRequest(id, nas.secret, DEMO_NAS.ip, sub.pppoe_username, "definitely-not-the-password", mac));
    expect(code).toBe(3);
  } finally {
    sock.close();
  }

  // No reload: the panel polls and the attempt appears, in words for the caller.
  const attempt = fromThisTest.first();
  await expect(attempt).toBeVisible({ timeout: 15_000 });
  const shownAfterMs = Date.now() - sentAt;
  await expect(attempt).toHaveAttribute("data-result", "reject");
  await expect(attempt.getByTestId("auth-attempt-reason")).toHaveText("Wrong password");
  await expect(attempt.getByTestId("auth-attempt-hint")).toContainText("PPPoE password");
  await expect(attempt).toContainText(nas.name);
  await expect(attempt).toContainText("PKT");
  await expect(attempt).toContainText("pap");
  // The newest attempt is the headline.
  await expect(panel.getByTestId("auth-log-latest")).toContainText("Last login failed");
  await expect(panel.getByTestId("auth-log-latest")).toContainText("Wrong password");
  console.log(`[11-auth-log] attempt shown ${shownAfterMs} ms after the Access-Request`);
  await page.screenshot({ path: join(artifactsDir, "auth-log-subscriber.png"), fullPage: true });

  // The NOC page (support may read it): rejects for this user name.
  await page.getByRole("link", { name: "Auth log", exact: true }).click();
  await expect(page).toHaveURL(/\/noc\/auth-log/);
  await expect(page.getByTestId("summary-rejects")).toHaveText(/^[1-9]\d*$/);
  await page.getByTestId("filter-result").selectOption("reject");
  await page.getByTestId("filter-user").fill(sub.pppoe_username);
  await page.getByTestId("filter-apply").click();
  await expect(page).toHaveURL(/result=reject/);
  const row = page.locator(`[data-testid="auth-log-row"][data-username="${sub.pppoe_username}"]`).filter({ hasText: mac });
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute("data-reason", "wrong_password");
  await expect(row).toContainText("Wrong password");
  await expect(row).toContainText(nas.name);
  // Every listed row matches the filter.
  const results = await page.getByTestId("auth-log-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-result")));
  expect(results.length).toBeGreaterThan(0);
  expect(new Set(results)).toEqual(new Set(["reject"]));
  await page.screenshot({ path: join(artifactsDir, "auth-log-noc.png"), fullPage: true });
});

test("dealers get no auth-log page", async ({ page }) => {
  await login(page, "dealer");
  await page.goto("/noc/auth-log");
  await expect(page).toHaveURL(/\/subscribers/);
  await expect(page.getByRole("link", { name: "Auth log", exact: true })).toHaveCount(0);
});
