import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createIpv6Pool } from "@isp/db/ipv6-pools";
import { DEMO_SUBSCRIBER } from "@isp/db/seed";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

// An IPv6 lawful request: "who used 2400:…::10 at this time?". The demo subscriber's
// delegated /56 is stored the way the collector stores it: a lease from a database pool
// (ipv6_leases, what ipv6_allocate writes on the Accept and releasePrefixes closes on the
// Stop) and the PPPoE session with its recorded Delegated-IPv6-Prefix (radius_sessions).
// Two days back, so the live specs never see the session; a pool (a /40) of its own per
// run, so a kept database (E2E_KEEP_DATABASE) never mixes runs.
const runHex = (0x1000 + Math.floor(Math.random() * 0xefff)).toString(16);
const network = `2400:${runHex}:ee00::/40`;
const acctSessionId = `e2e-v6-${Date.now().toString(36)}`;
const mac = `4C:5E:0C:${[0, 0, 0].map(() => Math.floor(Math.random() * 256).toString(16).toUpperCase().padStart(2, "0")).join(":")}`;
// Whole minute plus 7 s: a datetime-local input keeps non-zero seconds as typed.
const asked = new Date(Math.floor((Date.now() - 2 * 86_400_000) / 60_000) * 60_000 + 7_000);
const loginAt = new Date(asked.getTime() - 3_600_000);
const logoffAt = new Date(asked.getTime() + 3_600_000);

const pktInput = (d: Date) => new Date(d.getTime() + 5 * 3_600_000).toISOString().slice(0, 19);
const pkt = (d: Date) => `${pktInput(d).replace("T", " ")} PKT`;
const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;

let subscriber: { id: number; account_no: string; cnic: string; name: string };
/** The delegated /56, as PostgreSQL prints it ("2400:1a2b:ee12:3400::/56"). */
let prefix: string;
/** One address inside it, canonical, and the way an officer might type it. */
let address: string;
let typed: string;

