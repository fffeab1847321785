"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type ChangeEvent } from "react";
import { formatPkt, formatUtc } from "~/lib/pkt";
import { useTRPC } from "~/trpc/react";

const pdfBytesMax = 20 * 1024 * 1024;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

export function VerifyPanel() {
  const trpc = useTRPC();
  const key = useQuery(trpc.compliance.signingKey.queryOptions());
  const verify = useMutation(trpc.compliance.verify.mutationOptions());
  const [fileError, setFileError] = useState<string | null>(null);

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    verify.reset();
    setFileError(null);
    if (!file) return;
    if (file.size > pdfBytesMax) {
      setFileError("This file is larger than any report we issue.");
      return;
    }
    verify.mutate({ pdfBase64: toBase64(new Uint8Array(await file.arrayBuffer())) });
  };

  const v = verify.data;
  return (
    <div className="stack">
      <section className="card stack">
        <p className="muted">
          Reports are signed with Ed25519. Give the public key below to whoever needs to check our reports; its fingerprint is printed on every report.
        </p>
        <dl className="kv">
          <dt>Key fingerprint</dt>
          <dd className="mono" data-testid="key-fingerprint">
            {key.data?.fingerprint ?? (key.error ? key.error.message : "…")}
          </dd>
          <dt>Public key</dt>
          <dd>
            <a href="/api/compliance/public-key" download>
              Download (PEM)
            </a>
          </dd>
        </dl>
      </section>
      <section className="card stack">
        <label className="field">
          <span>Report PDF to check</span>
          <input type="file" accept="application/pdf,.pdf" onChange={(e) => void onFile(e)} data-testid="verify-file" />
        </label>
        {verify.isPending && <p className="muted">Checking…</p>}
        {(fileError ?? verify.error) && (
          <p className="error" data-testid="verify-error">
            {fileError ?? verify.error?.message}
          </p>
        )}
        {v && (
          <div data-testid="verify-result" data-ok={String(v.ok)}>
            <p className={v.ok ? "ok" : "error"}>
              <strong>{v.ok ? "Valid: signed by this ISP's key and unaltered." : `Not valid: ${v.reason}`}</strong>
            </p>
            {v.reference !== null && (
              <dl className="kv">
                <dt>Reference</dt>
                <dd>{v.reference}</dd>
                <dt>Generated</dt>
                <dd>{v.generatedAt ? `${formatPkt(v.generatedAt)} (${formatUtc(v.generatedAt)})` : "—"}</dd>
                <dt>By</dt>
                <dd>{v.operator}</dd>
                <dt>Query</dt>
                <dd className="mono">
                  {v.query ? `${v.query.publicIp}${v.query.publicPort === null ? "" : ` port ${v.query.publicPort}`}, ${formatPkt(v.query.from)} – ${formatPkt(v.query.to)}` : "—"}
                </dd>
                <dt>Records</dt>
                <dd>{v.resultCount}</dd>
                {v.sha256 && (
                  <>
                    <dt>SHA-256</dt>
                    <dd className="mono">{v.sha256}</dd>
                  </>
                )}
              </dl>
            )}
          </div>
        )}
      </section>
    </div>
  );
}
