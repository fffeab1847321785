// Persistence for the billing and dunning runs (apps/collector/src/billing). Plain data
// in and out: the amounts, documents and dunning decisions come from @isp/billing in the
// caller; this module only writes them set-based and idempotently. Every writer of
// invoices locks its series' counter row first, so numbers are gapless per series.
import pg from "pg";

export type Db = pg.ClientBase | pg.Pool;

/** Writing the entries of a transaction in one statement keeps the balance trigger happy. */
export interface LedgerTxInput {
  key: string;
  kind: string;
  subscriberId: number | null;
  /** YYYY-MM-DD business date. */
  occurredOn: string;
  /** Signed: debit positive, credit negative. */
  entries: { account: string; amountPaisa: number }[];
}

export interface TemplateLine {
  position: number;
  kind: string;
  description: string;
  revenueAccount: string;
  chargedPaisa: number;
  discountPaisa: number;
  netPaisa: number;
  taxPaisa: number;
  totalPaisa: number;
  taxes: unknown;
}

/** The same document for every subscriber on a plan in a city (prices and taxes match). */
export interface InvoiceTemplate {
  planId: number;
  city: string;
  kind: "invoice" | "credit_note";
  netPaisa: number;
  taxPaisa: number;
  totalPaisa: number;
  lines: TemplateLine[];
  /** `receivable` stands for the subscriber's own `receivable:<id>` account. */
  entries: { account: string; amountPaisa: number }[];
}

export interface RunRow {
  id: string;
  kind: string;
  periodStart: string;
  status: "running" | "completed" | "failed";
  cursor: number;
  processed: number;
  created: number;
}

export async function withTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const runColumns = `id::text AS id, kind, to_char(period_start, 'YYYY-MM-DD') AS "periodStart", status, cursor, processed, created`;

/**
 * The unfinished run of this kind and period (resumed from its cursor), or a new one.
 * The caller holds `lockRun` so two runs of one period never interleave.
 */
export async function startOrResumeRun(db: Db, kind: string, periodStart: string): Promise<{ run: RunRow; resumed: boolean }> {
  const open = await db.query<RunRow>(
    `UPDATE billing_runs SET status = 'running', error = NULL
     WHERE id = (SELECT id FROM billing_runs WHERE kind = $1 AND period_start = $2 AND status <> 'completed' ORDER BY id DESC LIMIT 1)
     RETURNING ${runColumns}`,
    [kind, periodStart],
  );
  if (open.rows[0]) return { run: open.rows[0], resumed: true };
  const r = await db.query<RunRow>(`INSERT INTO billing_runs (kind, period_start) VALUES ($1, $2) RETURNING ${runColumns}`, [kind, periodStart]);
  return { run: r.rows[0]!, resumed: false };
}

/** Session advisory lock on a run's (kind, period); false when another run holds it. */
export async function lockRun(db: Db, kind: string, periodStart: string): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext('billing_run'), hashtext($1 || ':' || $2)) AS ok`, [kind, periodStart]);
  return r.rows[0]?.ok === true;
}

export async function unlockRun(db: Db, kind: string, periodStart: string): Promise<void> {
  await db.query(`SELECT pg_advisory_unlock(hashtext('billing_run'), hashtext($1 || ':' || $2))`, [kind, periodStart]);
}

export async function finishRun(db: Db, runId: string, status: "completed" | "failed", error: string | null = null): Promise<void> {
  await db.query(`UPDATE billing_runs SET status = $2::billing_run_status, error = $3, finished_at = CASE WHEN $2::text = 'completed' THEN now() ELSE finished_at END WHERE id = $1`, [
    runId,
    status,
    error,
  ]);
}

export async function getRun(db: Db, runId: string): Promise<RunRow | null> {
  const r = await db.query<RunRow>(`SELECT ${runColumns} FROM billing_runs WHERE id = $1`, [runId]);
  return r.rows[0] ?? null;
}

export interface BillableFilter {
  statuses: readonly string[];
  planIds: readonly number[];
}

export async function countBillable(db: Db, f: BillableFilter, afterId = 0): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM subscribers WHERE id > $1 AND status::text = ANY($2) AND plan_id = ANY($3)`,
    [afterId, f.statuses, f.planIds],
  );
  return r.rows[0]?.n ?? 0;
}

/** Distinct (plan, city) pairs of billable subscribers: one template each. */
export async function billablePlanCities(db: Db, f: BillableFilter): Promise<{ planId: number; city: string }[]> {
  const r = await db.query<{ planId: number; city: string }>(
    `SELECT DISTINCT plan_id AS "planId", city FROM subscribers WHERE status::text = ANY($1) AND plan_id = ANY($2)`,
    [f.statuses, f.planIds],
  );
  return r.rows;
}

export async function planRows(db: Db): Promise<{ id: number; code: string; name: string; pricePaisa: number; billingCycle: string }[]> {
  const r = await db.query(`SELECT id, code, name, price_paisa AS "pricePaisa", billing_cycle::text AS "billingCycle" FROM plans ORDER BY id`);
  return r.rows as { id: number; code: string; name: string; pricePaisa: number; billingCycle: string }[];
}

export interface InvoiceChunkInput extends BillableFilter {
  runId: string;
  series: string;
  periodStart: string;
  periodEnd: string;
  issuedOn: string;
  dueOn: string;
  cursor: number;
  chunkSize: number;
  templates: readonly InvoiceTemplate[];
}

/**
 * One database transaction: the next chunk of billable subscribers after `cursor` gets its
 * invoices, lines and ledger transactions (all set-based), the series counter and the
 * run's progress move with them. Already-billed subscribers are skipped by the unique
 * period key, so a redone chunk creates nothing.
 */
