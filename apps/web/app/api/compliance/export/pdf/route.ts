import { firstIssue, ipv6LookupQueryFromSearchParams, lookupQueryFromSearchParams, reportReferenceSchema } from "~/lib/compliance-query";
import { looksLikeIpv6 } from "~/lib/ipv6";
import { signReport } from "~/lib/report-signature";
import { env } from "~/env";
import { attachment, complianceDeps, fileSafe, textResponse } from "~/server/compliance/http";
import { renderReportPdf } from "~/server/compliance/pdf";
import { signingKey } from "~/server/compliance/signing-key";
import type { ComplianceActor, ComplianceDeps, Ipv6Lookup, NatLookup, ReportMeta } from "~/server/services/compliance";
import { auditLookup, findNatRecords, findPrefixHolders, ipv6ReportData, reportData } from "~/server/services/compliance";

export const dynamic = "force-dynamic";

// GET /api/compliance/export/pdf?ip=&port=&from=&to=&ref=: the signed report for a legal
// reply. The audit row names the reference and the SHA-256 of the signed data, so a report
// shown later can be matched to the officer who produced it.
export async function GET(req: Request): Promise<Response> {
  const gate = await complianceDeps();
  if ("denied" in gate) return gate.denied;
  const params = new URL(req.url).searchParams;
  const reference = reportReferenceSchema.safeParse(params.get("ref") ?? "");
  // An IPv6 address or prefix: the holders of the covering delegated prefix, signed the same way.
  if (looksLikeIpv6(params.get("ip") ?? "")) {
    const parsed = ipv6LookupQueryFromSearchParams(params);
    if (!parsed.success) return textResponse(400, firstIssue(parsed.error));
    if (!reference.success) return textResponse(400, firstIssue(reference.error));
    return signedPdf(gate, reference.data, () => findPrefixHolders(gate.deps, parsed.data), ipv6ReportData);
  }
  const parsed = lookupQueryFromSearchParams(params);
  if (!parsed.success) return textResponse(400, firstIssue(parsed.error));
  if (!reference.success) return textResponse(400, firstIssue(reference.error));
  return signedPdf(gate, reference.data, () => findNatRecords(gate.deps, parsed.data), reportData);
}

/** Finds, signs, renders, audits (reference + SHA-256 of the signed data), answers the PDF. */
async function signedPdf<R extends NatLookup | Ipv6Lookup>(
  gate: { deps: ComplianceDeps; operator: ComplianceActor },
  reference: string,
  find: () => Promise<R>,
  toData: (result: R, meta: ReportMeta) => Parameters<typeof renderReportPdf>[0],
): Promise<Response> {
  try {
    const result = await find();
    const key = signingKey();
    const data = toData(result, { isp: env.ispName, reference, generatedAt: new Date(), operator: gate.operator });
    const signed = signReport(data, key.privateKey);
    const pdf = await renderReportPdf(data, signed);
    await auditLookup(gate.deps, "compliance.export.pdf", result, {
      format: "pdf",
      reference,
      reportSha256: signed.sha256,
      keyFingerprint: signed.fingerprint,
    });
    return attachment(new Uint8Array(pdf), "application/pdf", `compliance-report-${fileSafe(reference)}.pdf`);
  } catch (err) {
    if (err instanceof RangeError) return textResponse(400, err.message);
    throw err;
  }
}
