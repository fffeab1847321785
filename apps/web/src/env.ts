// The only module that reads process.env (STYLE.md 11). Parsed once, at first import.
import { z } from "zod";

// Same development default as apps/collector, so live tokens verify when neither sets a secret.
const devSecret = "dev-only-insecure-auth-secret-change-me";

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  // Required to serve requests; `next build` evaluates modules without it, so the check
  // happens where the database is first used (src/server/db.ts).
  DATABASE_URL: z.string().url().optional(),
  AUTH_SECRET: z.string().min(16).optional(),
  NEXTAUTH_SECRET: z.string().min(16).optional(),
  NEXTAUTH_URL: z.string().url().optional(),
  LIVE_PUBLIC_URL: z.string().url().default("http://localhost:3001"),
  NEXT_PHASE: z.string().optional(),
  // Printed at the top of compliance reports.
  ISP_NAME: z.string().trim().min(1).max(120).default("Demo ISP (Pvt) Ltd"),
  // The ISP's details printed on invoices (docs/billing-runs.md "Invoice PDFs"). The
  // defaults are demo values: set every one of them in production.
  ISP_ADDRESS: z.string().trim().min(1).max(200).default("Office 4, 2nd Floor, Plot 12-C, Shahrah-e-Faisal, Karachi 75350"),
  ISP_PHONE: z.string().trim().min(1).max(60).default("021-111-477-000"),
  ISP_EMAIL: z.string().trim().min(1).max(120).default("billing@demo-isp.pk"),
  ISP_NTN: z.string().trim().min(1).max(30).default("1234567-8"),
  ISP_STRN: z.string().trim().min(1).max(30).default("17-00-1234-567-89"),
  ISP_BANK_NAME: z.string().trim().min(1).max(120).default("Demo Bank Ltd, Shahrah-e-Faisal branch"),
  ISP_BANK_ACCOUNT_TITLE: z.string().trim().min(1).max(120).default("Demo ISP (Pvt) Ltd"),
  ISP_BANK_IBAN: z.string().trim().regex(/^[A-Z]{2}\d{2}[A-Z0-9]{4,30}$/, "an IBAN without spaces").default("PK36SCBL0000001123456702"),
  ISP_JAZZCASH: z.string().trim().min(1).max(120).default("JazzCash app > Bill Payment > Internet > Demo ISP, with your account number"),
  ISP_EASYPAISA: z.string().trim().min(1).max(120).default("Easypaisa app > Bill Payment > Internet > Demo ISP, with your account number"),
  ISP_PORTAL_URL: z.string().url().default("https://my.demo-isp.pk"),
  // Ed25519 key that signs compliance reports: PKCS#8 PEM, or the 32-byte seed in hex or
  // base64. Unset: a key generated once and kept in COMPLIANCE_SIGNING_KEY_FILE.
  COMPLIANCE_SIGNING_KEY: z.string().min(32).optional(),
  COMPLIANCE_SIGNING_KEY_FILE: z.string().min(1).optional(),
});

const parsed = schema.safeParse(process.env);
if (!parsed.success) {
  throw new Error(`apps/web: invalid environment: ${z.prettifyError(parsed.error)}`);
}
const raw = parsed.data;

const authSecret = raw.AUTH_SECRET ?? raw.NEXTAUTH_SECRET ?? devSecret;
if (authSecret === devSecret && raw.NEXT_PHASE !== "phase-production-build") {
  console.warn("[web] AUTH_SECRET is not set: using an insecure development secret. Set AUTH_SECRET in production.");
}

export const env = {
  nodeEnv: raw.NODE_ENV,
  databaseUrl: raw.DATABASE_URL,
  authSecret,
  nextAuthUrl: raw.NEXTAUTH_URL,
  livePublicUrl: raw.LIVE_PUBLIC_URL,
  ispName: raw.ISP_NAME,
  ispProfile: {
    name: raw.ISP_NAME,
    address: raw.ISP_ADDRESS,
    phone: raw.ISP_PHONE,
    email: raw.ISP_EMAIL,
    ntn: raw.ISP_NTN,
    strn: raw.ISP_STRN,
    bankName: raw.ISP_BANK_NAME,
    bankAccountTitle: raw.ISP_BANK_ACCOUNT_TITLE,
    iban: raw.ISP_BANK_IBAN,
    jazzCash: raw.ISP_JAZZCASH,
    easypaisa: raw.ISP_EASYPAISA,
    portalUrl: raw.ISP_PORTAL_URL,
  },
  complianceSigningKey: raw.COMPLIANCE_SIGNING_KEY,
  complianceSigningKeyFile: raw.COMPLIANCE_SIGNING_KEY_FILE,
} as const;
