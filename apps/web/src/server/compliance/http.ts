import "server-only";
import { canLookUpNat } from "../../lib/roles";
import type { SessionOperator } from "../../types/next-auth";
import { currentOperator } from "../auth";
import { db } from "../db";
import { pgPool } from "../pg";
import type { ComplianceDeps } from "../services/compliance";

export function textResponse(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
}

/**
 * The export routes' gate: the same rule as the tRPC complianceProcedure (signed in, and a
 * compliance officer), answered as plain HTTP.
 */
export async function complianceDeps(): Promise<{ deps: ComplianceDeps; operator: SessionOperator } | { denied: Response }> {
  const operator = await currentOperator();
  if (!operator) return { denied: textResponse(401, "Sign in first") };
  if (!canLookUpNat(operator.role)) return { denied: textResponse(403, `Role ${operator.role} may not look up NAT records`) };
  return { deps: { prisma: db(), pg: pgPool(), operator }, operator };
}

/** A file name fragment from an address or reference: letters, digits, dot and dash only. */
export function fileSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "x";
}

export function attachment(body: BodyInit, contentType: string, filename: string): Response {
  return new Response(body, {
    headers: {
      "content-type": contentType,
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
