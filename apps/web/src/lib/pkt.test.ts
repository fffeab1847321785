import { describe, expect, it } from "vitest";
import { formatPkt, formatUtc, parsePktLocal, toPktLocalInput } from "./pkt";

describe("Pakistan time", () => {
  it("reads a datetime-local value as UTC+05:00, with or without seconds", () => {
    expect(parsePktLocal("2026-11-24T15:04")?.toISOString()).toBe("2026-11-24T10:04:00.000Z");
    expect(parsePktLocal("2026-11-24 15:04:05")?.toISOString()).toBe("2026-11-24T10:04:05.000Z");
    // Midnight PKT is still the previous day in UTC.
    expect(parsePktLocal("2026-01-01T02:30:00")?.toISOString()).toBe("2025-12-31T21:30:00.000Z");
  });

  it("refuses malformed and impossible times instead of rolling them over", () => {
    for (const bad of ["", "2026-11-24", "2026-02-31T10:00", "2026-11-24T24:00", "2026-13-01T00:00", "24/11/2026 10:00", "2026-11-24T10:00:60"]) {
      expect(parsePktLocal(bad), bad).toBeNull();
    }
  });

  it("prints both zones explicitly and round-trips through the input format", () => {
    const t = new Date("2026-06-30T19:00:09Z");
    expect(formatPkt(t)).toBe("2026-07-01 00:00:09 PKT");
    expect(formatUtc(t)).toBe("2026-06-30 19:00:09 UTC");
    expect(toPktLocalInput(t)).toBe("2026-07-01T00:00:09");
    expect(parsePktLocal(toPktLocalInput(t))?.getTime()).toBe(t.getTime());
    expect(formatPkt("not a date")).toBe("—");
  });

  it("agrees with the IANA zone database for Asia/Karachi", () => {
    const t = new Date("2026-03-15T12:34:56Z");
    const viaIntl = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Karachi", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .format(t)
      .replace(", ", " ");
    expect(formatPkt(t)).toBe(`${viaIntl} PKT`);
  });
});
