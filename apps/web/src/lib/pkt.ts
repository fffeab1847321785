// Pakistan time for compliance screens and reports. Pure; shared by server and client.
// PKT has been UTC+05:00 all year since 2009 (DST ran only in 2002, 2008 and 2009), and the
// records we hold are 12 months old at most, so a fixed offset converts exactly both ways and
// never depends on the browser's or the server's own time zone.
export const pktZone = "Asia/Karachi";
export const pktOffsetMs = 5 * 60 * 60 * 1000;

const localPattern = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * "2026-11-24T15:04" or "2026-11-24 15:04:05" (an <input type="datetime-local"> value)
 * read as Pakistan time. Null for anything malformed or impossible (31 February, 24:00).
 */
export function parsePktLocal(text: string): Date | null {
  const m = localPattern.exec(text.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(asUtc);
  // Date.UTC rolls 31 Feb into March; a round trip catches it.
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || check.getUTCHours() !== h || check.getUTCMinutes() !== mi || check.getUTCSeconds() !== s) {
    return null;
  }
  return new Date(asUtc - pktOffsetMs);
}

function toDate(value: Date | string): Date | null {
  const d = typeof value === "string" ? new Date(value) : value;
  return Number.isNaN(d.getTime()) ? null : d;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** "2026-11-24 15:04:05 PKT". */
export function formatPkt(value: Date | string): string {
  const d = toDate(value);
  return d ? `${isoSeconds(d.getTime() + pktOffsetMs)} PKT` : "—";
}

/** "2026-11-24 10:04:05 UTC". */
export function formatUtc(value: Date | string): string {
  const d = toDate(value);
  return d ? `${isoSeconds(d.getTime())} UTC` : "—";
}

/** The value an <input type="datetime-local" step="1"> shows for this instant in PKT. */
export function toPktLocalInput(value: Date | string): string {
  const d = toDate(value);
  return d ? isoSeconds(d.getTime() + pktOffsetMs).replace(" ", "T") : "";
}
