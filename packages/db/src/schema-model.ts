// What schema.prisma says the relational database must contain, and a comparison with
// what a live database does contain. The generated client's runtime data model lacks
// nullability, native types and defaults, so this reads schema.prisma itself with a small
// parser that understands the subset of the language this project uses.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Queryable } from "./timeseries";

export const schemaPath = join(dirname(fileURLToPath(import.meta.url)), "..", "prisma", "schema.prisma");

export interface PrismaField {
  name: string;
  type: string;
  optional: boolean;
  list: boolean;
  attrs: string;
}
export interface PrismaModel {
  name: string;
  table: string;
  fields: PrismaField[];
  blockAttrs: string[];
}
export interface PrismaEnum {
  name: string;
  dbName: string;
  values: string[];
}
export interface PrismaSchema {
  models: PrismaModel[];
  enums: PrismaEnum[];
}

function blocks(src: string, kind: "model" | "enum"): { name: string; body: string[] }[] {
  const out: { name: string; body: string[] }[] = [];
  const re = new RegExp(`^${kind}\\s+(\\w+)\\s*\\{([\\s\\S]*?)^\\}`, "gm");
  for (const m of src.matchAll(re)) {
    const lines = (m[2] ?? "")
      .split("\n")
      .map((l) => l.replace(/\/\/.*$/, "").trim())
      .filter(Boolean);
    out.push({ name: m[1] ?? "", body: lines });
  }
  return out;
}

const mapOf = (s: string): string | undefined => /@@?map\("([^"]+)"\)/.exec(s)?.[1];

export function parsePrismaSchema(src: string = readFileSync(schemaPath, "utf8")): PrismaSchema {
  const enums = blocks(src, "enum").map(({ name, body }) => ({
    name,
    dbName: mapOf(body.find((l) => l.startsWith("@@map")) ?? "") ?? name,
    values: body.filter((l) => !l.startsWith("@@")).map((l) => l.split(/\s+/)[0] ?? ""),
  }));
  const models = blocks(src, "model").map(({ name, body }) => {
    const blockAttrs = body.filter((l) => l.startsWith("@@"));
    const fields = body
      .filter((l) => !l.startsWith("@@"))
      .map((l) => {
        const m = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(l);
        if (!m) throw new Error(`cannot parse field line: ${l}`);
        return { name: m[1] ?? "", type: m[2] ?? "", list: !!m[3], optional: !!m[4], attrs: m[5] ?? "" };
      });
    return { name, table: mapOf(blockAttrs.find((a) => a.startsWith("@@map")) ?? "") ?? name, fields, blockAttrs };
  });
  return { models, enums };
}

export interface ColumnInfo {
  table: string;
  column: string;
  type: string;
  nullable: boolean;
  hasDefault: boolean;
}
export interface ConstraintInfo {
  table: string;
  kind: "unique" | "index" | "fk";
  columns: string[];
  refTable?: string;
  refColumns?: string[];
}
export interface DbShape {
  tables: string[];
  columns: ColumnInfo[];
  enums: { name: string; values: string[] }[];
  constraints: ConstraintInfo[];
}

const scalarTypes: Record<string, string> = {
  Int: "integer",
  BigInt: "bigint",
  String: "text",
  Boolean: "boolean",
  Json: "jsonb",
  Float: "double precision",
  DateTime: "timestamp(3) without time zone",
};

function nativeType(field: PrismaField, enums: PrismaEnum[]): string {
  const en = enums.find((e) => e.name === field.type);
  if (en) return `enum:${en.dbName}`;
  const db = /@db\.(\w+)(?:\(([^)]*)\))?/.exec(field.attrs);
  if (db) {
    const [, t, arg] = db;
    switch (t) {
      case "Inet":
        return "inet";
      case "Char":
        return `character(${arg})`;
      case "VarChar":
        return `character varying(${arg})`;
      case "Timestamptz":
        return `timestamp(${arg ?? 6}) with time zone`;
      case "Date":
        return "date";
      default:
        throw new Error(`unsupported native type @db.${t} on ${field.name}`);
    }
  }
  const t = scalarTypes[field.type];
  if (!t) throw new Error(`unsupported Prisma type ${field.type} on ${field.name}`);
  return t;
}

