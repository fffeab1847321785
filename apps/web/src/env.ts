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
  complianceSigningKey: raw.COMPLIANCE_SIGNING_KEY,
  complianceSigningKeyFile: raw.COMPLIANCE_SIGNING_KEY_FILE,
} as const;