test.beforeAll(async () => {
  const s = await db().query<{ id: number; account_no: string; cnic: string; name: string }>(
    "SELECT id, account_no, cnic, name FROM subscribers WHERE account_no = $1",
    [DEMO_SUBSCRIBER.accountNo],
  );
  subscriber = s.rows[0]!;
  const routerId = (await db().query<{ id: number }>("SELECT id FROM routers WHERE ip_address = '127.0.0.1'::inet")).rows[0]!.id;
  const v6 = await createIpv6Pool(db(), { name: `e2e-pd-${runHex}-${acctSessionId}`, network, prefixLength: 56, routerId });
  const lease = await db().query<{ prefix: string }>(
    `INSERT INTO ipv6_leases (pool_id, idx, prefix, kind, subscriber_id, router_id, opened_at, granted_at, closed_at, close_reason)
     VALUES ($1, 4660, ipv6_prefix_at($2::inet, 56, 4660), 'delegated', $3, $4, $5, $5, $6, 'stop')
     RETURNING prefix::text AS prefix`,
    [v6.id, network, subscriber.id, routerId, loginAt, logoffAt],
  );
  prefix = lease.rows[0]!.prefix;
  const net = prefix.replace(/::\/56$/, ""); // "2400:1a2b:ee12:3400"
  address = `${net}:ab::10`;
  const groups = net.split(":").map((g) => g.padStart(4, "0").toUpperCase());
  typed = `[${groups.join(":")}:00AB:0000:0000:0010]`;
  await db().query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, calling_station_id, started_at, last_update_at, stopped_at, terminate_cause, delegated_ipv6_prefix)
     VALUES ($1, $2, $3, $4, 'stopped', '100.64.20.19', $5, $6, $7, $7, 'User-Request', $8::inet)`,
    [routerId, acctSessionId, subscriber.id, DEMO_SUBSCRIBER.username, mac, loginAt, logoffAt, prefix],
  );
});

test.afterAll(closeDb);

async function auditRows(action: string, actor: string, entity = address): Promise<Array<{ details: { resultCount: number; reference?: string; query: { publicIp: string; family?: string } } }>> {
  const { rows } = await db().query("SELECT details FROM audit_log WHERE action = $1 AND actor = $2 AND entity_id = $3 ORDER BY id", [action, actor, entity]);
  return rows;
}

test("a compliance officer finds who held an IPv6 address, exports CSV and a signed PDF, all audited", async ({ page }) => {
  await login(page, "compliance");
  await expect(page).toHaveURL(/\/compliance$/);

  // Typing an IPv6 address hides the port: there is no NAT to resolve.
  await expect(page.getByTestId("lookup-port")).toBeVisible();
  await page.getByTestId("lookup-ip").fill(typed);
  await expect(page.getByTestId("lookup-port")).toHaveCount(0);
  await expect(page.getByTestId("lookup-ipv6-note")).toContainText("no port needed");

  await page.getByTestId("mode-at").check();
  await page.getByTestId("lookup-at").fill(pktInput(asked));
  await expect(page.getByTestId("lookup-at-utc")).toHaveText(`${pkt(asked)} = ${utc(asked)}`);
  await page.getByTestId("lookup-submit").click();
  await expect(page.getByTestId("lookup-error")).toHaveCount(0);
  const results = page.getByTestId("ipv6-results");
  await expect(results).toHaveAttribute("data-count", "2");
  await expect(page.getByTestId("ipv6-summary")).toHaveText(`2 holders of ${address}`);
  const lease = page.locator('[data-testid="ipv6-row"][data-source="lease"]');
  const session = page.locator('[data-testid="ipv6-row"][data-source="session"]');
  for (const row of [lease, session]) {
    await expect(row).toHaveAttribute("data-account", DEMO_SUBSCRIBER.accountNo);
    await expect(row.getByTestId("ipv6-cnic")).toHaveText(subscriber.cnic);
    await expect(row.getByTestId("ipv6-prefix")).toHaveText(prefix);
    await expect(row).toContainText(`${pkt(loginAt)} – ${pkt(logoffAt)}`);
    await expect(row).toContainText("KHI-BNG-01");
  }
  await expect(session).toContainText(acctSessionId);
  await expect(session).toContainText(mac);
  await page.screenshot({ path: join(artifactsDir, "compliance-ipv6.png"), fullPage: true });

  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
  expect(csv.suggestedFilename()).toMatch(/^ipv6-lookup-2400-.*-PKT\.csv$/);
  const bytes = readFileSync((await csv.path())!);
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const lines = bytes.toString("utf8").slice(1).split("\r\n");
  expect(lines[0]).toBe(
    "queried,source,delegated_prefix,from_pkt,from_utc,until_pkt,until_utc,router,account_no,name,cnic,phone,address,city,pppoe_username,acct_session_id,mac,framed_ip",
  );
  expect(lines).toHaveLength(4);
  const name = subscriber.name.includes(",") ? `"${subscriber.name}"` : subscriber.name;
  expect(lines[1]).toContain(`${address},lease,${prefix},${pkt(loginAt)},${utc(loginAt)},${pkt(logoffAt)},${utc(logoffAt)},KHI-BNG-01,${DEMO_SUBSCRIBER.accountNo},${name},${subscriber.cnic}`);
  expect(lines[2]).toContain(`${address},session,${prefix},`);
  expect(lines[2]).toContain(`,${DEMO_SUBSCRIBER.username},${acctSessionId},${mac},100.64.20.19`);

  await page.getByTestId("report-reference").fill("FIA/CCW/E2E/V6");
  const [pdf] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-pdf").click()]);
  expect(pdf.suggestedFilename()).toBe("compliance-report-FIA-CCW-E2E-V6.pdf");
  const pdfPath = (await pdf.path())!;
  expect(readFileSync(pdfPath).subarray(0, 5).toString()).toBe("%PDF-");

  // The downloaded IPv6 report verifies against the ISP's key.
  await page.getByTestId("tab-verify").click();
  await page.getByTestId("verify-file").setInputFiles(pdfPath);
  await expect(page.getByTestId("verify-result")).toHaveAttribute("data-ok", "true");
  await expect(page.getByTestId("verify-result")).toContainText("FIA/CCW/E2E/V6");
  await expect(page.getByTestId("verify-result")).toContainText(address);

  // An address no prefix covered: "no holder", said in so many words (and audited).
  await page.getByTestId("tab-lookup").click();
  const outside = `2400:${runHex}:ef00::1`;
  await page.getByTestId("lookup-ip").fill(outside);
  await page.getByTestId("lookup-submit").click();
  await expect(page.getByTestId("ipv6-results")).toHaveAttribute("data-count", "0");
  await expect(page.getByTestId("ipv6-empty")).toContainText("No holder");

  // Every lookup and export left an audit row with the query and the count.
  const lookups = await auditRows("compliance.lookup", "compliance");
  expect(lookups).toHaveLength(1);
  expect(lookups[0]!.details).toMatchObject({ resultCount: 2, query: { family: "ipv6", publicIp: address } });
  expect(await auditRows("compliance.export.csv", "compliance")).toHaveLength(1);
  const pdfAudit = await auditRows("compliance.export.pdf", "compliance");
  expect(pdfAudit).toHaveLength(1);
  expect(pdfAudit[0]!.details).toMatchObject({ resultCount: 2, reference: "FIA/CCW/E2E/V6" });
  expect((await auditRows("compliance.lookup", "compliance", outside))[0]!.details).toMatchObject({ resultCount: 0 });
});

test("support may not look up IPv6 either: the server refuses, nothing is audited", async ({ page }) => {
  await login(page, "support");
  const from = new Date(asked.getTime() - 60_000).toISOString();
  const to = new Date(asked.getTime() + 60_000).toISOString();
  const res = await page.request.post("/api/trpc/compliance.lookupIpv6", { data: { address, from, to } });
  expect(res.status()).toBe(403);
  const csv = await page.request.get(`/api/compliance/export/csv?ip=${encodeURIComponent(address)}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  expect(csv.status()).toBe(403);
  expect(await auditRows("compliance.lookup", "support")).toHaveLength(0);
  expect(await auditRows("compliance.export.csv", "support")).toHaveLength(0);
});
