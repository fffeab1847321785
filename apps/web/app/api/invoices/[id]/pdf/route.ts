import { env } from "~/env";
import { currentOperator } from "~/server/auth";
import { db } from "~/server/db";
import { invoicePdfResponse } from "~/server/invoices/http";

export const dynamic = "force-dynamic";

// GET /api/invoices/<id>/pdf: the invoice as a PDF (docs/billing-runs.md "Invoice PDFs").
export async function GET(_req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await params;
  return invoicePdfResponse({ prisma: db(), operator: await currentOperator(), profile: env.ispProfile }, id);
}
