import { complianceDeps, fileSafe } from "~/server/compliance/http";
import { signingKey } from "~/server/compliance/signing-key";
import { env } from "~/env";

export const dynamic = "force-dynamic";

// The public half of the report-signing key, for whoever has to verify our reports.
export async function GET(): Promise<Response> {
  const gate = await complianceDeps();
  if ("denied" in gate) return gate.denied;
  return new Response(signingKey().publicKeyPem, {
    headers: {
      "content-type": "application/x-pem-file",
      "content-disposition": `attachment; filename="${fileSafe(env.ispName)}-compliance-signing-key.pub.pem"`,
      "cache-control": "no-store",
    },
  });
}