export async function billChunk(pool: pg.Pool, input: InvoiceChunkInput): Promise<{ done: boolean; cursor: number; processed: number; created: number }> {
  return withTransaction(pool, async (c) => {
    const ids = await c.query<{ id: number }>(
      `SELECT id FROM subscribers WHERE id > $1 AND status::text = ANY($2) AND plan_id = ANY($3) ORDER BY id LIMIT $4`,
      [input.cursor, input.statuses, input.planIds, input.chunkSize],
    );
    if (ids.rows.length === 0) return { done: true, cursor: input.cursor, processed: 0, created: 0 };
    const idList = ids.rows.map((r) => r.id);
    const last = idList[idList.length - 1]!;
    await c.query(`INSERT INTO invoice_counters (series) VALUES ($1) ON CONFLICT DO NOTHING`, [input.series]);
    const counter = await c.query<{ last: number }>(`SELECT last_seq AS last FROM invoice_counters WHERE series = $1 FOR UPDATE`, [input.series]);
    const lastSeq = counter.rows[0]?.last ?? 0;
    const r = await c.query<{ candidates: number; inserted: number }>(
      `WITH tpl AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS t(plan_id int, city text, kind invoice_kind, net bigint, tax bigint, total bigint, lines jsonb, entries jsonb)
       ),
       cand AS (
         SELECT s.id AS subscriber_id, t.*, row_number() OVER (ORDER BY s.id) AS rn
         FROM subscribers s JOIN tpl t ON t.plan_id = s.plan_id AND t.city = s.city
         WHERE s.id = ANY($2::int[])
           AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.subscriber_id = s.id AND i.period_start = $3::date AND i.kind = t.kind AND i.source IS NULL)
       ),
       ins AS (
         INSERT INTO invoices (number, series, seq, subscriber_id, kind, period_start, period_end, issued_on, due_date,
                               net_paisa, tax_paisa, total_paisa, billing_run_id, status)
         SELECT $5 || '-' || lpad(($6 + c.rn)::text, 7, '0'), $5, $6 + c.rn, c.subscriber_id, c.kind, $3::date, $4::date, $7::date,
                CASE WHEN c.kind = 'invoice' THEN $8::date ELSE $7::date END, c.net, c.tax, c.total, $9::bigint, 'open'
         FROM cand c
         ON CONFLICT (subscriber_id, period_start, kind) WHERE source IS NULL DO NOTHING
         RETURNING id, subscriber_id
       ),
       lines AS (
         INSERT INTO invoice_lines (invoice_id, position, kind, description, revenue_account, charged_paisa, discount_paisa,
                                    net_paisa, tax_paisa, total_paisa, taxes)
         SELECT i.id, l.position, l.kind, l.description, l."revenueAccount", l."chargedPaisa", l."discountPaisa",
                l."netPaisa", l."taxPaisa", l."totalPaisa", l.taxes
         FROM ins i JOIN cand c USING (subscriber_id)
         CROSS JOIN LATERAL jsonb_to_recordset(c.lines) AS l(position int, kind text, description text, "revenueAccount" text,
           "chargedPaisa" bigint, "discountPaisa" bigint, "netPaisa" bigint, "taxPaisa" bigint, "totalPaisa" bigint, taxes jsonb)
       ),
       ltx AS (
         INSERT INTO ledger_transactions (key, kind, subscriber_id, occurred_on)
         SELECT c.kind::text || ':' || i.subscriber_id || ':' || $3, c.kind::text, i.subscriber_id, $7::date
         FROM ins i JOIN cand c USING (subscriber_id)
         WHERE jsonb_array_length(c.entries) > 0
         RETURNING id, subscriber_id
       ),
       le AS (
         INSERT INTO ledger_entries (transaction_id, account, amount_paisa)
         SELECT t.id, CASE WHEN e.account = 'receivable' THEN 'receivable:' || t.subscriber_id ELSE e.account END, e.amount
         FROM ltx t JOIN cand c USING (subscriber_id)
         CROSS JOIN LATERAL jsonb_to_recordset(c.entries) AS e(account text, amount bigint)
       )
       SELECT (SELECT count(*) FROM cand)::int AS candidates, (SELECT count(*) FROM ins)::int AS inserted`,
      [
        JSON.stringify(
          input.templates.map((t) => ({
            plan_id: t.planId,
            city: t.city,
            kind: t.kind,
            net: t.netPaisa,
            tax: t.taxPaisa,
            total: t.totalPaisa,
            lines: t.lines,
            entries: t.entries.map((e) => ({ account: e.account, amount: e.amountPaisa })),
          })),
        ),
        idList,
        input.periodStart,
        input.periodEnd,
        input.series,
        lastSeq,
        input.issuedOn,
        input.dueOn,
        input.runId,
      ],
    );
    const { candidates, inserted } = r.rows[0] ?? { candidates: 0, inserted: 0 };
    // Numbers were handed out to every candidate; a conflict would leave a hole.
    if (inserted !== candidates) throw new Error(`invoice numbering: ${candidates} candidates but ${inserted} inserted; chunk rolled back`);
    if (inserted > 0) await c.query(`UPDATE invoice_counters SET last_seq = last_seq + $2 WHERE series = $1`, [input.series, inserted]);
    await c.query(`UPDATE billing_runs SET cursor = $2, processed = processed + $3, created = created + $4 WHERE id = $1`, [
      input.runId,
      last,
      idList.length,
      inserted,
    ]);
    return { done: false, cursor: last, processed: idList.length, created: inserted };
  });
}

/** A billable subscriber as the billing run's assignment step sees it. */
export interface BillableSubscriber {
  id: number;
  planId: number;
  city: string;
  billingCycle: string;
  /** Karachi business date of `created_at` (YYYY-MM-DD): the activation date / cycle anchor. */
  activatedOn: string;
  /** An invoice with period_start = the run's `periodStart` exists already (a re-run skips it without writing). */
  periodBilled: boolean;
}

/** One document to write: subscriber, the template (index into `templates`) and its period. */
export interface InvoiceAssignment {
  subscriberId: number;
  template: number;
  /** YYYY-MM-DD; part of the unique (subscriber, period_start, kind) key. */
  periodStart: string;
  /** Last day of service, inclusive. */
  periodEnd: string;
}

