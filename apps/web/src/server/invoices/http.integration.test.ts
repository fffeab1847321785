// The invoice PDF endpoint's handler against a real, migrated and seeded PostgreSQL:
// scoping as accounts.subscriber (dealers only their own subscribers, others 404 like a
// missing invoice), roles refused, the audit row, and the account summary it prints.
import { insertLedgerTransactions } from "@isp/db/billing-store";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "../../env";
import type { OperatorRole } from "../../lib/roles";
import { createInvoice } from "../testing/billing-fixtures";
import { invoiceDocument } from "../services/invoices";
import { invoicePdfResponse } from "./http";

let tdb: TestDatabase;
let pool: pg.Pool;
let ownDealerId: number;
let otherDealerId: number;
let ownInvoice: { id: number; number: string; totalPaisa: number };
let ownSubscriber: number;
let otherInvoice: { id: number; number: string };

function as(role: OperatorRole | null, dealerId: number | null = null) {
  const operator = role ? { id: 1, username: role, name: role, role, dealerId } : null;
  return { prisma: tdb.prisma, operator, profile: env.ispProfile };
}

async function audits(): Promise<number> {
  return (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'invoice.pdf'")).rows[0]!.n;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 30 });
  pool = new pg.Pool({ connectionString: tdb.url, max: 2 });
  ownDealerId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "dealer" } })).dealerId!;
  ownSubscriber = (await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: ownDealerId }, orderBy: { id: "asc" } })).id;
  const other = await tdb.prisma.subscriber.findFirstOrThrow({ where: { dealerId: { not: ownDealerId, gt: 0 } }, orderBy: { id: "asc" } });
  otherDealerId = other.dealerId!;
  const lines = [{ description: "Fiber 20 Mbps", net: 250_000, tax: 48_750 }];
  await createInvoice(tdb.prisma, pool, { subscriberId: ownSubscriber, periodStart: "2026-10-01", dueOn: "2026-10-11", lines });
  await insertLedgerTransactions(pool, [
    {
      key: "payment:R-PDF-1",
      kind: "payment",
      subscriberId: ownSubscriber,
      occurredOn: "2026-10-09",
      entries: [
        { account: "cash", amountPaisa: 200_000 },
        { account: `receivable:${ownSubscriber}`, amountPaisa: -200_000 },
      ],
    },
  ]);
  ownInvoice = await createInvoice(tdb.prisma, pool, { subscriberId: ownSubscriber, periodStart: "2026-11-01", dueOn: "2026-11-11", lines: [...lines, { description: "Static IP", net: 50_000, tax: 9_750 }] });
  otherInvoice = await createInvoice(tdb.prisma, pool, { subscriberId: other.id, periodStart: "2026-11-01", dueOn: "2026-11-11", lines });
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe("GET /api/invoices/<id>/pdf", () => {
  it("serves the PDF to support and to the subscriber's own dealer, audited", async () => {
    const before = await audits();
    for (const [role, dealerId] of [["support", null], ["admin", null], ["manager", null], ["dealer", ownDealerId]] as const) {
      const res = await invoicePdfResponse(as(role, dealerId), String(ownInvoice.id));
      expect(res.status, role).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/pdf");
      expect(res.headers.get("content-disposition")).toContain(`${ownInvoice.number}.pdf`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.subarray(0, 5).toString()).toBe("%PDF-");
      expect(body.length).toBeGreaterThan(2_000);
    }
    expect(await audits()).toBe(before + 4);
    const row = await pool.query("SELECT actor, entity_id, details FROM audit_log WHERE action = 'invoice.pdf' ORDER BY id DESC LIMIT 1");
    expect(row.rows[0]).toMatchObject({ actor: "dealer", entity_id: String(ownSubscriber), details: { invoiceId: ownInvoice.id, number: ownInvoice.number } });
  });

  it("another dealer's invoice is 404 like a missing one; other roles and anonymous are refused; nothing audited", async () => {
    const before = await audits();
    const missing = await invoicePdfResponse(as("admin"), "99999999");
    expect(missing.status).toBe(404);
    const foreign = await invoicePdfResponse(as("dealer", ownDealerId), String(otherInvoice.id));
    expect(foreign.status).toBe(404);
    expect(await foreign.text()).toBe(await missing.text());
    expect((await invoicePdfResponse(as("dealer", otherDealerId), String(ownInvoice.id))).status).toBe(404);
    expect((await invoicePdfResponse(as("dealer", null), String(ownInvoice.id))).status).toBe(404);
    expect((await invoicePdfResponse(as("noc"), String(ownInvoice.id))).status).toBe(403);
    expect((await invoicePdfResponse(as("compliance"), String(ownInvoice.id))).status).toBe(403);
    expect((await invoicePdfResponse(as(null), String(ownInvoice.id))).status).toBe(401);
    for (const bad of ["0", "-1", "1e3", "abc", "1234567890"]) expect((await invoicePdfResponse(as("admin"), bad)).status).toBe(404);
    expect(await audits()).toBe(before);
  });

  it("carries the previous balance, the payments since and the amount due from the ledger", async () => {
    const doc = await invoiceDocument(tdb.prisma, {}, ownInvoice.id);
    expect(doc).not.toBeNull();
    expect(doc!.lines.map((l) => l.description)).toEqual(["Fiber 20 Mbps", "Static IP"]);
    expect(doc!.totals).toMatchObject({ netPaisa: 300_000, taxPaisa: 58_500, totalPaisa: 358_500, taxes: [{ name: "Sindh sales tax on services", amountPaisa: 58_500 }] });
    expect(doc!.account).toEqual({ previousInvoiceOn: "2026-10-01", previousBalancePaisa: 298_750, paymentsPaisa: 200_000, adjustmentsPaisa: 0, amountDuePaisa: 298_750 - 200_000 + 358_500 });
    expect(doc!.balanceNowPaisa).toBe(298_750 - 200_000 + 358_500);
    expect(doc!.customer).toMatchObject({ subscriberId: ownSubscriber });
    const first = await invoiceDocument(tdb.prisma, {}, otherInvoice.id);
    expect(first!.account).toBeNull();
    expect(await invoiceDocument(tdb.prisma, { dealerId: ownDealerId }, otherInvoice.id)).toBeNull();
  });
});
