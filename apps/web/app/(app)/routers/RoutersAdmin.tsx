"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { formatDateTime } from "~/lib/format";
import {
  firstIssueMessage,
  generateRadiusSecret,
  RADIUS_SECRET_MIN,
  routerApiKinds,
  routerAuthModes,
  routerCreateInput,
  routerUpdateInput,
  routerVendors,
  type RouterCreateInput,
} from "~/lib/router-input";
import type { RouterRowDto } from "~/server/routers/routers";
import { useTRPC } from "~/trpc/react";

/** The form's state: text inputs as typed, converted on submit. */
interface FormState {
  name: string;
  ipAddress: string;
  vendor: (typeof routerVendors)[number];
  location: string;
  radiusSecret: string;
  coaPort: string;
  requireMessageAuthenticator: boolean;
  authMode: (typeof routerAuthModes)[number];
  apiKind: (typeof routerApiKinds)[number];
  apiPort: string;
  apiUsername: string;
  apiPassword: string;
  restUrl: string;
  apiTls: boolean;
  tlsFingerprint: string;
  tlsInsecure: boolean;
}

const emptyForm: FormState = {
  name: "",
  ipAddress: "",
  vendor: "mikrotik",
  location: "",
  radiusSecret: "",
  coaPort: "3799",
  requireMessageAuthenticator: true,
  authMode: "radius",
  apiKind: "none",
  apiPort: "",
  apiUsername: "",
  apiPassword: "",
  restUrl: "",
  apiTls: false,
  tlsFingerprint: "",
  tlsInsecure: false,
};

function formOf(r: RouterRowDto): FormState {
  return {
    name: r.name,
    ipAddress: r.ipAddress,
    vendor: r.vendor,
    location: r.location ?? "",
    radiusSecret: "",
    coaPort: String(r.coaPort),
    requireMessageAuthenticator: r.requireMessageAuthenticator,
    authMode: r.authMode,
    apiKind: r.apiKind,
    apiPort: r.apiPort === null ? "" : String(r.apiPort),
    apiUsername: r.apiUsername ?? "",
    apiPassword: "",
    restUrl: r.restUrl ?? "",
    apiTls: r.apiTls,
    tlsFingerprint: r.tlsFingerprint ?? "",
    tlsInsecure: r.tlsInsecure,
  };
}

/** The procedure's input from the form; empty write-only fields are left out (unchanged). */
function payloadOf(f: FormState): RouterCreateInput {
  return {
    name: f.name,
    ipAddress: f.ipAddress,
    vendor: f.vendor,
    location: f.location,
    radiusSecret: f.radiusSecret,
    coaPort: f.coaPort.trim() === "" ? Number.NaN : Number(f.coaPort),
    requireMessageAuthenticator: f.requireMessageAuthenticator,
    authMode: f.authMode,
    apiKind: f.apiKind,
    apiPort: f.apiPort.trim() === "" ? null : Number(f.apiPort),
    apiUsername: f.apiUsername,
    ...(f.apiPassword !== "" ? { apiPassword: f.apiPassword } : {}),
    restUrl: f.restUrl,
    apiTls: f.apiTls,
    tlsFingerprint: f.tlsFingerprint,
    tlsInsecure: f.tlsInsecure,
  };
}

function tlsState(r: RouterRowDto): { text: string; tone: "ok" | "warn" | "muted" } {
  if (r.apiKind === "none") return { text: "no API", tone: "muted" };
  const tls = r.apiTls || (r.apiKind === "rest" && (r.restUrl ?? "").startsWith("https://"));
  if (!tls) return { text: `${r.apiKind} · clear text`, tone: "warn" };
  if (r.tlsFingerprint) return { text: `${r.apiKind} · TLS pinned`, tone: "ok" };
  if (r.tlsInsecure) return { text: `${r.apiKind} · TLS unverified`, tone: "warn" };
  return { text: `${r.apiKind} · TLS (CA)`, tone: "ok" };
}

/** "24 Nov 2026": the secret column stays narrow; the full time is in the title. */
function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString("en-GB", { day: "2-digit", month: "short", year: "numeric" });
}

type Editing = { mode: "create" } | { mode: "edit"; router: RouterRowDto } | null;