export interface AssignedChunkInput extends BillableFilter {
  runId: string;
  /** The month's first day: sets `periodBilled`. */
  periodStart: string;
  series: string;
  issuedOn: string;
  dueOn: string;
  cursor: number;
  chunkSize: number;
  /** Called inside the chunk's transaction with the chunk's subscribers; pure. */
  assign(subs: readonly BillableSubscriber[]): { templates: readonly InvoiceTemplate[]; assignments: readonly InvoiceAssignment[] };
}

/**
 * `billChunk` for runs where subscribers of one plan get different documents (quarterly and
 * yearly anniversaries, prorated first invoices): the caller's `assign` maps each subscriber
 * of the chunk to zero or more (template, period) pairs. Same guarantees: one transaction per
 * chunk, series counter locked, gapless numbers in (subscriber id, period start) order, a
 * period already billed is skipped by its unique key, cursor and progress move with it.
 */
export async function billAssignedChunk(pool: pg.Pool, input: AssignedChunkInput): Promise<{ done: boolean; cursor: number; processed: number; created: number }> {
  return withTransaction(pool, async (c) => {
    const subs = await c.query<BillableSubscriber>(
      `SELECT s.id, s.plan_id AS "planId", s.city, p.billing_cycle::text AS "billingCycle",
              to_char(s.created_at AT TIME ZONE 'Asia/Karachi', 'YYYY-MM-DD') AS "activatedOn", false AS "periodBilled"
       FROM subscribers s JOIN plans p ON p.id = s.plan_id
       WHERE s.id > $1 AND s.status::text = ANY($2) AND s.plan_id = ANY($3) ORDER BY s.id LIMIT $4`,
      [input.cursor, input.statuses, input.planIds, input.chunkSize],
    );
    if (subs.rows.length === 0) return { done: true, cursor: input.cursor, processed: 0, created: 0 };
    // A separate probe by id: as an EXISTS column the planner hashed every invoice of the
    // period for each chunk (64 ms a chunk at 100k); by ids it is 1,000 index probes (~1 ms).
    const billed = await c.query<{ id: number }>(
      `SELECT subscriber_id AS id FROM invoices WHERE subscriber_id = ANY($1::int[]) AND period_start = $2::date AND kind = 'invoice' AND source IS NULL`,
      [subs.rows.map((x) => x.id), input.periodStart],
    );
    if (billed.rows.length > 0) {
      const set = new Set(billed.rows.map((x) => x.id));
      for (const x of subs.rows) x.periodBilled = set.has(x.id);
    }
    const last = subs.rows[subs.rows.length - 1]!.id;
    const { templates, assignments } = input.assign(subs.rows);
    let inserted = 0;
    if (assignments.length > 0) {
      await c.query(`INSERT INTO invoice_counters (series) VALUES ($1) ON CONFLICT DO NOTHING`, [input.series]);
      const counter = await c.query<{ last: number }>(`SELECT last_seq AS last FROM invoice_counters WHERE series = $1 FOR UPDATE`, [input.series]);
      const lastSeq = counter.rows[0]?.last ?? 0;
      const r = await c.query<{ candidates: number; inserted: number }>(
        `WITH tpl AS (
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(i int, kind invoice_kind, net bigint, tax bigint, total bigint, lines jsonb, entries jsonb)
         ),
         asg AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS a(s int, t int, ps date, pe date)),
         cand AS (
           SELECT a.s AS subscriber_id, a.ps, a.pe, t.*, row_number() OVER (ORDER BY a.s, a.ps) AS rn
           FROM asg a JOIN tpl t ON t.i = a.t
           WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.subscriber_id = a.s AND i.period_start = a.ps AND i.kind = t.kind AND i.source IS NULL)
         ),
         ins AS (
           INSERT INTO invoices (number, series, seq, subscriber_id, kind, period_start, period_end, issued_on, due_date,
                                 net_paisa, tax_paisa, total_paisa, billing_run_id, status)
           SELECT $3 || '-' || lpad(($4 + c.rn)::text, 7, '0'), $3, $4 + c.rn, c.subscriber_id, c.kind, c.ps, c.pe, $5::date,
                  CASE WHEN c.kind = 'invoice' THEN $6::date ELSE $5::date END, c.net, c.tax, c.total, $7::bigint, 'open'
           FROM cand c
           ON CONFLICT (subscriber_id, period_start, kind) WHERE source IS NULL DO NOTHING
           RETURNING id, subscriber_id, period_start
         ),
         lines AS (
           INSERT INTO invoice_lines (invoice_id, position, kind, description, revenue_account, charged_paisa, discount_paisa,
                                      net_paisa, tax_paisa, total_paisa, taxes)
           SELECT i.id, l.position, l.kind, l.description, l."revenueAccount", l."chargedPaisa", l."discountPaisa",
                  l."netPaisa", l."taxPaisa", l."totalPaisa", l.taxes
           FROM ins i JOIN cand c ON c.subscriber_id = i.subscriber_id AND c.ps = i.period_start
           CROSS JOIN LATERAL jsonb_to_recordset(c.lines) AS l(position int, kind text, description text, "revenueAccount" text,
             "chargedPaisa" bigint, "discountPaisa" bigint, "netPaisa" bigint, "taxPaisa" bigint, "totalPaisa" bigint, taxes jsonb)
         ),
         ltx AS (
           INSERT INTO ledger_transactions (key, kind, subscriber_id, occurred_on)
           SELECT c.kind::text || ':' || i.subscriber_id || ':' || to_char(c.ps, 'YYYY-MM-DD'), c.kind::text, i.subscriber_id, $5::date
           FROM ins i JOIN cand c ON c.subscriber_id = i.subscriber_id AND c.ps = i.period_start
           WHERE jsonb_array_length(c.entries) > 0
           RETURNING id, subscriber_id, key
         ),
         le AS (
           INSERT INTO ledger_entries (transaction_id, account, amount_paisa)
           SELECT t.id, CASE WHEN e.account = 'receivable' THEN 'receivable:' || t.subscriber_id ELSE e.account END, e.amount
           FROM ltx t JOIN cand c ON c.kind::text || ':' || c.subscriber_id || ':' || to_char(c.ps, 'YYYY-MM-DD') = t.key
           CROSS JOIN LATERAL jsonb_to_recordset(c.entries) AS e(account text, amount bigint)
         )
         SELECT (SELECT count(*) FROM cand)::int AS candidates, (SELECT count(*) FROM ins)::int AS inserted`,
        [
          JSON.stringify(
            templates.map((t, i) => ({
              i,
              kind: t.kind,
              net: t.netPaisa,
              tax: t.taxPaisa,
              total: t.totalPaisa,
              lines: t.lines,
              entries: t.entries.map((e) => ({ account: e.account, amount: e.amountPaisa })),
            })),
          ),
          JSON.stringify(assignments.map((a) => ({ s: a.subscriberId, t: a.template, ps: a.periodStart, pe: a.periodEnd }))),
          input.series,
          lastSeq,
          input.issuedOn,
          input.dueOn,
          input.runId,
        ],
      );
      const { candidates, inserted: n } = r.rows[0] ?? { candidates: 0, inserted: 0 };
      // Numbers were handed out to every candidate; a conflict would leave a hole.
      if (n !== candidates) throw new Error(`invoice numbering: ${candidates} candidates but ${n} inserted; chunk rolled back`);
      if (n > 0) await c.query(`UPDATE invoice_counters SET last_seq = last_seq + $2 WHERE series = $1`, [input.series, n]);
      inserted = n;
    }
    await c.query(`UPDATE billing_runs SET cursor = $2, processed = processed + $3, created = created + $4 WHERE id = $1`, [
      input.runId,
      last,
      subs.rows.length,
      inserted,
    ]);
    return { done: false, cursor: last, processed: subs.rows.length, created: inserted };
  });
}

