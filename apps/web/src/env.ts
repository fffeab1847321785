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
} as const;