export function expectedShape(schema: PrismaSchema): DbShape {
  const modelNames = new Set(schema.models.map((m) => m.name));
  const enumNames = new Set(schema.enums.map((e) => e.name));
  const columns: ColumnInfo[] = [];
  const constraints: ConstraintInfo[] = [];
  for (const model of schema.models) {
    const col = (fieldName: string): string => {
      const f = model.fields.find((x) => x.name === fieldName);
      if (!f) throw new Error(`${model.name}: unknown field ${fieldName}`);
      return mapOf(f.attrs) ?? f.name;
    };
    const list = (s: string): string[] =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
        .map(col);
    for (const f of model.fields) {
      if (modelNames.has(f.type)) {
        const rel = /@relation\([^)]*fields:\s*\[([^\]]*)\][^)]*references:\s*\[([^\]]*)\]/.exec(f.attrs);
        if (rel) {
          const target = schema.models.find((m) => m.name === f.type);
          const refCols = (rel[2] ?? "").split(",").map((x) => {
            const tf = target?.fields.find((y) => y.name === x.trim());
            return tf ? (mapOf(tf.attrs) ?? tf.name) : x.trim();
          });
          constraints.push({ table: model.table, kind: "fk", columns: list(rel[1] ?? ""), refTable: target?.table ?? f.type, refColumns: refCols });
        }
        continue;
      }
      if (f.list) throw new Error(`${model.name}.${f.name}: scalar lists are not supported here`);
      const column = mapOf(f.attrs) ?? f.name;
      columns.push({
        table: model.table,
        column,
        type: nativeType(f, schema.enums),
        nullable: f.optional,
        hasDefault: /@default\(/.test(f.attrs),
      });
      if (/@unique\b/.test(f.attrs)) constraints.push({ table: model.table, kind: "unique", columns: [column] });
      void enumNames;
    }
    for (const a of model.blockAttrs) {
      const m = /^@@(unique|index)\(\[([^\]]*)\]/.exec(a);
      if (m) constraints.push({ table: model.table, kind: m[1] === "unique" ? "unique" : "index", columns: list(m[2] ?? "") });
    }
  }
  return {
    tables: schema.models.map((m) => m.table).sort(),
    columns,
    enums: schema.enums.map((e) => ({ name: e.dbName, values: e.values })),
    constraints,
  };
}

/** Tables outside Prisma's model: migration bookkeeping and the time-series tables. */
export const nonPrismaTables = new Set([
  "_prisma_migrations",
  "_timeseries_migrations",
  "accounting_records",
  "auth_log",
  "nat_log",
  "nat_quarantine",
  "subscriber_usage",
  "ts_partitioned_tables",
  "usage_5min",
]);

/**
 * Indexes Prisma cannot express (partial indexes), created by hand-written SQL. The
 * comparison skips them; their behaviour is tested where they matter.
 */
export const nonPrismaIndexes = new Set([
  "ip_allocations_open_ip_key",
  "ip_pool_addresses_free_idx",
  "subscribers_plain_password_idx",
  // One open billing/dunning request per (kind, period): docs/billing-runs.md.
  "billing_runs_one_request_key",
  // Open (unacknowledged) escalations for the NOC list: docs/enforcement.md.
  "enforcement_outbox_open_escalations_idx",
  // A period is billed once (run documents and late fees; adjustments have a source): docs/billing-runs.md.
  "invoices_period_key",
  // IPv6 delegation: GiST (inet_ops) exclusion and containment indexes: docs/radius-auth.md.
  "ipv6_pools_no_overlap",
  "ipv6_leases_open_no_overlap",
  "ipv6_leases_prefix_history_idx",
  "radius_sessions_delegated_ipv6_prefix_idx",
  "subscribers_static_ipv6_prefix_no_overlap",
]);