/**
 * Late-fee bookkeeping of these subscribers: fee documents (`<sub>:<period>` keys, series
 * `<prefix>-…`), the invoices already charged (`late_fee:<key>` ledger rows) and the last
 * service day of every other open invoice.
 */
export async function lateFeeState(
  db: Db,
  subscriberIds: readonly number[],
  feeSeriesPrefix: string,
): Promise<{ feeDocuments: Set<string>; charged: Set<string>; periodEnd: Map<string, string> }> {
  const r = await db.query<{ key: string; what: string }>(
    `SELECT subscriber_id || ':' || to_char(period_start, 'YYYY-MM-DD') AS key,
            CASE WHEN series LIKE $2 || '-%' THEN 'fee' ELSE to_char(period_end, 'YYYY-MM-DD') END AS what
     FROM invoices WHERE subscriber_id = ANY($1::int[]) AND kind = 'invoice' AND source IS NULL AND (status = 'open' OR series LIKE $2 || '-%')
     UNION ALL
     SELECT substr(key, 10), 'charged' FROM ledger_transactions WHERE subscriber_id = ANY($1::int[]) AND key LIKE 'late_fee:%'`,
    [subscriberIds, feeSeriesPrefix],
  );
  const feeDocuments = new Set<string>();
  const charged = new Set<string>();
  const periodEnd = new Map<string, string>();
  for (const row of r.rows) {
    if (row.what === "fee") feeDocuments.add(row.key);
    else if (row.what === "charged") charged.add(row.key);
    else periodEnd.set(row.key, row.what);
  }
  return { feeDocuments, charged, periodEnd };
}

export interface LateFeeInput {
  subscriberId: number;
  /** The overdue invoice's period start: the fee's ledger key is `late_fee:<sub>:<this>`. */
  invoicePeriodStart: string;
  /** The overdue invoice's last service day: the fee document's period (one per invoice by the unique key). */
  invoicePeriodEnd: string;
  amountPaisa: number;
  description: string;
  /** Signed entries of the pure `lateFeeTransaction` (`receivable` = the subscriber's account). */
  entries: { account: string; amountPaisa: number }[];
}

/**
 * Late fees as numbered documents (series `<prefix>-<year>`, gapless like invoices) with one
 * untaxed `late_fee` line to revenue:fees, plus their `late_fee:<invoice>` ledger transaction
 * and an `invoice.late_fee` audit row, in the caller's transaction. At most once per invoice twice over: the ledger key is unique
 * (ON CONFLICT DO NOTHING; only fees whose key was new get a document) and the document's
 * (subscriber, period_start = the invoice's last day, kind) key is unique. A document that
 * could not be written after its ledger row was (a clash with another invoice on that date)
 * aborts the caller's transaction rather than leave a fee without a document.
 */
