// The ingest's view of NAT storage; nat-db.ts is the PostgreSQL implementation. The row
// shapes are @isp/db/nat-log's (a type-only import: the queue, spool and resolver still
// load without the database module).
import type { NatLogRow, NatQuarantineRow } from "@isp/db/nat-log";
import type { SessionHit } from "./nat-resolver";

export type { NatLogRow, NatQuarantineRow };

export interface NatDb {
  /** Stores a batch of rows and quarantined lines atomically; throws when the database cannot take it. */
  write(rows: readonly NatLogRow[], quarantine: readonly NatQuarantineRow[]): Promise<void>;
  /** The RADIUS session that held privateIp at time (started_at <= time <= stopped_at), with its span. */
  sessionAt(privateIp: string, time: Date, preferRouterId?: number | null): Promise<(SessionHit & { start: Date; stop: Date | null }) | null>;
}
