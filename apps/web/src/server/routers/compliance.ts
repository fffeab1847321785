import "server-only";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { ipv6LookupQuerySchema, lookupQuerySchema, sessionQuerySchema } from "../../lib/compliance-query";
import { reportPdfBytesMax, verifyReportPdf } from "../../lib/report-signature";
import { ipv6LookupResultSchema, lookupResultSchema, sessionResultSchema, verifyResultSchema } from "../compliance/dto";
import { signingKey } from "../compliance/signing-key";
import { auditVerification, lookupNatRecords, lookupPrefixHolders, searchSessionHistory } from "../services/compliance";
import { complianceProcedure, router } from "../trpc";

/** The storage layer throws RangeError for inputs it refuses (bad address, inverted or too wide a window). */
function badInput<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof RangeError) throw new TRPCError({ code: "BAD_REQUEST", message: err.message, cause: err });
    throw err;
  });
}

const base64Max = Math.ceil(reportPdfBytesMax / 3) * 4;

const reportSummary = z.object({
  reference: z.string(),
  generatedAt: z.string(),
  operator: z.object({ username: z.string(), name: z.string() }),
  query: z.object({ publicIp: z.string(), publicPort: z.number().int().nullable(), from: z.string(), to: z.string() }),
  resultCount: z.number().int(),
});

// Mutations, not queries: each call writes an audit row, so nothing may refetch it behind
// the officer's back (window focus, remount).
export const complianceRouter = router({
  lookup: complianceProcedure
    .input(lookupQuerySchema)
    .output(lookupResultSchema)
    .mutation(({ ctx, input }) => badInput(lookupNatRecords({ prisma: ctx.prisma, pg: ctx.pg, operator: ctx.operator }, input))),

  /** IPv6 address or prefix + window -> who held the covering delegated prefix (no NAT, no port); audited like `lookup`. */
  lookupIpv6: complianceProcedure
    .input(ipv6LookupQuerySchema)
    .output(ipv6LookupResultSchema)
    .mutation(({ ctx, input }) => badInput(lookupPrefixHolders({ prisma: ctx.prisma, pg: ctx.pg, operator: ctx.operator }, input))),

  sessions: complianceProcedure
    .input(sessionQuerySchema)
    .output(sessionResultSchema)
    .mutation(({ ctx, input }) => badInput(searchSessionHistory({ prisma: ctx.prisma, pg: ctx.pg, operator: ctx.operator }, input))),

  signingKey: complianceProcedure
    .output(z.object({ fingerprint: z.string(), publicKeyPem: z.string() }))
    .query(() => {
      const key = signingKey();
      return { fingerprint: key.fingerprint, publicKeyPem: key.publicKeyPem };
    }),

  /** Checks a report PDF (base64) against this ISP's signing key. */
  verify: complianceProcedure
    .input(z.object({ pdfBase64: z.string().min(1).max(base64Max) }))
    .output(verifyResultSchema)
    .mutation(async ({ ctx, input }) => {
      const key = signingKey();
      const v = verifyReportPdf(Buffer.from(input.pdfBase64, "base64"), key.publicKey);
      const summary = reportSummary.safeParse("data" in v ? v.data : null);
      const s = summary.success ? summary.data : null;
      const out = {
        ok: v.ok,
        reason: v.ok ? null : v.reason,
        fingerprint: key.fingerprint,
        sha256: v.ok ? v.sha256 : null,
        reference: s?.reference ?? null,
        generatedAt: s?.generatedAt ?? null,
        operator: s ? `${s.operator.name} (${s.operator.username})` : null,
        query: s?.query ?? null,
        resultCount: s?.resultCount ?? null,
      };
      await auditVerification({ prisma: ctx.prisma, operator: ctx.operator }, { ok: out.ok, reason: out.reason, sha256: out.sha256, reference: out.reference });
      return out;
    }),
});