export async function insertLateFees(
  db: Db,
  input: { series: string; issuedOn: string; dueOn: string; fees: readonly LateFeeInput[]; actor?: string },
): Promise<{ charged: { subscriberId: number; invoicePeriodStart: string }[] }> {
  if (input.fees.length === 0) return { charged: [] };
  await db.query(`INSERT INTO invoice_counters (series) VALUES ($1) ON CONFLICT DO NOTHING`, [input.series]);
  const counter = await db.query<{ last: number }>(`SELECT last_seq AS last FROM invoice_counters WHERE series = $1 FOR UPDATE`, [input.series]);
  const lastSeq = counter.rows[0]?.last ?? 0;
  const r = await db.query<{ s: number; ps: string; docs: number; txs: number }>(
    `WITH f AS MATERIALIZED (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS f(s int, ps date, pe date, amount bigint, description text, entries jsonb)
     ),
     ltx AS (
       INSERT INTO ledger_transactions (key, kind, subscriber_id, occurred_on)
       SELECT 'late_fee:' || s || ':' || to_char(ps, 'YYYY-MM-DD'), 'fee', s, $3::date FROM f ORDER BY s, ps
       ON CONFLICT (key) DO NOTHING
       RETURNING id, subscriber_id AS s, key
     ),
     le AS (
       INSERT INTO ledger_entries (transaction_id, account, amount_paisa)
       SELECT t.id, CASE WHEN e.account = 'receivable' THEN 'receivable:' || t.s ELSE e.account END, e."amountPaisa"
       FROM ltx t JOIN f ON 'late_fee:' || f.s || ':' || to_char(f.ps, 'YYYY-MM-DD') = t.key
       CROSS JOIN LATERAL jsonb_to_recordset(f.entries) AS e(account text, "amountPaisa" bigint)
     ),
     c AS (
       SELECT f.*, row_number() OVER (ORDER BY f.s, f.ps) AS rn
       FROM f JOIN ltx t ON t.key = 'late_fee:' || f.s || ':' || to_char(f.ps, 'YYYY-MM-DD')
     ),
     inv AS (
       INSERT INTO invoices (number, series, seq, subscriber_id, kind, period_start, period_end, issued_on, due_date,
                             net_paisa, tax_paisa, total_paisa, status)
       SELECT $2 || '-' || lpad(($5 + c.rn)::text, 7, '0'), $2, $5 + c.rn, c.s, 'invoice', c.pe, c.pe, $3::date, $4::date, c.amount, 0, c.amount, 'open'
       FROM c
       ON CONFLICT (subscriber_id, period_start, kind) WHERE source IS NULL DO NOTHING
       RETURNING id, subscriber_id AS s, period_start, number
     ),
     lines AS (
       INSERT INTO invoice_lines (invoice_id, position, kind, description, revenue_account, charged_paisa, discount_paisa,
                                  net_paisa, tax_paisa, total_paisa, taxes)
       SELECT inv.id, 1, 'late_fee', c.description, 'revenue:fees', c.amount, 0, c.amount, 0, c.amount, '[]'::jsonb
       FROM inv JOIN c ON c.s = inv.s AND c.pe = inv.period_start
     ),
     au AS (
       INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
       SELECT $6, 'invoice.late_fee', 'subscriber', inv.s::text,
              jsonb_build_object('number', inv.number, 'invoice', inv.s || ':' || to_char(c.ps, 'YYYY-MM-DD'), 'amountPaisa', c.amount)
       FROM inv JOIN c ON c.s = inv.s AND c.pe = inv.period_start
     )
     SELECT c.s, to_char(c.ps, 'YYYY-MM-DD') AS ps, (SELECT count(*) FROM inv)::int AS docs, (SELECT count(*) FROM c)::int AS txs FROM c`,
    [
      JSON.stringify(input.fees.map((f) => ({ s: f.subscriberId, ps: f.invoicePeriodStart, pe: f.invoicePeriodEnd, amount: f.amountPaisa, description: f.description, entries: f.entries }))),
      input.series,
      input.issuedOn,
      input.dueOn,
      lastSeq,
      input.actor ?? "billing",
    ],
  );
  const docs = r.rows[0]?.docs ?? 0;
  if (docs !== r.rows.length) throw new Error(`late fees: ${r.rows.length} charged but ${docs} documents written; transaction rolled back`);
  if (docs > 0) await db.query(`UPDATE invoice_counters SET last_seq = last_seq + $2 WHERE series = $1`, [input.series, docs]);
  return { charged: r.rows.map((x) => ({ subscriberId: x.s, invoicePeriodStart: x.ps })) };
}

/** Idempotent: a key already present is skipped (its content is not compared). Returns keys inserted. */
export async function insertLedgerTransactions(db: Db, txs: readonly LedgerTxInput[]): Promise<string[]> {
  if (txs.length === 0) return [];
  const r = await db.query<{ key: string }>(
    `WITH t AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(key text, kind text, "subscriberId" int, "occurredOn" date, entries jsonb)),
     ins AS (
       INSERT INTO ledger_transactions (key, kind, subscriber_id, occurred_on)
       SELECT key, kind, "subscriberId", "occurredOn" FROM t ON CONFLICT (key) DO NOTHING RETURNING id, key
     ),
     le AS (
       INSERT INTO ledger_entries (transaction_id, account, amount_paisa)
       SELECT ins.id, e.account, e."amountPaisa" FROM ins JOIN t USING (key)
       CROSS JOIN LATERAL jsonb_to_recordset(t.entries) AS e(account text, "amountPaisa" bigint)
     )
     SELECT key FROM ins`,
    [JSON.stringify(txs)],
  );
  return r.rows.map((x) => x.key);
}

export interface AccountHistory {
  subscriberId: number;
  planId: number;
  billingCycle: string;
  status: string;
  /**
   * Invoices and credit notes, not void. key = `<subscriberId>:<periodStart>`, or
   * `<subscriberId>:<source>` for an adjustment (`12:plan_change:345`), which shares its period.
   */
  documents: { key: string; kind: "invoice" | "credit_note"; issuedOn: string; dueOn: string | null; totalPaisa: number; status: string }[];
  payments: { receiptNo: string; on: string; amountPaisa: number; reversed: boolean }[];
  /** The recorded DunningRecord, or null. */
  record: unknown;
}

/**
 * Everything dunning and allocation need for these subscribers, in two queries. History
 * is read whole (no snapshotting yet), which is fine for monthly invoices over years.
 */
export async function loadAccountHistories(db: Db, subscriberIds: readonly number[], opts: { forUpdate?: boolean } = {}): Promise<AccountHistory[]> {
  if (subscriberIds.length === 0) return [];
  const subs = await db.query<{ id: number; planId: number; billingCycle: string; status: string; record: unknown }>(
    `SELECT s.id, s.plan_id AS "planId", p.billing_cycle::text AS "billingCycle", s.status::text AS status, d.record
     FROM subscribers s JOIN plans p ON p.id = s.plan_id LEFT JOIN dunning_state d ON d.subscriber_id = s.id
     WHERE s.id = ANY($1::int[]) ORDER BY s.id ${opts.forUpdate ? "FOR UPDATE OF s" : ""}`,
    [subscriberIds],
  );
  const docs = await db.query<{ subscriberId: number } & AccountHistory["documents"][number]>(
    `SELECT subscriber_id AS "subscriberId", subscriber_id || ':' || coalesce(source, to_char(period_start, 'YYYY-MM-DD')) AS key, kind::text AS kind,
            to_char(issued_on, 'YYYY-MM-DD') AS "issuedOn", to_char(due_date, 'YYYY-MM-DD') AS "dueOn", total_paisa::float8 AS "totalPaisa", status::text AS status
     FROM invoices WHERE subscriber_id = ANY($1::int[]) AND status <> 'void' ORDER BY subscriber_id, issued_on, seq`,
    [subscriberIds],
  );
  const pays = await db.query<{ subscriberId: number } & AccountHistory["payments"][number]>(
    `SELECT subscriber_id AS "subscriberId", receipt_no AS "receiptNo", to_char(received_at AT TIME ZONE 'Asia/Karachi', 'YYYY-MM-DD') AS on,
            amount_paisa::float8 AS "amountPaisa", reversed_at IS NOT NULL AS reversed
     FROM payments WHERE subscriber_id = ANY($1::int[]) ORDER BY subscriber_id, received_at, id`,
    [subscriberIds],
  );
  const byId = new Map<number, AccountHistory>();
  for (const s of subs.rows) {
    byId.set(s.id, { subscriberId: s.id, planId: s.planId, billingCycle: s.billingCycle, status: s.status, documents: [], payments: [], record: s.record ?? null });
  }
  for (const { subscriberId, ...d } of docs.rows) byId.get(subscriberId)?.documents.push(d);
  for (const { subscriberId, ...p } of pays.rows) byId.get(subscriberId)?.payments.push(p);
  return [...byId.values()];
}

