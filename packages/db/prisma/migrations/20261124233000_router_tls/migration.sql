-- TLS to routers (issue 4): the RouterOS API over api-ssl (8729) and REST over https, so
-- router admin credentials do not cross the network in clear text (docs/routeros.md, "TLS").
-- RouterOS certificates are self-signed, so a router is verified by a pinned SHA-256
-- fingerprint of its certificate, else by the collector's CA file (ROUTEROS_CA_FILE), else
-- by the public CAs (which refuse a self-signed certificate); tls_insecure accepts any
-- certificate (encrypted, not authenticated) and must be set on purpose.
-- api_tls applies to the API (api_kind = api) and requires https:// for REST.

-- AlterTable
ALTER TABLE "routers" ADD COLUMN "api_tls" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "tls_fingerprint" TEXT,
ADD COLUMN "tls_insecure" BOOLEAN NOT NULL DEFAULT false;

-- The fingerprint as the collector compares it: 64 lowercase hex digits, no colons.
ALTER TABLE "routers" ADD CONSTRAINT "routers_tls_fingerprint_format" CHECK ("tls_fingerprint" IS NULL OR "tls_fingerprint" ~ '^[0-9a-f]{64}$');
