import "server-only";
import PDFDocument from "pdfkit";
import { formatPkr } from "../../lib/money";
import { formatPkt } from "../../lib/pkt";
import { formatBusinessDate, type InvoiceDocument, type IspProfile } from "./document";

// The invoice as an A4 PDF, in the compliance report's style (Helvetica, 40 pt margins,
// a footer on every page): the ISP's details and tax numbers, the customer, the lines
// with their taxes, totals, the account summary and how to pay.

const margin = 40;
const footerGap = 18;
const rowGap = 3;

const rate = (bp: number | null): string => (bp === null ? "" : ` ${(bp / 100).toFixed(2).replace(/\.?0+$/, "")}%`);

export function renderInvoicePdf(inv: InvoiceDocument, isp: IspProfile, opts: { compress?: boolean } = {}): Promise<Buffer> {
  const credit = inv.kind === "credit_note";
  const title = credit ? "Credit note" : "Tax invoice";
  const doc = new PDFDocument({
    size: "A4",
    margins: { top: margin, bottom: margin + footerGap, left: margin, right: margin },
    bufferPages: true,
    compress: opts.compress ?? true,
    info: { Title: `${title} ${inv.number}`, Author: isp.name, Subject: `${title} ${inv.number} for ${inv.customer.accountNo}`, Creator: isp.name },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });

  const left = margin;
  const width = doc.page.width - 2 * margin;
  const right = left + width;
  const rule = () => {
    doc.moveTo(left, doc.y).lineTo(right, doc.y).lineWidth(0.5).strokeColor("#999999").stroke().strokeColor("black");
    doc.moveDown(0.4);
  };
  const ensure = (height: number) => {
    if (doc.y + height > doc.page.height - doc.page.margins.bottom) doc.addPage();
  };

  // Header: the ISP on the left, the document on the right.
  const top = doc.y;
  const headWidth = width * 0.58;
  doc.font("Helvetica-Bold").fontSize(16).text(isp.name, left, top, { width: headWidth });
  doc.font("Helvetica").fontSize(9).text(isp.address, { width: headWidth });
  doc.text(`Phone ${isp.phone} · ${isp.email}`, { width: headWidth });
  doc.text(`NTN ${isp.ntn} · STRN ${isp.strn}`, { width: headWidth });
  const leftBottom = doc.y;
  const boxX = left + width * 0.6;
  const boxW = width * 0.4;
  doc.font("Helvetica-Bold").fontSize(14).text(title.toUpperCase(), boxX, top, { width: boxW, align: "right" });
  const meta: [string, string][] = [
    [credit ? "Credit note no." : "Invoice no.", inv.number],
    ["Issue date", formatBusinessDate(inv.issuedOn)],
    ...(credit ? [] : ([["Due date", formatBusinessDate(inv.dueOn)]] as [string, string][])),
    ["Billing period", `${formatBusinessDate(inv.periodStart)} to ${formatBusinessDate(inv.periodEnd)}`],
    ["Account no.", inv.customer.accountNo],
  ];
  doc.fontSize(9);
  doc.moveDown(0.2);
  for (const [k, v] of meta) {
    const y = doc.y;
    doc.font("Helvetica").text(k, boxX, y, { width: boxW * 0.36 });
    doc.font("Helvetica-Bold").text(v, boxX + boxW * 0.36, y, { width: boxW * 0.64, align: "right" });
  }
  doc.y = Math.max(leftBottom, doc.y) + 10;
  doc.x = left;
  rule();

  // Customer.
  doc.font("Helvetica-Bold").fontSize(10).text("Bill to", left);
  doc.font("Helvetica").fontSize(9);
  doc.text(inv.customer.name, { width });
  doc.text(`${inv.customer.address}, ${inv.customer.city}`, { width });
  doc.text(`CNIC ${inv.customer.cnic} · Phone ${inv.customer.phone} · Account ${inv.customer.accountNo} · Plan ${inv.customer.plan}`, { width });
  doc.moveDown(0.6);

  // Lines.
  const cols = { no: left, desc: left + 22, net: left + width * 0.5, tax: left + width * 0.64, total: left + width * 0.84 };
  const w = { no: 20, desc: width * 0.5 - 26, net: width * 0.13, tax: width * 0.19, total: width * 0.16 };
  // (tax shows the line's tax; the per-rule split is printed under the description)
  const header = () => {
    const y = doc.y;
    doc.font("Helvetica-Bold").fontSize(9);
    doc.text("#", cols.no, y, { width: w.no });
    doc.text("Description", cols.desc, y, { width: w.desc });
    doc.text("Amount", cols.net, y, { width: w.net, align: "right" });
    doc.text("Tax", cols.tax, y, { width: w.tax, align: "right" });
    doc.text("Total", cols.total, y, { width: w.total, align: "right" });
    doc.x = left;
    rule();
  };
  header();
  for (const l of inv.lines) {
    // Under the description: the discount, then each tax of the line with its rate.
    const details = [
      ...(l.discountPaisa !== 0 ? [`Charged ${formatPkr(l.chargedPaisa)}, discount ${formatPkr(Math.abs(l.discountPaisa))}`] : []),
      ...l.taxes.map((t) => `${t.name}${rate(t.rateBasisPoints)}${t.inclusive ? " (included in the price)" : ""}: ${formatPkr(t.amountPaisa)}`),
    ];
    doc.font("Helvetica").fontSize(9);
    const descHeight = doc.heightOfString(l.description, { width: w.desc });
    doc.fontSize(7.5);
    const detailHeight = details.reduce((h, d) => h + doc.heightOfString(d, { width: w.desc }), 0);
    const height = descHeight + detailHeight + rowGap;
    if (doc.y + height > doc.page.height - doc.page.margins.bottom) {
      doc.addPage();
      header();
    }
    const y = doc.y;
    doc.fontSize(9).text(String(l.position), cols.no, y, { width: w.no });
    doc.text(formatPkr(l.netPaisa), cols.net, y, { width: w.net, align: "right" });
    doc.text(l.taxes.length === 0 ? "—" : formatPkr(l.taxPaisa), cols.tax, y, { width: w.tax, align: "right" });
    doc.text(formatPkr(l.totalPaisa), cols.total, y, { width: w.total, align: "right" });
    doc.text(l.description, cols.desc, y, { width: w.desc });
    doc.fontSize(7.5).fillColor("#444444");
    for (const d of details) doc.text(d, cols.desc, doc.y, { width: w.desc });
    doc.fillColor("black");
    doc.x = left;
    doc.y = y + height;
  }
  rule();

  // Totals, right-aligned.
  const sumRow = (label: string, amount: number, bold = false) => {
    ensure(14);
    const y = doc.y;
    doc.font(bold ? "Helvetica-Bold" : "Helvetica").fontSize(bold ? 10 : 9);
    doc.text(label, left + width * 0.4, y, { width: width * 0.44 - 6, align: "right" });
    doc.text(formatPkr(amount), cols.total, y, { width: w.total, align: "right" });
    doc.x = left;
  };
  sumRow("Amount before tax", inv.totals.netPaisa);
  for (const t of inv.totals.taxes) sumRow(t.name, t.amountPaisa);
  sumRow(credit ? "Total credit" : "Total of this invoice", inv.totals.totalPaisa, true);
  doc.moveDown(0.8);

  // Account summary.
  ensure(90);
  doc.font("Helvetica-Bold").fontSize(10).text("Your account", left);
  doc.moveDown(0.2);
  const a = inv.account;
  if (a) {
    sumRow(a.previousInvoiceOn ? `Balance after your bill of ${formatBusinessDate(a.previousInvoiceOn)}` : "Previous balance", a.previousBalancePaisa);
    sumRow("Payments received since (thank you)", -a.paymentsPaisa);
    if (a.adjustmentsPaisa !== 0) sumRow("Other charges and credits", a.adjustmentsPaisa);
    sumRow(credit ? "This credit note" : "This invoice", inv.totals.totalPaisa);
    sumRow(a.amountDuePaisa > 0 && !credit ? `Amount due by ${formatBusinessDate(inv.dueOn)}` : "Balance (nothing to pay)", a.amountDuePaisa, true);
  } else {
    sumRow(credit ? "Balance (nothing to pay)" : `Amount due by ${formatBusinessDate(inv.dueOn)}`, inv.totals.totalPaisa, true);
  }
  doc.moveDown(0.3);
  doc
    .font("Helvetica")
    .fontSize(8)
    .fillColor("#555555")
    .text(
      `Balance on your account when this copy was printed (${formatPkt(inv.generatedAt)}): ${inv.balanceNowPaisa < 0 ? `${formatPkr(-inv.balanceNowPaisa)} in advance` : formatPkr(inv.balanceNowPaisa)}. ` +
        "Payments made on or after the issue date are not in the amount above.",
      left,
      doc.y,
      { width },
    )
    .fillColor("black");
  doc.moveDown(0.8);

  // How to pay.
  ensure(120);
  rule();
  doc.font("Helvetica-Bold").fontSize(10).text("How to pay", left);
  doc.font("Helvetica").fontSize(9);
  const ref = `Always quote your account number ${inv.customer.accountNo}.`;
  const pay: [string, string][] = [
    ["Bank transfer", `${isp.bankName} · account title ${isp.bankAccountTitle} · IBAN ${isp.iban}. ${ref}`],
    ["JazzCash", isp.jazzCash],
    ["Easypaisa", isp.easypaisa],
    ["Cash", `at our office (${isp.address}) or to your dealer's recovery officer; ask for a computer receipt number.`],
    ["Online", `${isp.portalUrl} — view bills, pay and download receipts.`],
  ];
  for (const [k, v] of pay) {
    ensure(14);
    doc.font("Helvetica-Bold").text(`${k}: `, left, doc.y, { width, continued: true }).font("Helvetica").text(v);
  }
  doc.moveDown(0.4);
  doc.fontSize(8).fillColor("#555555").text("Service may be restricted if the amount due is not paid by the due date. Amounts in Pakistani rupees (PKR).", { width });
  doc.fillColor("black");

  // Footers last, once the page count is known.
  const range = doc.bufferedPageRange();
  for (let p = range.start; p < range.start + range.count; p += 1) {
    doc.switchToPage(p);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font("Helvetica")
      .fontSize(8)
      .fillColor("#555555")
      .text(
        `${isp.name} · ${title} ${inv.number} · computer-generated, no signature required · printed ${formatPkt(inv.generatedAt)} · page ${p - range.start + 1} of ${range.count}`,
        margin,
        doc.page.height - margin,
        { width, align: "center", lineBreak: false },
      );
    doc.fillColor("black");
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}