/** Subscriber ids after `cursor`, in order (the dunning run's chunks). */
export async function subscriberIdsAfter(db: Db, cursor: number, limit: number): Promise<number[]> {
  const r = await db.query<{ id: number }>(`SELECT id FROM subscribers WHERE id > $1 ORDER BY id LIMIT $2`, [cursor, limit]);
  return r.rows.map((x) => x.id);
}

/** Invoice status from the allocation (paid / open); only rows that change are written. */
export async function setInvoiceStatuses(db: Db, updates: readonly { key: string; status: "open" | "paid" }[]): Promise<number> {
  if (updates.length === 0) return 0;
  const r = await db.query(
    `UPDATE invoices i SET status = u.status::invoice_status
     FROM jsonb_to_recordset($1::jsonb) AS u(key text, status text)
     WHERE i.subscriber_id = split_part(u.key, ':', 1)::int
       AND i.subscriber_id || ':' || coalesce(i.source, to_char(i.period_start, 'YYYY-MM-DD')) = u.key
       AND i.status <> 'void' AND i.status::text <> u.status`,
    [JSON.stringify(updates)],
  );
  return r.rowCount ?? 0;
}

export interface DunningWrite {
  subscriberId: number;
  /** The subscriber's status as loaded (audit "before"; terminated accounts get no outbox rows). */
  status: string;
  state: string;
  access: string;
  record: unknown;
  actions: {
    key: string;
    type: "notification" | "enforcement";
    kind: string;
    /** The enforcement_outbox kind; null: no such kind, the action is only recorded. */
    outboxKind: string | null;
    note: string | null;
    payload: unknown;
  }[];
}

/**
 * Dunning state and actions for many subscribers, set-based, in the caller's transaction.
 * Action keys are unique: an action already recorded is skipped along with its outbox
 * rows, so a re-run emits nothing. Enforcement rows mirror requestEnforcement (status
 * change, outbox row, audit row); one NOTIFY per call wakes the worker.
 */
export async function writeDunning(db: Db, writes: readonly DunningWrite[], actor = "billing"): Promise<{ actions: number; enforcement: number; notifications: number }> {
  if (writes.length === 0) return { actions: 0, enforcement: 0, notifications: 0 };
  await db.query(
    `INSERT INTO dunning_state (subscriber_id, state, access, record, updated_at)
     SELECT "subscriberId", state, access, record, now() FROM jsonb_to_recordset($1::jsonb) AS w("subscriberId" int, state text, access text, record jsonb)
     ON CONFLICT (subscriber_id) DO UPDATE SET state = EXCLUDED.state, access = EXCLUDED.access, record = EXCLUDED.record, updated_at = now()
     WHERE dunning_state.record IS DISTINCT FROM EXCLUDED.record`,
    [JSON.stringify(writes.map(({ actions: _a, status: _s, ...w }) => w))],
  );
  const actions = writes.flatMap((w) => w.actions.map((a) => ({ ...a, subscriberId: w.subscriberId })));
  if (actions.length === 0) return { actions: 0, enforcement: 0, notifications: 0 };
  // Keys already recorded are skipped. The caller holds the subscribers' row locks, so
  // this read sees every committed action; a racing writer still hits the unique key
  // below and rolls the whole chunk back rather than emitting twice.
  const seen = await db.query<{ key: string }>(`SELECT key FROM dunning_actions WHERE key = ANY($1::text[])`, [actions.map((x) => x.key)]);
  const old = new Set(seen.rows.map((x) => x.key));
  const news = actions.filter((x) => !old.has(x.key));
  if (news.length === 0) return { actions: 0, enforcement: 0, notifications: 0 };
  const statusOf = new Map(writes.map((w) => [w.subscriberId, w.status]));
  const enf = news.filter((x) => x.type === "enforcement" && x.outboxKind !== null && (statusOf.get(x.subscriberId) !== "terminated" || x.outboxKind === "terminate"));
  const outbox = new Map<string, string>();
  if (enf.length > 0) {
    const ob = await db.query<{ id: string; key: string }>(
      `WITH e AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(key text, "subscriberId" int, "outboxKind" text))
       INSERT INTO enforcement_outbox (kind, subscriber_id, reason, params)
       SELECT e."outboxKind"::enforcement_kind, e."subscriberId", 'dunning ' || e.key,
              CASE WHEN e."outboxKind" = 'throttle' THEN jsonb_build_object(
                'downloadKbps', coalesce(p.fup_download_kbps, greatest(64, p.download_kbps / 4)),
                'uploadKbps', coalesce(p.fup_upload_kbps, greatest(64, p.upload_kbps / 4))) END
       FROM e JOIN subscribers s ON s.id = e."subscriberId" JOIN plans p ON p.id = s.plan_id
       RETURNING id::text AS id, substr(reason, 9) AS key`,
      [JSON.stringify(enf.map((x) => ({ key: x.key, subscriberId: x.subscriberId, outboxKind: x.outboxKind })))],
    );
    for (const r of ob.rows) outbox.set(r.key, r.id);
  }
  await db.query(
    `INSERT INTO dunning_actions (key, subscriber_id, type, kind, status, note, enforcement_id)
     SELECT key, "subscriberId", type, kind, status, note, "enforcementId"
     FROM jsonb_to_recordset($1::jsonb) AS a(key text, "subscriberId" int, type text, kind text, status text, note text, "enforcementId" bigint)`,
    [
      JSON.stringify(
        news.map((x) => {
          const id = outbox.get(x.key) ?? null;
          const skipped = x.type === "enforcement" && x.outboxKind !== null && id === null;
          return {
            key: x.key,
            subscriberId: x.subscriberId,
            type: x.type,
            kind: x.kind,
            status: x.type === "notification" || id !== null ? "queued" : "recorded",
            note: skipped ? "subscriber is terminated" : x.note,
            enforcementId: id,
          };
        }),
      ),
    ],
  );
  const notes = news.filter((x) => x.type === "notification");
  if (notes.length > 0) {
    await db.query(
      `INSERT INTO notification_outbox (key, subscriber_id, kind, payload)
       SELECT key, "subscriberId", kind, payload FROM jsonb_to_recordset($1::jsonb) AS n(key text, "subscriberId" int, kind text, payload jsonb)`,
      [JSON.stringify(notes)],
    );
  }
  const done = enf.filter((x) => outbox.has(x.key)).map((x) => ({ id: outbox.get(x.key), key: x.key, subscriberId: x.subscriberId, kind: x.outboxKind, before: statusOf.get(x.subscriberId) }));
  if (done.length > 0) {
    const linked = JSON.stringify(done);
    await db.query(
      `UPDATE subscribers s SET status = x.status::subscriber_status, updated_at = now()
       FROM (SELECT DISTINCT ON ("subscriberId") "subscriberId",
               CASE kind WHEN 'suspend' THEN 'suspended' WHEN 'restore' THEN 'active' ELSE 'terminated' END AS status
             FROM jsonb_to_recordset($1::jsonb) AS o("subscriberId" int, kind text)
             WHERE kind IN ('suspend', 'restore', 'terminate')
             ORDER BY "subscriberId", CASE kind WHEN 'terminate' THEN 0 WHEN 'suspend' THEN 1 ELSE 2 END) x
       WHERE s.id = x."subscriberId" AND s.status::text <> x.status`,
      [linked],
    );
    await db.query(
      `INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
       SELECT $2, 'subscriber.' || kind, 'subscriber', "subscriberId"::text,
              jsonb_build_object('actionId', id, 'reason', 'dunning ' || key, 'before', jsonb_build_object('status', before))
       FROM jsonb_to_recordset($1::jsonb) AS o(id text, key text, "subscriberId" int, kind text, before text)`,
      [linked, actor],
    );
    await db.query(`SELECT pg_notify('enforcement', '')`);
  }
  return { actions: news.length, enforcement: done.length, notifications: notes.length };
}