export function RoutersAdmin({ initial, canManage }: { initial: RouterRowDto[]; canManage: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.routers.list.queryOptions(undefined, { initialData: initial, refetchInterval: 30_000 }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.routers.list.queryKey() });
  const [editing, setEditing] = useState<Editing>(null);
  const [message, setMessage] = useState<{ text: string; tone: "ok" | "error" } | null>(null);
  const [confirm, setConfirm] = useState<RouterRowDto | null>(null);

  const onError = (e: { message: string }) => {
    setMessage({ text: firstIssueMessage(e.message), tone: "error" });
    void refresh();
  };
  const deactivate = useMutation(
    trpc.routers.deactivate.mutationOptions({
      onSuccess: (r) => {
        setConfirm(null);
        const name = rows.find((x) => x.id === r.id)?.name ?? `#${r.id}`;
        setMessage({ text: `${name} deactivated: the collector now drops its RADIUS packets.`, tone: "ok" });
        void refresh();
      },
      onError: (e) => {
        setConfirm(null);
        onError(e);
      },
    }),
  );
  const reactivate = useMutation(
    trpc.routers.reactivate.mutationOptions({
      onSuccess: (r) => {
        const name = rows.find((x) => x.id === r.id)?.name ?? `#${r.id}`;
        setMessage({ text: `${name} reactivated: the collector answers it again.`, tone: "ok" });
        void refresh();
      },
      onError,
    }),
  );

  const rows = list.data ?? [];
  const busy = deactivate.isPending || reactivate.isPending;
  const askDeactivate = (r: RouterRowDto) => {
    setMessage(null);
    if (r.openSessions > 0) setConfirm(r);
    else deactivate.mutate({ id: r.id });
  };

  return (
    <main className="page wide" data-testid="routers-page">
      <div className="page-head">
        <h1>Routers (NAS)</h1>
        {canManage && (
          <button
            type="button"
            className="primary"
            data-testid="router-add"
            onClick={() => {
              setMessage(null);
              setEditing({ mode: "create" });
            }}
            disabled={editing?.mode === "create"}
          >
            Add router
          </button>
        )}
        <Link href="/noc">NOC wall</Link>
      </div>

      {message && (
        <p className={message.tone === "ok" ? "ok" : "error"} role={message.tone === "ok" ? "status" : "alert"} data-testid="routers-message">
          {message.text}
        </p>
      )}

      {editing && canManage && (
        <RouterForm
          key={editing.mode === "edit" ? `edit-${editing.router.id}` : "create"}
          editing={editing}
          onDone={(text) => {
            setEditing(null);
            setMessage({ text, tone: "ok" });
            void refresh();
          }}
          onCancel={() => setEditing(null)}
        />
      )}

      {confirm && (
        <section className="card stack" role="alertdialog" aria-labelledby="confirm-deactivate-title" data-testid="deactivate-confirm">
          <h2 id="confirm-deactivate-title">Deactivate {confirm.name}?</h2>
          <p className="warn">
            {confirm.name} has <strong data-testid="deactivate-open-sessions">{confirm.openSessions}</strong> open session{confirm.openSessions === 1 ? "" : "s"}. Once
            inactive, the collector drops every RADIUS packet from {confirm.ipAddress} (logins and accounting), so those sessions stop being
            updated and new logins through it fail.
          </p>
          <div className="actions-row">
            <button
              type="button"
              className="danger"
              disabled={busy}
              data-testid="deactivate-confirm-yes"
              onClick={() => deactivate.mutate({ id: confirm.id, confirmOpenSessions: confirm.openSessions })}
            >
              Deactivate with {confirm.openSessions} open session{confirm.openSessions === 1 ? "" : "s"}
            </button>
            <button type="button" onClick={() => setConfirm(null)} data-testid="deactivate-confirm-no">
              Cancel
            </button>
          </div>
        </section>
      )}

      <section className="card table-scroll" data-testid="routers-table">
        <table className="data compact" aria-label="Routers">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Address</th>
              <th scope="col">Vendor</th>
              <th scope="col">Location</th>
              <th scope="col">State</th>
              <th scope="col" title="Require Message-Authenticator (BlastRADIUS)">Msg-Auth</th>
              <th scope="col">Auth</th>
              <th scope="col">API / TLS</th>
              <th scope="col">Secret</th>
              <th scope="col" className="num" title="Open sessions">
                Sessions
              </th>
              <th scope="col">Last seen</th>
              {canManage && (
                <th scope="col">
                  <span className="muted">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const tls = tlsState(r);
              return (
                <tr key={r.id} data-testid="router-row" data-router-id={r.id} data-name={r.name} data-active={r.active ? "true" : "false"}>
                  <td>
                    <strong>{r.name}</strong>
                    <br />
                    {/* Everyone who sees this page (noc, admin) may read the auth log. */}
                    <Link href={`/noc/auth-log?router=${r.id}`} className="muted" data-testid="router-auth-log">
                      login attempts
                    </Link>
                  </td>
                  <td className="mono">{r.ipAddress}</td>
                  <td>{r.vendor}</td>
                  <td className="wrap-cell">{r.location ?? "—"}</td>
                  <td>
                    <span className={`badge ${r.active ? "active" : "terminated"}`} data-testid="router-state">
                      {r.active ? "active" : "inactive"}
                    </span>
                  </td>
                  <td>{r.requireMessageAuthenticator ? <span>required</span> : <span className="warn">not required</span>}</td>
                  <td>{r.authMode}</td>
                  <td className={tls.tone === "muted" ? "muted" : tls.tone}>{tls.text}</td>
                  <td data-testid="router-secret">
                    set
                    {r.secretChangedAt && (
                      <div className="muted" title={formatDateTime(r.secretChangedAt)}>
                        changed {formatDate(r.secretChangedAt)}
                      </div>
                    )}
                  </td>
                  <td className="num" data-testid="router-open-sessions">
                    {r.openSessions}
                  </td>
                  <td>{r.lastSeenAt ? formatDateTime(r.lastSeenAt) : <span className="muted">—</span>}</td>
                  {canManage && (
                    <td>
                      <div className="actions-row">
                        <button
                          type="button"
                          onClick={() => {
                            setMessage(null);
                            setEditing({ mode: "edit", router: r });
                          }}
                          data-testid="router-edit"
                          aria-label={`Edit ${r.name}`}
                        >
                          Edit
                        </button>
                        {r.active ? (
                          <button type="button" className="danger" disabled={busy} onClick={() => askDeactivate(r)} data-testid="router-deactivate" aria-label={`Deactivate ${r.name}`}>
                            Deactivate
                          </button>
                        ) : (
                          <button
                            type="button"
                            disabled={busy}
                            onClick={() => {
                              setMessage(null);
                              reactivate.mutate({ id: r.id });
                            }}
                            data-testid="router-reactivate"
                            aria-label={`Reactivate ${r.name}`}
                          >
                            Reactivate
                          </button>
                        )}
                      </div>
                    </td>
                  )}
                </tr>
              );
            })}
            {rows.length === 0 && (
              <tr>
                <td colSpan={canManage ? 12 : 11} className="muted">
                  No routers yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <p className="muted">
        Last seen: the newest accounting update from the router&apos;s open sessions. Changes reach the collector at once (no restart).
      </p>
    </main>
  );
}

function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
      {hint && <small className="muted">{hint}</small>}
    </label>
  );
}