export async function actualShape(q: Queryable): Promise<DbShape> {
  const tables = (
    await q.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY 1`,
    )
  ).rows
    .map((r) => r.name)
    .filter((t) => !nonPrismaTables.has(t));
  const cols = (
    await q.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      udt_name: string;
      is_nullable: string;
      column_default: string | null;
      char_len: number | null;
      dt_prec: number | null;
    }>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
              character_maximum_length AS char_len, datetime_precision AS dt_prec
         FROM information_schema.columns WHERE table_schema = 'public'`,
    )
  ).rows;
  const columns: ColumnInfo[] = cols
    .filter((c) => tables.includes(c.table_name))
    .map((c) => {
      let type = c.data_type;
      if (type === "USER-DEFINED") type = `enum:${c.udt_name}`;
      else if (type === "character") type = `character(${c.char_len})`;
      else if (type === "character varying") type = `character varying(${c.char_len})`;
      else if (type.startsWith("timestamp")) type = type.replace("timestamp", `timestamp(${c.dt_prec})`);
      return {
        table: c.table_name,
        column: c.column_name,
        type,
        nullable: c.is_nullable === "YES",
        hasDefault: c.column_default !== null,
      };
    });
  const enumRows = (
    await q.query<{ name: string; label: string }>(
      `SELECT t.typname AS name, e.enumlabel AS label FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE t.typnamespace = 'public'::regnamespace ORDER BY t.typname, e.enumsortorder`,
    )
  ).rows;
  const enums: { name: string; values: string[] }[] = [];
  for (const r of enumRows) {
    const e = enums.find((x) => x.name === r.name);
    if (e) e.values.push(r.label);
    else enums.push({ name: r.name, values: [r.label] });
  }
  const idx = (
    await q.query<{ name: string; table: string; uniq: boolean; columns: string[] | string }>(
      `SELECT ic.relname AS name, t.relname AS table, i.indisunique AS uniq,
              array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisprimary`,
    )
  ).rows.filter((i) => !nonPrismaIndexes.has(i.name));
  const fks = (
    await q.query<{ table: string; columns: string[]; ref_table: string; ref_columns: string[] }>(
      `SELECT t.relname AS table, r.relname AS ref_table,
              array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
              array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS ref_columns
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
        WHERE c.contype = 'f' AND t.relnamespace = 'public'::regnamespace`,
    )
  ).rows;
  const constraints: ConstraintInfo[] = [
    ...idx
      .filter((i) => tables.includes(i.table))
      .map((i) => ({ table: i.table, kind: (i.uniq ? "unique" : "index") as "unique" | "index", columns: [...i.columns] })),
    ...fks
      .filter((f) => tables.includes(f.table))
      .map((f) => ({ table: f.table, kind: "fk" as const, columns: f.columns, refTable: f.ref_table, refColumns: f.ref_columns })),
  ];
  return { tables, columns, enums, constraints };
}

const constraintKey = (c: ConstraintInfo): string =>
  `${c.kind} ${c.table}(${c.columns.join(",")})${c.refTable ? ` -> ${c.refTable}(${(c.refColumns ?? []).join(",")})` : ""}`;

/** Every difference between the two shapes, as readable lines; empty when they agree. */
export function diffShapes(expected: DbShape, actual: DbShape): string[] {
  const out: string[] = [];
  for (const t of expected.tables) if (!actual.tables.includes(t)) out.push(`missing table ${t}`);
  for (const t of actual.tables) if (!expected.tables.includes(t)) out.push(`unexpected table ${t}`);
  const key = (c: ColumnInfo): string => `${c.table}.${c.column}`;
  const actualCols = new Map(actual.columns.map((c) => [key(c), c]));
  const expectedCols = new Map(expected.columns.map((c) => [key(c), c]));
  for (const e of expected.columns) {
    const a = actualCols.get(key(e));
    if (!a) {
      out.push(`missing column ${key(e)}`);
      continue;
    }
    if (a.type !== e.type) out.push(`column ${key(e)}: type ${a.type}, schema says ${e.type}`);
    if (a.nullable !== e.nullable) out.push(`column ${key(e)}: nullable ${a.nullable}, schema says ${e.nullable}`);
    if (a.hasDefault !== e.hasDefault) out.push(`column ${key(e)}: default ${a.hasDefault ? "present" : "absent"}, schema says ${e.hasDefault ? "present" : "absent"}`);
  }
  for (const a of actual.columns) if (!expectedCols.has(key(a))) out.push(`unexpected column ${key(a)}`);
  for (const e of expected.enums) {
    const a = actual.enums.find((x) => x.name === e.name);
    if (!a) out.push(`missing enum ${e.name}`);
    else if (a.values.join(",") !== e.values.join(",")) out.push(`enum ${e.name}: labels ${a.values.join(",")}, schema says ${e.values.join(",")}`);
  }
  for (const a of actual.enums) if (!expected.enums.some((e) => e.name === a.name)) out.push(`unexpected enum ${a.name}`);
  const ek = new Set(expected.constraints.map(constraintKey));
  const ak = new Set(actual.constraints.map(constraintKey));
  for (const k of ek) if (!ak.has(k)) out.push(`missing ${k}`);
  for (const k of ak) if (!ek.has(k)) out.push(`unexpected ${k}`);
  return out;
}
