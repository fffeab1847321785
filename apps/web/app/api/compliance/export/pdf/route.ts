import { firstIssue, lookupQueryFromSearchParams, reportReferenceSchema } from "~/lib/compliance-query";
import { signReport } from "~/lib/report-signature";
import { env } from "~/env";
import { attachment, complianceDeps, fileSafe, textResponse } from "~/server/compliance/http";
import { renderReportPdf } from "~/server/compliance/pdf";
import { signingKey } from "~/server/compliance/signing-key";
import { auditLookup, findNatRecords, reportData } from "~/server/services/compliance";

export const dynamic = "force-dynamic";

// GET /api/compliance/export/pdf?ip=&port=&from=&to=&ref=: the signed report for a legal
// reply. The audit row names the reference and the SHA-256 of the signed data, so a report
// shown later can be matched to the officer who produced it.
export async function GET(req: Request): Promise<Response> {
  const gate = await complianceDeps();
  if ("denied" in gate) return gate.denied;
  const params = new URL(req.url).searchParams;
  const parsed = lookupQueryFromSearchParams(params);
  if (!parsed.success) return textResponse(400, firstIssue(parsed.error));
  const reference = reportReferenceSchema.safeParse(params.get("ref") ?? "");
  if (!reference.success) return textResponse(400, firstIssue(reference.error));
  try {
    const result = await findNatRecords(gate.deps, parsed.data);
    const key = signingKey();
    const data = reportData(result, { isp: env.ispName, reference: reference.data, generatedAt: new Date(), operator: gate.operator });
    const signed = signReport(data, key.privateKey);
    const pdf = await renderReportPdf(data, signed);
    await auditLookup(gate.deps, "compliance.export.pdf", result, {
      format: "pdf",
      reference: reference.data,
      reportSha256: signed.sha256,
      keyFingerprint: signed.fingerprint,
    });
    return attachment(new Uint8Array(pdf), "application/pdf", `compliance-report-${fileSafe(reference.data)}.pdf`);
  } catch (err) {
    if (err instanceof RangeError) return textResponse(400, err.message);
    throw err;
  }
}