function RouterForm({ editing, onDone, onCancel }: { editing: NonNullable<Editing>; onDone: (text: string) => void; onCancel: () => void }) {
  const trpc = useTRPC();
  const existing = editing.mode === "edit" ? editing.router : null;
  const [f, setF] = useState<FormState>(existing ? formOf(existing) : emptyForm);
  const [formError, setFormError] = useState<string | null>(null);
  const titleId = useId();
  const set = <K extends keyof FormState>(k: K) => (v: FormState[K]) => {
    setF((prev) => ({ ...prev, [k]: v }));
    setFormError(null);
  };
  const create = useMutation(trpc.routers.create.mutationOptions({ onSuccess: () => onDone(`Router ${f.name.trim()} added: the collector answers ${f.ipAddress.trim()} now.`) }));
  const update = useMutation(
    trpc.routers.update.mutationOptions({ onSuccess: (r) => onDone(r.changed ? `Router ${f.name.trim()} saved.` : `Nothing changed on ${f.name.trim()}.`) }),
  );
  const pending = create.isPending || update.isPending;
  const serverError = create.error ?? update.error;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (pending) return;
    const payload = payloadOf(f);
    create.reset();
    update.reset();
    if (existing) {
      const { radiusSecret, ...rest } = payload;
      const input = { ...rest, id: existing.id, ...(radiusSecret !== "" ? { radiusSecret } : {}) };
      const parsed = routerUpdateInput.safeParse(input);
      if (!parsed.success) return setFormError(parsed.error.issues[0]?.message ?? "Check the form");
      if (f.apiKind !== "none" && !existing.apiPasswordSet && f.apiPassword === "") return setFormError("Enter the RouterOS API password");
      update.mutate(input);
    } else {
      const parsed = routerCreateInput.safeParse(payload);
      if (!parsed.success) return setFormError(parsed.error.issues[0]?.message ?? "Check the form");
      create.mutate(payload);
    }
  };

  const api = f.apiKind !== "none";
  const secretHint = existing
    ? `Set${existing.secretChangedAt ? `, changed ${formatDateTime(existing.secretChangedAt)}` : ""}. Leave empty to keep it.`
    : `At least ${RADIUS_SECRET_MIN} characters; enter the same on the router.`;
  return (
    <section className="card stack" aria-labelledby={titleId} data-testid="router-form">
      <h2 id={titleId}>{existing ? `Edit ${existing.name}` : "Add router"}</h2>
      <form className="stack" onSubmit={submit} noValidate>
        <fieldset className="form-grid group">
          <legend className="muted">Identity</legend>
          <Field label="Name">
            <input value={f.name} onChange={(e) => set("name")(e.target.value)} maxLength={64} required data-testid="router-name" />
          </Field>
          <Field label="IP address (RADIUS source)">
            <input
              value={f.ipAddress}
              onChange={(e) => set("ipAddress")(e.target.value)}
              maxLength={45}
              className="mono"
              placeholder="10.0.0.1 or 2001:db8::1"
              required
              data-testid="router-ip"
            />
          </Field>
          <Field label="Vendor">
            <select value={f.vendor} onChange={(e) => set("vendor")(e.target.value as FormState["vendor"])} data-testid="router-vendor">
              {routerVendors.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Location">
            <input value={f.location} onChange={(e) => set("location")(e.target.value)} maxLength={100} data-testid="router-location" />
          </Field>
        </fieldset>

        <fieldset className="form-grid group">
          <legend className="muted">RADIUS</legend>
          <Field label="Shared secret" hint={secretHint}>
            <span className="inline">
              <input
                value={f.radiusSecret}
                onChange={(e) => set("radiusSecret")(e.target.value)}
                maxLength={128}
                className="mono"
                autoComplete="off"
                spellCheck={false}
                size={36}
                placeholder={existing ? "unchanged" : ""}
                data-testid="router-secret-input"
              />
              <button type="button" onClick={() => set("radiusSecret")(generateRadiusSecret())} data-testid="router-secret-generate">
                Generate
              </button>
            </span>
          </Field>
          <Field label="CoA port">
            <input value={f.coaPort} onChange={(e) => set("coaPort")(e.target.value)} inputMode="numeric" maxLength={5} size={6} className="mono" data-testid="router-coa-port" />
          </Field>
          <Field label="Authentication">
            <select value={f.authMode} onChange={(e) => set("authMode")(e.target.value as FormState["authMode"])} data-testid="router-auth-mode">
              <option value="radius">radius (this server decides)</option>
              <option value="local">local (router&apos;s /ppp/secret, synced)</option>
            </select>
          </Field>
          <div className="field end">
            <label className="inline">
              <input
                type="checkbox"
                checked={f.requireMessageAuthenticator}
                onChange={(e) => set("requireMessageAuthenticator")(e.target.checked)}
                data-testid="router-require-ma"
              />
              Require Message-Authenticator
            </label>
          </div>
        </fieldset>
        {existing && f.radiusSecret !== "" && existing.active && (
          <p className="warn" role="note">
            A new secret applies at once: change it on the router at the same time, or its requests are dropped until then.
          </p>
        )}
        {!f.requireMessageAuthenticator && (
          <p className="warn" role="alert" data-testid="router-ma-warning">
            BlastRADIUS (CVE-2024-3596): without a required Message-Authenticator, an attacker on the path between this router and the
            collector can forge an Access-Accept. Turn it off only for a NAS that cannot sign its requests, and upgrade it.
          </p>
        )}

        <fieldset className="form-grid group">
          <legend className="muted">RouterOS API (enforcement, local auth)</legend>
          <Field label="Kind">
            <select value={f.apiKind} onChange={(e) => set("apiKind")(e.target.value as FormState["apiKind"])} data-testid="router-api-kind">
              <option value="none">none</option>
              <option value="api">api (8728, api-ssl 8729)</option>
              <option value="rest">rest (RouterOS 7)</option>
            </select>
          </Field>
          {api && (
            <>
              {f.apiKind === "api" && (
                <Field label="Port" hint={`empty: ${f.apiTls ? 8729 : 8728}`}>
                  <input value={f.apiPort} onChange={(e) => set("apiPort")(e.target.value)} inputMode="numeric" maxLength={5} size={6} className="mono" data-testid="router-api-port" />
                </Field>
              )}
              {f.apiKind === "rest" && (
                <Field label="REST URL">
                  <input value={f.restUrl} onChange={(e) => set("restUrl")(e.target.value)} maxLength={200} className="mono" placeholder="https://10.0.0.1" data-testid="router-rest-url" />
                </Field>
              )}
              <Field label="Username">
                <input value={f.apiUsername} onChange={(e) => set("apiUsername")(e.target.value)} maxLength={64} autoComplete="off" data-testid="router-api-username" />
              </Field>
              <Field label="Password" hint={existing?.apiPasswordSet ? "Set. Leave empty to keep it." : undefined}>
                <input
                  type="password"
                  value={f.apiPassword}
                  onChange={(e) => set("apiPassword")(e.target.value)}
                  maxLength={128}
                  autoComplete="new-password"
                  placeholder={existing?.apiPasswordSet ? "unchanged" : ""}
                  data-testid="router-api-password"
                />
              </Field>
              <div className="field end">
                <label className="inline">
                  <input type="checkbox" checked={f.apiTls} onChange={(e) => set("apiTls")(e.target.checked)} data-testid="router-api-tls" />
                  TLS (api-ssl / https)
                </label>
              </div>
              <Field label="Certificate SHA-256 pin" hint="64 hex digits; colons and upper case accepted">
                <input
                  value={f.tlsFingerprint}
                  onChange={(e) => set("tlsFingerprint")(e.target.value)}
                  maxLength={200}
                  size={50}
                  className="mono"
                  spellCheck={false}
                  data-testid="router-tls-fingerprint"
                />
              </Field>
              <div className="field end">
                <label className="inline">
                  <input type="checkbox" checked={f.tlsInsecure} onChange={(e) => set("tlsInsecure")(e.target.checked)} data-testid="router-tls-insecure" />
                  Accept any certificate (insecure)
                </label>
              </div>
            </>
          )}
        </fieldset>
        {api && f.tlsInsecure && f.tlsFingerprint.trim() === "" && (
          <p className="warn" role="alert" data-testid="router-insecure-warning">
            Accepting any certificate encrypts but does not authenticate: anyone on the path can pose as this router and collect the API
            password. Pin the router&apos;s certificate fingerprint instead (docs/routeros.md, &quot;TLS&quot;).
          </p>
        )}
        {api && !f.apiTls && !(f.apiKind === "rest" && f.restUrl.startsWith("https://")) && (
          <p className="warn" role="note">
            Without TLS the API password crosses the network in clear text.
          </p>
        )}

        <div className="actions-row">
          <button type="submit" className="primary" disabled={pending} data-testid="router-save">
            {pending ? "Saving…" : existing ? "Save changes" : "Add router"}
          </button>
          <button type="button" onClick={onCancel} data-testid="router-cancel">
            Cancel
          </button>
        </div>
        {(formError ?? serverError) && (
          <p className="error" role="alert" data-testid="router-form-error">
            {formError ?? firstIssueMessage(serverError?.message ?? "")}
          </p>
        )}
      </form>
    </section>
  );
}
