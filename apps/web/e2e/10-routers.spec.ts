// Bringing a new BNG online without SQL: an admin adds a router on the Routers page, and the
// running collector answers a real Access-Request from that router's address at once (the
// routers trigger's NOTIFY); accounting from it opens a session, so deactivating asks for
// confirmation with the count; inactive, the same packets are dropped like an unknown NAS's.
// The packets are built here (apps/web may not import @isp/network): PAP + Message-Authenticator.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { join } from "node:path";
import { DEMO_SUBSCRIBER } from "@isp/db/seed";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

test.afterAll(closeDb);

const collectorHost = "127.0.0.1";
const authPort = Number(process.env.RADIUS_AUTH_PORT);
const acctPort = Number(process.env.RADIUS_ACCT_PORT);

const attr = (type: number, value: Buffer) => Buffer.concat([Buffer.from([type, value.length + 2]), value]);
const text = (s: string) => Buffer.from(s, "utf8");
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const ipv4 = (ip: string) => Buffer.from(ip.split(".").map(Number));

function withLength(code: number, id: number, authenticator: Buffer, attrs: Buffer[]): Buffer {
  const pkt = Buffer.concat([Buffer.from([code, id, 0, 0]), authenticator, ...attrs]);
  pkt.writeUInt16BE(pkt.length, 2);
  return pkt;
}

/** Access-Request, PAP (RFC 2865 5.2), Message-Authenticator first (RFC 3579 3.2). */
function accessRequest(id: number, secret: string, nasIp: string): { packet: Buffer; authenticator: Buffer } {
  const authenticator = randomBytes(16);
  const pw = Buffer.alloc(Math.ceil(Buffer.byteLength(DEMO_SUBSCRIBER.password) / 16) * 16);
  pw.write(DEMO_SUBSCRIBER.password);
  const hidden = Buffer.alloc(pw.length);
  let prev = authenticator;
  for (let i = 0; i < pw.length; i += 16) {
    const b = createHash("md5").update(secret).update(prev).digest();
    for (let j = 0; j < 16; j++) hidden[i + j] = pw[i + j]! ^ b[j]!;
    prev = hidden.subarray(i, i + 16);
  }
  const packet = withLength(1, id, authenticator, [
    attr(80, Buffer.alloc(16)),
    attr(1, text(DEMO_SUBSCRIBER.username)),
    attr(2, hidden),
    attr(4, ipv4(nasIp)),
    attr(61, u32(15)), // NAS-Port-Type Ethernet (PPPoE)
  ]);
  createHmac("md5", secret).update(packet).digest().copy(packet, 22);
  return { packet, authenticator };
}

/** Accounting-Request (RFC 2866 3): Request Authenticator = MD5(packet with zeros + secret). */
function accountingRequest(id: number, secret: string, nasIp: string, status: "start" | "stop", sessionId: string): { packet: Buffer; authenticator: Buffer } {
  const attrs = [attr(40, u32(status === "start" ? 1 : 2)), attr(44, text(sessionId)), attr(1, text(DEMO_SUBSCRIBER.username)), attr(4, ipv4(nasIp)), attr(61, u32(15))];
  if (status === "stop") attrs.push(attr(46, u32(5)), attr(49, u32(1)));
  const packet = withLength(4, id, Buffer.alloc(16), attrs);
  createHash("md5").update(packet).update(secret).digest().copy(packet, 4);
  return { packet, authenticator: packet.subarray(4, 20) };
}

let nextId = 0;

