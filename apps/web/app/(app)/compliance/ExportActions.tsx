"use client";

/** CSV download, the officer's request reference, and the signed PDF once a reference is entered (IPv4 and IPv6 results). */
export function ExportActions({
  csvHref,
  pdfHref,
  reference,
  onReference,
}: {
  csvHref: string;
  pdfHref: string | undefined;
  reference: string;
  onReference: (value: string) => void;
}) {
  return (
    <div className="actions-row wrap">
      <a className="button" href={csvHref} download data-testid="export-csv">
        Download CSV
      </a>
      <label className="inline">
        Request reference
        <input value={reference} onChange={(e) => onReference(e.target.value)} maxLength={120} placeholder="e.g. FIA/CCW/2026/1234" data-testid="report-reference" />
      </label>
      {pdfHref ? (
        <a className="button primary" href={pdfHref} download data-testid="export-pdf">
          Download signed PDF
        </a>
      ) : (
        <span className="muted">Enter the request reference to produce the signed PDF report.</span>
      )}
    </div>
  );
}
