// CSV for spreadsheets (RFC 4180). Pure.
// Excel only reads a CSV as UTF-8 when it starts with a byte order mark; without it the
// Urdu or accented letters in names and addresses come out as mojibake.
export const utf8Bom = "\uFEFF";

export type CsvValue = string | number | boolean | null | undefined;

// A cell starting with one of these is run as a formula by Excel and LibreOffice (CSV
// injection, OWASP); a leading apostrophe keeps it text and is not shown.
const formulaStart = /^[=+\-@\t\r]/;

export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && formulaStart.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Header plus rows, CRLF line ends, with the BOM. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  const lines = [header, ...rows].map((r) => r.map(csvCell).join(","));
  return `${utf8Bom}${lines.join("\r\n")}\r\n`;
}
