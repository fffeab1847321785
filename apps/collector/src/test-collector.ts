// Shared by the collector's integration tests: every test collector listens on loopback,
// on ports the kernel picks (port 0), with a placeholder CORS origin for the live hub.
// Each test spreads this and adds what it is about (enforcement timings, secrets, ...).
import type { CollectorConfig } from "./collector";

export function loopbackEndpoints(
  databaseUrl: string,
): Pick<CollectorConfig, "databaseUrl" | "radiusHost" | "authPort" | "acctPort" | "liveHost" | "livePort" | "liveCorsOrigin"> {
  return { databaseUrl, radiusHost: "127.0.0.1", authPort: 0, acctPort: 0, liveHost: "127.0.0.1", livePort: 0, liveCorsOrigin: "http://localhost:3000" };
}
