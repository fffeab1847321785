import "server-only";
import type { createPrisma } from "@isp/db/client";
import { canSeeAccounts } from "../../lib/roles";
import type { SessionOperator } from "../../types/next-auth";
import { subscriberScope } from "../scope";
import { invoiceDocument } from "../services/invoices";
import type { IspProfile } from "./document";
import { renderInvoicePdf } from "./pdf";

type Prisma = ReturnType<typeof createPrisma>;

export interface InvoicePdfDeps {
  prisma: Prisma;
  operator: SessionOperator | null;
  profile: IspProfile;
  now?: Date;
}

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
}

/**
 * GET /api/invoices/<id>/pdf. The same gate as accounts.subscriber: signed in, a role that
 * reads accounts, and a dealer only for their own subscribers — another dealer's invoice
 * is 404 exactly like a missing one. The PDF carries the customer's CNIC and address, so
 * each download writes an audit row (`invoice.pdf`) before the file leaves.
 */
export async function invoicePdfResponse(deps: InvoicePdfDeps, rawId: string): Promise<Response> {
  const { operator } = deps;
  if (!operator) return text(401, "Sign in first");
  if (!canSeeAccounts(operator.role)) return text(403, `Role ${operator.role} may not read invoices`);
  if (!/^\d{1,9}$/.test(rawId) || Number(rawId) <= 0) return text(404, "Invoice not found");
  const doc = await invoiceDocument(deps.prisma, subscriberScope(operator), Number(rawId), deps.now);
  if (!doc) return text(404, "Invoice not found");
  const pdf = await renderInvoicePdf(doc, deps.profile);
  await deps.prisma.auditLog.create({
    data: {
      operatorId: operator.id,
      actor: operator.username,
      action: "invoice.pdf",
      entityType: "subscriber",
      entityId: String(doc.customer.subscriberId),
      details: { invoiceId: doc.id, number: doc.number, bytes: pdf.length },
    },
  });
  const filename = `${doc.number.replace(/[^A-Za-z0-9.-]+/g, "-")}.pdf`;
  return new Response(new Uint8Array(pdf), {
    headers: {
      "content-type": "application/pdf",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
