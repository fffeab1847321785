import { firstIssue, lookupQueryFromSearchParams } from "~/lib/compliance-query";
import { toPktLocalInput } from "~/lib/pkt";
import { attachment, complianceDeps, fileSafe, textResponse } from "~/server/compliance/http";
import { auditLookup, findNatRecords, lookupCsv } from "~/server/services/compliance";

export const dynamic = "force-dynamic";

// GET /api/compliance/export/csv?ip=&port=&from=&to= (ISO instants): the lookup as CSV,
// audited as compliance.export.csv before the file leaves.
export async function GET(req: Request): Promise<Response> {
  const gate = await complianceDeps();
  if ("denied" in gate) return gate.denied;
  const parsed = lookupQueryFromSearchParams(new URL(req.url).searchParams);
  if (!parsed.success) return textResponse(400, firstIssue(parsed.error));
  try {
    const result = await findNatRecords(gate.deps, parsed.data);
    await auditLookup(gate.deps, "compliance.export.csv", result, { format: "csv" });
    const name = `nat-lookup-${fileSafe(parsed.data.publicIp)}-${fileSafe(toPktLocalInput(parsed.data.from))}-PKT.csv`;
    return attachment(lookupCsv(result), "text/csv; charset=utf-8", name);
  } catch (err) {
    if (err instanceof RangeError) return textResponse(400, err.message);
    throw err;
  }
}