/** Sends from the bound socket; the authenticated reply's code, or null when nothing came back. */
async function exchange(
  sock: Socket,
  port: number,
  secret: string,
  build: (id: number) => { packet: Buffer; authenticator: Buffer },
  timeoutMs = 1500,
): Promise<number | null> {
  const id = nextId++ & 0xff;
  const { packet, authenticator } = build(id);
  return new Promise((resolve) => {
    const done = (code: number | null) => {
      clearTimeout(timer);
      sock.off("message", onMessage);
      resolve(code);
    };
    const onMessage = (msg: Buffer) => {
      if (msg.length < 20 || msg[1] !== id) return;
      // Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
      const expected = createHash("md5").update(msg.subarray(0, 4)).update(authenticator).update(msg.subarray(20)).update(secret).digest();
      if (!expected.equals(msg.subarray(4, 20))) return;
      done(msg[0]!);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("message", onMessage);
    sock.send(packet, port, collectorHost);
  });
}

/** A loopback address no router uses yet. */
async function freeLoopback(): Promise<string> {
  const used = new Set((await db().query<{ ip: string }>("SELECT host(ip_address) AS ip FROM routers")).rows.map((r) => r.ip));
  for (let n = 200; n < 255; n++) if (!used.has(`127.0.0.${n}`)) return `127.0.0.${n}`;
  throw new Error("no free 127.0.0.x address");
}

test("admin adds a router: the collector answers it at once; deactivated (open session confirmed), it is dropped", async ({ page }) => {
  test.setTimeout(120_000);
  expect(authPort, "RADIUS_AUTH_PORT from e2e/run.mjs").toBeGreaterThan(0);
  const nasIp = await freeLoopback();
  const name = `E2E-NAS-${nasIp.split(".")[3]}`;
  const sock = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(0, nasIp, () => resolve());
  });
  try {
    // Before it exists the collector ignores the address.
    expect(await exchange(sock, authPort, "not-yet-a-router-secret", (id) => accessRequest(id, "not-yet-a-router-secret", nasIp))).toBeNull();

    // A NOC desk screen, not the wall: the list must fit without scrolling sideways.
    await page.setViewportSize({ width: 1366, height: 900 });
    await login(page, "admin");
    await page.getByRole("link", { name: "Routers", exact: true }).click();
    await expect(page).toHaveURL(/\/routers$/);
    await expect(page.getByTestId("router-row").filter({ hasText: "KHI-BNG-01" })).toBeVisible();

    await page.getByTestId("router-add").click();
    const form = page.getByTestId("router-form");
    await form.getByTestId("router-name").fill(name);
    await form.getByTestId("router-ip").fill(nasIp);
    await form.getByTestId("router-location").fill("Faisalabad");
    // A short secret is refused with the rule, before anything is sent.
    await form.getByTestId("router-secret-input").fill("too-short");
    await form.getByTestId("router-save").click();
    await expect(form.getByTestId("router-form-error")).toContainText("at least 16 characters");
    await form.getByTestId("router-secret-generate").click();
    let firstSecret = "";
    let secret = await form.getByTestId("router-secret-input").inputValue();
    expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
    // Turning Message-Authenticator off warns about BlastRADIUS; it stays on here.
    await form.getByTestId("router-require-ma").uncheck();
    await expect(form.getByTestId("router-ma-warning")).toContainText("BlastRADIUS");
    await page.screenshot({ path: join(artifactsDir, "routers-form.png"), fullPage: true });
    await form.getByTestId("router-require-ma").check();
    await expect(form.getByTestId("router-ma-warning")).toHaveCount(0);
    await form.getByTestId("router-save").click();
    await expect(page.getByTestId("routers-message")).toContainText(`Router ${name} added`);
    const row = page.locator(`[data-testid="router-row"][data-name="${name}"]`);
    await expect(row).toHaveAttribute("data-active", "true");
    await expect(row).toContainText(nasIp);
    await expect(row.getByTestId("router-secret")).toContainText("set");
    await page.screenshot({ path: join(artifactsDir, "routers-added.png"), fullPage: true });
    const table = page.getByTestId("routers-table");
    expect(await table.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);

    // The running collector answers the new NAS (Accept or Reject for the user, not silence).
    let answer: number | null = null;
    await expect
      .poll(async () => (answer = await exchange(sock, authPort, secret, (id) => accessRequest(id, secret, nasIp))), { timeout: 15_000 })
      .not.toBeNull();
    expect([2, 3]).toContain(answer);

    // A new secret from the edit form: the stored one is never shown; the collector switches at once.
    await row.getByTestId("router-edit").click();
    const edit = page.getByTestId("router-form");
    await expect(edit.getByTestId("router-secret-input")).toHaveValue("");
    await expect(edit.getByTestId("router-secret-input")).toHaveAttribute("placeholder", "unchanged");
    await edit.getByTestId("router-secret-generate").click();
    const oldSecret = secret;
    firstSecret = oldSecret;
    secret = await edit.getByTestId("router-secret-input").inputValue();
    expect(secret).not.toBe(oldSecret);
    await edit.getByTestId("router-save").click();
    await expect(page.getByTestId("routers-message")).toContainText(`Router ${name} saved`);
    await expect.poll(() => exchange(sock, authPort, secret, (id) => accessRequest(id, secret, nasIp)), { timeout: 15_000 }).not.toBeNull();
    // Signed with the old secret: dropped (bad Message-Authenticator), not answered.
    expect(await exchange(sock, authPort, oldSecret, (id) => accessRequest(id, oldSecret, nasIp), 2000)).toBeNull();
    // The row links to the router's login attempts, where that drop is (the wrong-secret signature).
    await expect(row.getByTestId("router-auth-log")).toHaveAttribute("href", new RegExp(`^/noc/auth-log\\?router=\\d+$`));
    const logPage = await page.context().newPage();
    await logPage.goto((await row.getByTestId("router-auth-log").getAttribute("href"))!);
    await expect(logPage.getByTestId("filter-router")).not.toHaveValue("");
    await expect(logPage.locator('[data-testid="auth-log-row"][data-result="drop"]').first()).toBeVisible({ timeout: 15_000 });
    await logPage.close();

    // Accounting from it opens a session; the page shows it.
    const acctSessionId = `e2e-${randomBytes(4).toString("hex")}`;
    expect(await exchange(sock, acctPort, secret, (id) => accountingRequest(id, secret, nasIp, "start", acctSessionId), 5000)).toBe(5);
    const routerId = (await db().query<{ id: number }>("SELECT id FROM routers WHERE name = $1", [name])).rows[0]!.id;
    await expect
      .poll(async () => (await db().query("SELECT 1 FROM radius_sessions WHERE router_id = $1 AND acct_session_id = $2 AND status = 'active'", [routerId, acctSessionId])).rowCount, { timeout: 15_000 })
      .toBe(1);
    await page.reload();
    await expect(row.getByTestId("router-open-sessions")).toHaveText("1");

    // Deactivate: the open session is counted and must be confirmed.
    await row.getByTestId("router-deactivate").click();
    const confirm = page.getByTestId("deactivate-confirm");
    await expect(confirm.getByTestId("deactivate-open-sessions")).toHaveText("1");
    await page.screenshot({ path: join(artifactsDir, "routers-deactivate-confirm.png"), fullPage: true });
    await confirm.getByTestId("deactivate-confirm-yes").click();
    await expect(page.getByTestId("routers-message")).toContainText(`${name} deactivated`);
    await expect(row).toHaveAttribute("data-active", "false");

    // Inactive: dropped like an unknown NAS. Wait until the collector has reloaded, then once more to be sure.
    await expect.poll(() => exchange(sock, authPort, secret, (id) => accessRequest(id, secret, nasIp)), { timeout: 15_000 }).toBeNull();
    expect(await exchange(sock, authPort, secret, (id) => accessRequest(id, secret, nasIp), 3000)).toBeNull();

    // Audited, without the secret.
    const audit = await db().query<{ action: string; actor: string; details: unknown }>(
      "SELECT action, actor, details FROM audit_log WHERE entity_type = 'router' AND entity_id = $1 ORDER BY id",
      [String(routerId)],
    );
    expect(audit.rows.map((r) => [r.action, r.actor])).toEqual([
      ["router.created", "admin"],
      ["router.updated", "admin"],
      ["router.deactivated", "admin"],
    ]);
    expect(audit.rows[0]!.details).toMatchObject({ after: { name, ipAddress: nasIp, requireMessageAuthenticator: true }, secretChanged: true });
    expect(audit.rows[1]!.details).toEqual({ name, before: {}, after: {}, secretChanged: true });
    expect(audit.rows[2]!.details).toMatchObject({ openSessions: 1, after: { active: false } });
    expect(JSON.stringify(audit.rows)).not.toContain(secret);
    expect(JSON.stringify(audit.rows)).not.toContain(firstSecret);
    // The page never had the secret after the form closed.
    await page.reload();
    expect(await page.content()).not.toContain(secret);
    expect(await page.content()).not.toContain(firstSecret);

    // Clean up through the page: reactivate, then the NAS ends its session.
    await row.getByTestId("router-reactivate").click();
    await expect(row).toHaveAttribute("data-active", "true");
    await expect
      .poll(() => exchange(sock, acctPort, secret, (id) => accountingRequest(id, secret, nasIp, "stop", acctSessionId)), { timeout: 15_000 })
      .toBe(5);
  } finally {
    sock.close();
  }
});

test("the NOC reads the routers list without admin controls; support and dealers are sent away", async ({ page, browser }) => {
  await login(page, "noc");
  await page.getByRole("link", { name: "Routers", exact: true }).click();
  await expect(page.getByTestId("router-row").filter({ hasText: "KHI-BNG-01" })).toBeVisible();
  await expect(page.getByTestId("router-add")).toHaveCount(0);
  await expect(page.getByTestId("router-edit")).toHaveCount(0);
  await expect(page.getByTestId("router-deactivate")).toHaveCount(0);
  for (const who of ["support", "dealer"]) {
    const other = await (await browser.newContext()).newPage();
    await login(other, who);
    await expect(other.getByRole("link", { name: "Routers", exact: true })).toHaveCount(0);
    await other.goto("/routers");
    await expect(other).toHaveURL(/\/subscribers/);
    await other.context().close();
  }
});
