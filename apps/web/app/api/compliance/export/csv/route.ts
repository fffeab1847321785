import { firstIssue, ipv6LookupQueryFromSearchParams, lookupQueryFromSearchParams } from "~/lib/compliance-query";
import { looksLikeIpv6 } from "~/lib/ipv6";
import { toPktLocalInput } from "~/lib/pkt";
import { attachment, complianceDeps, fileSafe, textResponse } from "~/server/compliance/http";
import type { ComplianceDeps } from "~/server/services/compliance";
import { auditLookup, findNatRecords, findPrefixHolders, ipv6LookupCsv, lookupCsv } from "~/server/services/compliance";

export const dynamic = "force-dynamic";

// GET /api/compliance/export/csv?ip=&port=&from=&to= (ISO instants): the lookup as CSV,
// audited as compliance.export.csv before the file leaves. An IPv6 `ip` (address or prefix)
// exports the prefix holders instead (no NAT; a port is ignored).
export async function GET(req: Request): Promise<Response> {
  const gate = await complianceDeps();
  if ("denied" in gate) return gate.denied;
  const params = new URL(req.url).searchParams;
  if (looksLikeIpv6(params.get("ip") ?? "")) return ipv6Csv(gate.deps, params);
  const parsed = lookupQueryFromSearchParams(params);
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

async function ipv6Csv(deps: ComplianceDeps, params: URLSearchParams): Promise<Response> {
  const parsed = ipv6LookupQueryFromSearchParams(params);
  if (!parsed.success) return textResponse(400, firstIssue(parsed.error));
  try {
    const result = await findPrefixHolders(deps, parsed.data);
    await auditLookup(deps, "compliance.export.csv", result, { format: "csv" });
    const name = `ipv6-lookup-${fileSafe(parsed.data.address)}-${fileSafe(toPktLocalInput(parsed.data.from))}-PKT.csv`;
    return attachment(ipv6LookupCsv(result), "text/csv; charset=utf-8", name);
  } catch (err) {
    if (err instanceof RangeError) return textResponse(400, err.message);
    throw err;
  }
}