/**
 * `writeDunning` for a whole chunk in one statement (the dunning run's writer; payments keep
 * `writeDunning`). Same rows and guarantees: the state upsert, then every action whose key is
 * new (`ON CONFLICT (key) DO NOTHING` on the unique key, so a re-run or a racing payment
 * emits nothing twice) with its enforcement_outbox row, notification_outbox row, status
 * change and audit row. Enforcement ids are drawn from the outbox sequence up front so an
 * action row links to its outbox row in the same statement (ids of skipped actions are a
 * harmless sequence gap). One NOTIFY when anything was enqueued. The caller holds the
 * subscribers' row locks.
 */
export async function writeDunningBatch(db: Db, writes: readonly DunningWrite[], actor = "billing"): Promise<{ actions: number; enforcement: number; notifications: number }> {
  if (writes.length === 0) return { actions: 0, enforcement: 0, notifications: 0 };
  const states = writes.map((w) => ({ s: w.subscriberId, st: w.state, a: w.access, r: w.record }));
  const actions = writes.flatMap((w) =>
    w.actions.map((a) => ({
      k: a.key,
      s: w.subscriberId,
      t: a.type,
      kd: a.kind,
      o: a.outboxKind,
      n: a.note,
      p: a.type === "notification" ? a.payload : null,
      b: w.status,
    })),
  );
  const r = await db.query<{ actions: number; enforcement: number; notifications: number }>(
    `WITH st AS (
       INSERT INTO dunning_state (subscriber_id, state, access, record, updated_at)
       SELECT s, st, a, r, now() FROM jsonb_to_recordset($1::jsonb) AS w(s int, st text, a text, r jsonb)
       ON CONFLICT (subscriber_id) DO UPDATE SET state = EXCLUDED.state, access = EXCLUDED.access, record = EXCLUDED.record, updated_at = now()
       WHERE dunning_state.record IS DISTINCT FROM EXCLUDED.record
     ),
     a AS MATERIALIZED (
       SELECT x.*, CASE WHEN x.t = 'enforcement' AND x.o IS NOT NULL AND (x.b <> 'terminated' OR x.o = 'terminate')
                        THEN nextval(pg_get_serial_sequence('enforcement_outbox', 'id')) END AS eid
       FROM jsonb_to_recordset($2::jsonb) AS x(k text, s int, t text, kd text, o text, n text, p jsonb, b text)
     ),
     ins AS (
       INSERT INTO dunning_actions (key, subscriber_id, type, kind, status, note, enforcement_id)
       SELECT k, s, t, kd, CASE WHEN t = 'notification' OR eid IS NOT NULL THEN 'queued' ELSE 'recorded' END,
              CASE WHEN t = 'enforcement' AND o IS NOT NULL AND eid IS NULL THEN 'subscriber is terminated' ELSE n END, eid
       FROM a ORDER BY k
       ON CONFLICT (key) DO NOTHING
       RETURNING key
     ),
     n AS MATERIALIZED (SELECT a.* FROM a JOIN ins ON ins.key = a.k),
     ob AS (
       INSERT INTO enforcement_outbox (id, kind, subscriber_id, reason, params)
       SELECT n.eid, n.o::enforcement_kind, n.s, 'dunning ' || n.k,
              CASE WHEN n.o = 'throttle' THEN jsonb_build_object(
                'downloadKbps', coalesce(p.fup_download_kbps, greatest(64, p.download_kbps / 4)),
                'uploadKbps', coalesce(p.fup_upload_kbps, greatest(64, p.upload_kbps / 4))) END
       FROM n JOIN subscribers s ON s.id = n.s JOIN plans p ON p.id = s.plan_id
       WHERE n.eid IS NOT NULL
       ORDER BY n.eid
       RETURNING 1
     ),
     nt AS (
       INSERT INTO notification_outbox (key, subscriber_id, kind, payload)
       SELECT k, s, kd, p FROM n WHERE t = 'notification' ORDER BY k
       RETURNING 1
     ),
     up AS (
       UPDATE subscribers s SET status = x.status::subscriber_status, updated_at = now()
       FROM (SELECT DISTINCT ON (s) s, CASE o WHEN 'suspend' THEN 'suspended' WHEN 'restore' THEN 'active' ELSE 'terminated' END AS status
             FROM n WHERE eid IS NOT NULL AND o IN ('suspend', 'restore', 'terminate')
             ORDER BY s, CASE o WHEN 'terminate' THEN 0 WHEN 'suspend' THEN 1 ELSE 2 END) x
       WHERE s.id = x.s AND s.status::text <> x.status
       RETURNING 1
     ),
     au AS (
       INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
       SELECT $3, 'subscriber.' || o, 'subscriber', s::text,
              jsonb_build_object('actionId', eid::text, 'reason', 'dunning ' || k, 'before', jsonb_build_object('status', b))
       FROM n WHERE eid IS NOT NULL ORDER BY eid
       RETURNING 1
     ),
     c AS (
       SELECT (SELECT count(*) FROM n)::int AS actions, (SELECT count(*) FROM ob)::int AS enforcement,
              (SELECT count(*) FROM nt)::int AS notifications, (SELECT count(*) FROM up)::int AS updated, (SELECT count(*) FROM au)::int AS audited
     )
     SELECT actions, enforcement, notifications, CASE WHEN enforcement > 0 THEN pg_notify('enforcement', '') END IS NULL AS quiet FROM c`,
    [JSON.stringify(states), JSON.stringify(actions), actor],
  );
  const row = r.rows[0];
  return { actions: row?.actions ?? 0, enforcement: row?.enforcement ?? 0, notifications: row?.notifications ?? 0 };
}

