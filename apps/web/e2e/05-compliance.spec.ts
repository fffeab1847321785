import { readFileSync } from "node:fs";
import { join } from "node:path";
import { insertNatLog, type NatLogRow } from "@isp/db/nat-log";
import { DEMO_SUBSCRIBER } from "@isp/db/seed";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

// NAT records for the demo subscriber, stored the way the collector stores them
// (@isp/db/nat-log), two days back so the live specs never see the session. A port of its
// own per run, so a kept database (E2E_KEEP_DATABASE) never mixes runs.
const publicIp = "203.0.113.77";
const publicPort = 20_000 + Math.floor(Math.random() * 40_000);
const acctSessionId = `e2e-nat-${Date.now().toString(36)}`;
const mac = `4C:5E:0C:${[0, 0, 0].map(() => Math.floor(Math.random() * 256).toString(16).toUpperCase().padStart(2, "0")).join(":")}`;
// Whole minute plus 7 s: a datetime-local input keeps non-zero seconds as typed.
const natTime = new Date(Math.floor((Date.now() - 2 * 86_400_000) / 60_000) * 60_000 + 7_000);
const loginAt = new Date(natTime.getTime() - 3_600_000);
const logoffAt = new Date(natTime.getTime() + 3_600_000);

const pktInput = (d: Date) => new Date(d.getTime() + 5 * 3_600_000).toISOString().slice(0, 19);
const pkt = (d: Date) => `${pktInput(d).replace("T", " ")} PKT`;
const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;

let subscriber: { id: number; account_no: string; cnic: string; name: string };

