// The ingest's view of NAT storage. The row shapes are those of @isp/db/nat-log (kept
// here structurally so the queue, spool and resolver load without a database module);
// nat-db.ts is the PostgreSQL implementation.
import type { SessionHit } from "./nat-resolver";

export interface NatLogRow {
  time: Date;
  routerId: number | null;
  sourceIp: string;
  event: "open" | "close" | "packet";
  protocol: string;
  privateIp: string;
  privatePort: number | null;
  publicIp: string;
  publicPort: number | null;
  destIp: string;
  destPort: number | null;
  subscriberId: number | null;
  acctSessionId: string | null;
  pppoeUser: string | null;
  srcMac: string | null;
}

export interface NatQuarantineRow {
  receivedAt: Date;
  sourceIp: string;
  reason: string;
  raw: string;
}

export interface NatDb {
  /** Stores a batch of rows and quarantined lines atomically; throws when the database cannot take it. */
  write(rows: readonly NatLogRow[], quarantine: readonly NatQuarantineRow[]): Promise<void>;
  /** The RADIUS session that held privateIp at time (started_at <= time <= stopped_at), with its span. */
  sessionAt(privateIp: string, time: Date, preferRouterId?: number | null): Promise<(SessionHit & { start: Date; stop: Date | null }) | null>;
}