export interface PaymentInput {
  subscriberId: number;
  receiptNo: string;
  amountPaisa: number;
  method: "cash" | "bank_transfer" | "online";
  receivedAt: Date;
  operatorId: number | null;
}

/** Inserts the payment row; null when the receipt number exists already (a retry). */
export async function insertPayment(db: Db, p: PaymentInput): Promise<{ id: number } | null> {
  const r = await db.query<{ id: number }>(
    `INSERT INTO payments (subscriber_id, amount_paisa, method, reference, received_at, operator_id, receipt_no)
     VALUES ($1, $2, $3::payment_method, $4, $5, $6, $4) ON CONFLICT (receipt_no) DO NOTHING RETURNING id`,
    [p.subscriberId, p.amountPaisa, p.method, p.receiptNo, p.receivedAt, p.operatorId],
  );
  return r.rows[0] ?? null;
}

export async function findPayment(db: Db, receiptNo: string): Promise<{ id: number; subscriberId: number; amountPaisa: number; method: string; reversed: boolean } | null> {
  const r = await db.query(
    `SELECT id, subscriber_id AS "subscriberId", amount_paisa::float8 AS "amountPaisa", method::text AS method, reversed_at IS NOT NULL AS reversed
     FROM payments WHERE receipt_no = $1`,
    [receiptNo],
  );
  return (r.rows[0] as { id: number; subscriberId: number; amountPaisa: number; method: string; reversed: boolean } | undefined) ?? null;
}

export async function markPaymentReversed(db: Db, receiptNo: string, reason: string): Promise<boolean> {
  const r = await db.query(`UPDATE payments SET reversed_at = now(), reversal_reason = $2 WHERE receipt_no = $1 AND reversed_at IS NULL`, [receiptNo, reason]);
  return (r.rowCount ?? 0) > 0;
}

/** Entries of a stored ledger transaction (for reversals), or null. */
export async function ledgerTransaction(db: Db, key: string): Promise<LedgerTxInput | null> {
  const t = await db.query<{ id: string; kind: string; subscriberId: number | null; occurredOn: string }>(
    `SELECT id::text AS id, kind, subscriber_id AS "subscriberId", to_char(occurred_on, 'YYYY-MM-DD') AS "occurredOn" FROM ledger_transactions WHERE key = $1`,
    [key],
  );
  const row = t.rows[0];
  if (!row) return null;
  const e = await db.query<{ account: string; amountPaisa: number }>(
    `SELECT account, amount_paisa::float8 AS "amountPaisa" FROM ledger_entries WHERE transaction_id = $1 ORDER BY id`,
    [row.id],
  );
  return { key, kind: row.kind, subscriberId: row.subscriberId, occurredOn: row.occurredOn, entries: e.rows };
}

export async function audit(
  db: Db,
  row: { operatorId: number | null; actor: string; action: string; entityType: string; entityId: string; details: unknown },
): Promise<void> {
  await db.query(`INSERT INTO audit_log (operator_id, actor, action, entity_type, entity_id, details) VALUES ($1, $2, $3, $4, $5, $6)`, [
    row.operatorId,
    row.actor,
    row.action,
    row.entityType,
    row.entityId,
    JSON.stringify(row.details),
  ]);
}

/** Sum of an account's entries (debits minus credits). */
export async function accountBalance(db: Db, account: string): Promise<number> {
  const r = await db.query<{ b: number }>(`SELECT coalesce(sum(amount_paisa), 0)::float8 AS b FROM ledger_entries WHERE account = $1`, [account]);
  return r.rows[0]?.b ?? 0;
}
