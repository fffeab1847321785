// A real pdfkit invoice, compressed as served; its text is read back by inflating the
// content streams and decoding the text-showing operators (pdfkit writes standard-font
// text as hex strings in TJ arrays, split only for kerning).
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { InvoiceDocument, IspProfile } from "./document";
import { formatBusinessDate } from "./document";
import { renderInvoicePdf } from "./pdf";

/** Text lines of a pdfkit PDF, one per TJ operator, in drawing order. */
function pdfText(pdf: Buffer): string[] {
  const raw = pdf.toString("latin1");
  const out: string[] = [];
  const streams = /stream\r?\n/g;
  let m: RegExpExecArray | null;
  while ((m = streams.exec(raw))) {
    const start = m.index + m[0].length;
    const end = raw.indexOf("endstream", start);
    if (end < 0) break;
    const body = Buffer.from(raw.slice(start, end), "latin1");
    let content: string;
    try {
      content = inflateSync(body).toString("latin1");
    } catch {
      content = body.toString("latin1");
    }
    for (const tj of content.matchAll(/\[((?:<[0-9a-fA-F]*>|[-\d.\s])*)\]\s*TJ/g)) {
      const hex = [...tj[1]!.matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => h[1]).join("");
      out.push(Buffer.from(hex, "hex").toString("latin1"));
    }
    streams.lastIndex = end + "endstream".length;
  }
  return out;
}

const isp: IspProfile = {
  name: "Demo ISP (Pvt) Ltd",
  address: "Office 4, Plot 12-C, Shahrah-e-Faisal, Karachi",
  phone: "021-111-477-000",
  email: "billing@demo-isp.pk",
  ntn: "1234567-8",
  strn: "17-00-1234-567-89",
  bankName: "Demo Bank Ltd",
  bankAccountTitle: "Demo ISP (Pvt) Ltd",
  iban: "PK36SCBL0000001123456702",
  jazzCash: "JazzCash Bill Payment > Demo ISP",
  easypaisa: "Easypaisa Bill Payment > Demo ISP",
  portalUrl: "https://my.demo-isp.pk",
};

function invoice(lines = 2): InvoiceDocument {
  const ls = Array.from({ length: lines }, (_, i) => ({
    position: i + 1,
    description: i === 0 ? "Fiber 20 Mbps, November 2026" : `Static IP address ${i}`,
    chargedPaisa: 250_000 + i,
    discountPaisa: 0,
    netPaisa: 250_000 + i,
    taxPaisa: 48_750,
    totalPaisa: 298_750 + i,
    taxes: [{ name: "Sindh sales tax on services", rateBasisPoints: 1950, inclusive: false, amountPaisa: 48_750 }],
  }));
  const net = ls.reduce((a, l) => a + l.netPaisa, 0);
  const tax = ls.reduce((a, l) => a + l.taxPaisa, 0);
  return {
    id: 7,
    number: "INV-2026-0000042",
    kind: "invoice",
    status: "open",
    issuedOn: "2026-11-01",
    dueOn: "2026-11-11",
    periodStart: "2026-11-01",
    periodEnd: "2026-11-30",
    customer: { subscriberId: 1, accountNo: "ACC-100001", name: "Ahmed Khan", address: "House 12, Block B, Gulshan", city: "Karachi", cnic: "42101-1234567-1", phone: "0300-1234567", plan: "Fiber 20" },
    lines: ls,
    totals: { netPaisa: net, taxPaisa: tax, totalPaisa: net + tax, taxes: [{ name: "Sindh sales tax on services", amountPaisa: tax }] },
    account: { previousInvoiceOn: "2026-10-01", previousBalancePaisa: 298_750, paymentsPaisa: 200_000, adjustmentsPaisa: 0, amountDuePaisa: 298_750 - 200_000 + net + tax },
    balanceNowPaisa: 98_750 + net + tax,
    generatedAt: "2026-11-24T12:00:00.000Z",
  };
}

describe("invoice PDF", () => {
  it("prints the ISP, the invoice number, the customer, every line with its tax, the totals and how to pay", async () => {
    const inv = invoice();
    const pdf = await renderInvoicePdf(inv, isp);
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    expect(pdf.toString("latin1")).toContain("/FlateDecode"); // compressed, as served
    const lines = pdfText(pdf);
    const text = lines.join("\n");
    for (const s of [
      "Demo ISP (Pvt) Ltd",
      "NTN 1234567-8 · STRN 17-00-1234-567-89",
      "TAX INVOICE",
      "INV-2026-0000042",
      "1 Nov 2026",
      "11 Nov 2026",
      "Ahmed Khan",
      "CNIC 42101-1234567-1",
      "Fiber 20 Mbps, November 2026",
      "Static IP address 1",
      "PKR 2,500.00",
      "PKR 2,500.01",
      "Sindh sales tax on services 19.5%: PKR 487.50",
      "PKR 2,987.50",
      "PKR 2,987.51",
      "Amount before tax",
      "PKR 5,000.01",
      "PKR 975.00",
      "Total of this invoice",
      "PKR 5,975.01",
      "Payments received since (thank you)",
      "-PKR 2,000.00",
      "Amount due by 11 Nov 2026",
      "PKR 6,962.51",
      "IBAN PK36SCBL0000001123456702",
      "JazzCash",
      "Easypaisa",
      "https://my.demo-isp.pk",
      "2026-11-24 17:00:00 PKT",
    ]) {
      expect(text, s).toContain(s);
    }
    // Each money figure sits on its own text run, so the totals are exactly these strings.
    expect(lines).toContain("PKR 5,975.01");
    expect(lines).toContain("PKR 6,962.51");
  });

  it("breaks a long invoice over pages, repeating the footer with the page count", async () => {
    const pdf = await renderInvoicePdf(invoice(60), isp);
    const pages = (pdf.toString("latin1").match(/\/Type \/Page\b/g) ?? []).length;
    expect(pages).toBeGreaterThan(1);
    const text = pdfText(pdf).join("\n");
    expect(text).toContain(`page ${pages} of ${pages}`);
    expect(text).toContain("Static IP address 59");
  });

  it("a credit note has no due date and nothing to pay", async () => {
    const inv = invoice(1);
    const credit: InvoiceDocument = { ...inv, kind: "credit_note", totals: { ...inv.totals, totalPaisa: -5_000 }, account: null, lines: inv.lines };
    const text = pdfText(await renderInvoicePdf(credit, isp)).join("\n");
    expect(text).toContain("CREDIT NOTE");
    expect(text).not.toContain("Due date");
    expect(text).toContain("Balance (nothing to pay)");
  });

  it("formats business dates without a time zone", () => {
    expect(formatBusinessDate("2026-01-31")).toBe("31 Jan 2026");
    expect(formatBusinessDate("bad")).toBe("bad");
  });
});
