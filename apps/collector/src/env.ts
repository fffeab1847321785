// The only module that reads process.env (STYLE.md 11). Everything else receives a
// typed config from the composition root, so tests build configs without touching env.
import { readFileSync } from "node:fs";
import { parseKeyring, type SecretsKeyring } from "@isp/db/secrets";
import { z } from "zod";

const DEV_AUTH_SECRET = "dev-only-insecure-auth-secret-change-me";

const port = z.coerce.number().int().min(0).max(65535);
const onOff = z
  .enum(["on", "off", "true", "false", "1", "0"])
  .transform((v) => v === "on" || v === "true" || v === "1");
/** A port, or "off" (null) to not listen at all. */
const portOrOff = z.union([z.literal("off").transform(() => null), port]);

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
  /** Local state: the accounting spool (docs/radius-accounting.md). */
  COLLECTOR_DATA_DIR: z.string().min(1).default(".data/collector"),
  ACCT_SPOOL_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(256 * 1024 * 1024),
  ACCT_SLOW_WRITE_MS: z.coerce.number().int().min(10).max(60_000).default(50),
  /** NAT syslog listener (docs/nat-ingest.md): SYSLOG=off, or a port "off", turns it off. */
  SYSLOG: onOff.default(true),
  SYSLOG_HOST: z.string().min(1).default("0.0.0.0"),
  SYSLOG_UDP_PORT: portOrOff.default(5514),
  SYSLOG_TCP_PORT: portOrOff.default(5514),
  SYSLOG_TCP_CONNECTIONS_MAX: z.coerce.number().int().min(1).max(65_535).default(256),
  /** SO_RCVBUF asked for the UDP socket; Linux caps it at net.core.rmem_max (the granted size is logged). */
  SYSLOG_UDP_RCVBUF_BYTES: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(32 * 1024 * 1024),
  /** Receive UDP syslog on a worker thread (docs/nat-ingest.md); off = on the main thread. */
  SYSLOG_UDP_WORKER: onOff.default(true),
  /** Routers' RFC 3164 timestamps carry no zone: their UTC offset (PKT = 300). */
  SYSLOG_RFC3164_UTC_OFFSET_MIN: z.coerce.number().int().min(-720).max(840).default(300),
  /** NAT ingest queue bound (lines and bytes of raw text); beyond it UDP is dropped (counted) and TCP paused. */
  NAT_QUEUE_LINES_MAX: z.coerce.number().int().min(1000).max(10_000_000).default(300_000),
  NAT_QUEUE_BYTES_MAX: z.coerce.number().int().min(1024 * 1024).max(4 * 1024 ** 3).default(128 * 1024 * 1024),
  NAT_SPOOL_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
  /** PPPoE passwords at rest (AES-256-GCM): 32 bytes as 64 hex digits or base64 (docs/radius-auth.md). */
  SECRETS_KEY: z.string().min(1).optional(),
  /** Previous keys, decrypt only, comma-separated (same formats, or "dev"): key rotation (docs/radius-auth.md). */
  SECRETS_KEY_PREVIOUS: z.string().min(1).optional(),
  /** Suspended/expired subscribers whose plan has no policy of its own. */
  SUSPENDED_POLICY: z.enum(["reject", "walled_garden"]).default("reject"),
  WALLED_GARDEN_ADDRESS_LIST: z.string().min(1).default("walled-garden"),
  WALLED_GARDEN_DOWNLOAD_KBPS: z.coerce.number().int().min(1).default(256),
  WALLED_GARDEN_UPLOAD_KBPS: z.coerce.number().int().min(1).default(256),
  /** Billing-vs-router reconciliation per router (docs/enforcement.md); 0 turns it off. */
  RECONCILE_INTERVAL_S: z.coerce.number().int().min(0).max(86_400).default(60),
  /** Billing/dunning job queue (pg-boss, docs/billing-runs.md); crons are in BILLING_TZ. */
  BILLING_SCHEDULER: onOff.default(true),
  BILLING_RUN_CRON: z.string().min(1).default("0 2 1 * *"),
  DUNNING_RUN_CRON: z.string().min(1).default("0 9 * * *"),
  /** Proration of plan changes and terminations (docs/billing-runs.md); also run with each billing and dunning run. */
  BILLING_ADJUSTMENTS_CRON: z.string().min(1).default("*/5 * * * *"),
  BILLING_TZ: z.string().min(1).default("Asia/Karachi"),
  /** PEM CA bundle that signs routers' certificates, for TLS routers without a pinned tls_fingerprint (docs/routeros.md). */
  ROUTEROS_CA_FILE: z.string().min(1).optional(),
});

export type Env = Omit<z.infer<typeof schema>, "AUTH_SECRET" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS"> & {
  AUTH_SECRET: string;
  authSecretIsDevDefault: boolean;
  /** SECRETS_KEY (current) and SECRETS_KEY_PREVIOUS. */
  SECRETS_KEY: SecretsKeyring;
  secretsKeyIsDevDefault: boolean;
  /** ROUTEROS_CA_FILE's contents; null when unset. */
  routerCaPem: string | null;
};

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Empty strings (e.g. `FOO= npm start`) mean "unset", not "invalid".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`invalid collector environment:\n${issues}`);
  }
  const { AUTH_SECRET, SECRETS_KEY, SECRETS_KEY_PREVIOUS, ...rest } = parsed.data;
  if (SECRETS_KEY_PREVIOUS && !SECRETS_KEY) {
    // Rotating onto the public development key is never meant.
    throw new Error("invalid collector environment:\n  SECRETS_KEY_PREVIOUS is set but SECRETS_KEY is not: set the new key as SECRETS_KEY");
  }
  let secretsKey: SecretsKeyring;
  try {
    secretsKey = parseKeyring(SECRETS_KEY, SECRETS_KEY_PREVIOUS);
  } catch (err) {
    // The message names the variable (and the position in SECRETS_KEY_PREVIOUS), never the key.
    throw new Error(`invalid collector environment:\n  ${(err as Error).message}`, { cause: err });
  }
  if (!SECRETS_KEY) {
    console.warn(
      "\n!!! SECRETS_KEY is not set: PPPoE passwords are encrypted with a public development key.\n" +
        "!!! Set SECRETS_KEY (openssl rand -hex 32) before storing real subscribers; keep it safe: without it no password can be checked.\n",
    );
  }
  if (!AUTH_SECRET) {
    console.warn(
      "\n!!! AUTH_SECRET is not set: using a built-in development secret. Live tokens are forgeable.\n" +
        "!!! Set AUTH_SECRET (the same value as the web app) before exposing the collector.\n",
    );
  }
  let routerCaPem: string | null = null;
  if (rest.ROUTEROS_CA_FILE) {
    try {
      routerCaPem = readFileSync(rest.ROUTEROS_CA_FILE, "utf8");
    } catch (err) {
      throw new Error(`invalid collector environment:\n  ROUTEROS_CA_FILE: cannot read ${rest.ROUTEROS_CA_FILE}: ${(err as Error).message}`, { cause: err });
    }
    if (!routerCaPem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new Error(`invalid collector environment:\n  ROUTEROS_CA_FILE: ${rest.ROUTEROS_CA_FILE} holds no PEM certificate`);
    }
  }
  return {
    ...rest,
    routerCaPem,
    AUTH_SECRET: AUTH_SECRET ?? DEV_AUTH_SECRET,
    authSecretIsDevDefault: !AUTH_SECRET,
    SECRETS_KEY: secretsKey,
    secretsKeyIsDevDefault: !SECRETS_KEY,
  };
}