test.beforeAll(async () => {
  const s = await db().query<{ id: number; account_no: string; cnic: string; name: string }>(
    "SELECT id, account_no, cnic, name FROM subscribers WHERE account_no = $1",
    [DEMO_SUBSCRIBER.accountNo],
  );
  subscriber = s.rows[0]!;
  const r = await db().query<{ id: number }>("SELECT id FROM routers WHERE ip_address = '127.0.0.1'::inet");
  const routerId = r.rows[0]!.id;
  await db().query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, calling_station_id, started_at, last_update_at, stopped_at, terminate_cause)
     VALUES ($1, $2, $3, $4, 'stopped', '100.64.20.9', $5, $6, $7, $7, 'User-Request')`,
    [routerId, acctSessionId, subscriber.id, DEMO_SUBSCRIBER.username, mac, loginAt, logoffAt],
  );
  const row = (over: Partial<NatLogRow>): NatLogRow => ({
    time: natTime,
    routerId,
    sourceIp: "127.0.0.1",
    event: "open",
    protocol: "tcp",
    privateIp: "100.64.20.9",
    privatePort: 51515,
    publicIp,
    publicPort,
    destIp: "40.127.110.237",
    destPort: 443,
    subscriberId: subscriber.id,
    acctSessionId,
    pppoeUser: DEMO_SUBSCRIBER.username,
    srcMac: mac,
    ...over,
  });
  await insertNatLog(db(), [row({}), row({ time: new Date(natTime.getTime() + 40_000), event: "close" })]);
});

test.afterAll(closeDb);

async function auditRows(action: string, actor: string): Promise<Array<{ details: { resultCount: number; query: { publicIp: string } } }>> {
  const { rows } = await db().query(
    "SELECT details FROM audit_log WHERE action = $1 AND actor = $2 AND entity_id = $3 AND (details->'query'->>'publicPort')::int = $4 ORDER BY id",
    [action, actor, publicIp, publicPort],
  );
  return rows;
}

test("a compliance officer finds who had the IP and port, exports CSV and a signed PDF, all audited", async ({ page }) => {
  await login(page, "compliance");
  await expect(page).toHaveURL(/\/compliance$/);

  // Bad input is named before anything is sent.
  await page.getByTestId("lookup-ip").fill("203.0.113.300");
  await page.getByTestId("lookup-submit").click();
  await expect(page.getByTestId("lookup-error")).toHaveText("Enter a valid IPv4 or IPv6 address");
  await page.getByTestId("lookup-ip").fill(publicIp);
  await page.getByTestId("mode-range").check();
  await page.getByTestId("lookup-from").fill(pktInput(logoffAt));
  await page.getByTestId("lookup-to").fill(pktInput(loginAt));
  await page.getByTestId("lookup-submit").click();
  await expect(page.getByTestId("lookup-error")).toHaveText("The range ends before it starts");

  // The question as a legal request asks it: this address and port, at this moment (PKT).
  await page.getByTestId("mode-at").check();
  await page.getByTestId("lookup-port").fill(String(publicPort));
  await page.getByTestId("lookup-at").fill(pktInput(natTime));
  await expect(page.getByTestId("lookup-at-utc")).toHaveText(`${pkt(natTime)} = ${utc(natTime)}`);
  await page.getByTestId("lookup-submit").click();
  await expect(page.getByTestId("lookup-error")).toHaveCount(0);
  const results = page.getByTestId("lookup-results");
  await expect(results).toHaveAttribute("data-count", "2");
  const first = page.getByTestId("nat-row").first();
  await expect(first).toHaveAttribute("data-account", DEMO_SUBSCRIBER.accountNo);
  await expect(first.getByTestId("nat-account")).toHaveText(DEMO_SUBSCRIBER.accountNo);
  await expect(first.getByTestId("nat-cnic")).toHaveText(subscriber.cnic);
  await expect(first).toContainText(pkt(natTime));
  await expect(first).toContainText(utc(natTime));
  await expect(first).toContainText(`login ${pkt(loginAt)}`);
  await expect(first).toContainText(`logoff ${pkt(logoffAt)}`);
  await expect(first).toContainText(mac);
  await page.screenshot({ path: join(artifactsDir, "compliance.png"), fullPage: true });

  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
  expect(csv.suggestedFilename()).toMatch(/^nat-lookup-203\.0\.113\.77-.*\.csv$/);
  const bytes = readFileSync((await csv.path())!);
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const lines = bytes.toString("utf8").slice(1).split("\r\n");
  expect(lines[0]).toMatch(/^time_pkt,time_utc,event,router,protocol,private_ip,private_port,public_ip,public_port,/);
  expect(lines).toHaveLength(4);
  expect(lines[1]).toContain(`${pkt(natTime)},${utc(natTime)},open,KHI-BNG-01,tcp,100.64.20.9,51515,${publicIp},${publicPort}`);
  expect(lines[1]).toContain(`${DEMO_SUBSCRIBER.accountNo},${subscriber.name.includes(",") ? `"${subscriber.name}"` : subscriber.name},${subscriber.cnic}`);
  expect(lines[1]).toContain(`${pkt(loginAt)},${utc(loginAt)},${pkt(logoffAt)},${utc(logoffAt)},${mac}`);

  await page.getByTestId("report-reference").fill("FIA/CCW/E2E/1");
  const [pdf] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-pdf").click()]);
  expect(pdf.suggestedFilename()).toBe("compliance-report-FIA-CCW-E2E-1.pdf");
  const pdfPath = (await pdf.path())!;
  expect(readFileSync(pdfPath).subarray(0, 5).toString()).toBe("%PDF-");

  // The downloaded report verifies against the ISP's key.
  await page.getByTestId("tab-verify").click();
  await expect(page.getByTestId("key-fingerprint")).toHaveText(/^SHA256:/);
  await page.getByTestId("verify-file").setInputFiles(pdfPath);
  await expect(page.getByTestId("verify-result")).toHaveAttribute("data-ok", "true");
  await expect(page.getByTestId("verify-result")).toContainText("FIA/CCW/E2E/1");

  // Session history for the same subscriber.
  await page.getByTestId("tab-sessions").click();
  await page.getByTestId("session-by").selectOption("mac");
  await page.getByTestId("session-value").fill(mac.toLowerCase());
  await page.getByTestId("session-submit").click();
  await expect(page.getByTestId("session-results")).toHaveAttribute("data-count", "1");
  await expect(page.getByTestId("session-row")).toContainText(DEMO_SUBSCRIBER.accountNo);

  // Every lookup and export left an audit row with the query and the count.
  const lookups = await auditRows("compliance.lookup", "compliance");
  expect(lookups).toHaveLength(1);
  expect(lookups[0]!.details).toMatchObject({ resultCount: 2, query: { publicIp, publicPort } });
  expect(await auditRows("compliance.export.csv", "compliance")).toHaveLength(1);
  const pdfAudit = await auditRows("compliance.export.pdf", "compliance");
  expect(pdfAudit).toHaveLength(1);
  expect(pdfAudit[0]!.details).toMatchObject({ resultCount: 2, reference: "FIA/CCW/E2E/1" });
});

test("support may not look up: the page says so and the server refuses", async ({ page }) => {
  await login(page, "support");
  await expect(page.getByRole("link", { name: "Compliance" })).toHaveCount(0);
  await page.goto("/compliance");
  await expect(page.getByTestId("compliance-forbidden")).toBeVisible();
  await expect(page.getByTestId("lookup-form")).toHaveCount(0);

  const from = new Date(natTime.getTime() - 60_000).toISOString();
  const to = new Date(natTime.getTime() + 60_000).toISOString();
  const res = await page.request.post("/api/trpc/compliance.lookup", { data: { publicIp, publicPort, from, to } });
  expect(res.status()).toBe(403);
  const csv = await page.request.get(`/api/compliance/export/csv?ip=${publicIp}&port=${publicPort}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  expect(csv.status()).toBe(403);
  expect(await auditRows("compliance.lookup", "support")).toHaveLength(0);
  expect(await auditRows("compliance.export.csv", "support")).toHaveLength(0);
});
