// The only module that reads process.env (STYLE.md 11). Everything else receives a
// typed config from the composition root, so tests build configs without touching env.
import { z } from "zod";

const DEV_AUTH_SECRET = "dev-only-insecure-auth-secret-change-me";

const port = z.coerce.number().int().min(0).max(65535);
const onOff = z
  .enum(["on", "off", "true", "false", "1", "0"])
  .transform((v) => v === "on" || v === "true" || v === "1");

const schema = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  RADIUS_AUTH_PORT: port.default(1812),
  RADIUS_ACCT_PORT: port.default(1813),
  RADIUS_HOST: z.string().min(1).default("0.0.0.0"),
  LIVE_PORT: port.default(3001),
  LIVE_CORS_ORIGIN: z.string().min(1).default("http://localhost:3000"),
  AUTH_SECRET: z.string().min(16).optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  SIMULATOR: onOff.default(false),
  SIMULATOR_SESSIONS: z.coerce.number().int().min(0).max(100_000).default(300),
  ACCT_INTERIM_INTERVAL_S: z.coerce.number().int().min(10).max(86_400).default(60),
});

export type Env = Omit<z.infer<typeof schema>, "AUTH_SECRET"> & {
  AUTH_SECRET: string;
  authSecretIsDevDefault: boolean;
};

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Empty strings (e.g. `FOO= npm start`) mean "unset", not "invalid".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`invalid collector environment:\n${issues}`);
  }
  const { AUTH_SECRET, ...rest } = parsed.data;
  if (!AUTH_SECRET) {
    console.warn(
      "\n!!! AUTH_SECRET is not set: using a built-in development secret. Live tokens are forgeable.\n" +
        "!!! Set AUTH_SECRET (the same value as the web app) before exposing the collector.\n",
    );
  }
  return { ...rest, AUTH_SECRET: AUTH_SECRET ?? DEV_AUTH_SECRET, authSecretIsDevDefault: !AUTH_SECRET };
}
