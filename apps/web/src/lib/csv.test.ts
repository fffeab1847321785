import { describe, expect, it } from "vitest";
import { csvCell, toCsv, utf8Bom } from "./csv";

describe("csv", () => {
  it("quotes only what needs it and doubles embedded quotes", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell('House 12, "Block B"')).toBe('"House 12, ""Block B"""');
    expect(csvCell("line1\nline2")).toBe('"line1\nline2"');
    expect(csvCell(443)).toBe("443");
    expect(csvCell(null)).toBe("");
    expect(csvCell(undefined)).toBe("");
  });

  it("defuses cells a spreadsheet would run as formulas", () => {
    expect(csvCell("=HYPERLINK(\"http://x\")")).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell("+92 300 1234567")).toBe("'+92 300 1234567");
    expect(csvCell("@sum")).toBe("'@sum");
    // Numbers are numbers, never prefixed.
    expect(csvCell(-1)).toBe("-1");
  });

  it("starts with a BOM, ends lines with CRLF and keeps UTF-8 text", () => {
    const text = toCsv(["name", "city"], [["محمد علی", "Lahore"], ["Zoë", null]]);
    expect(text.startsWith(utf8Bom)).toBe(true);
    expect(text.slice(1)).toBe("name,city\r\nمحمد علی,Lahore\r\nZoë,\r\n");
    expect([...Buffer.from(text, "utf8").subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});
