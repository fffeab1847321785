// `npm run bench -- <name> [<name> ...]` runs bench/<name>.bench.ts; with no name, all of them.
// Each bench prints its figures as `key: value unit` lines and the same figures go, as flat
// JSON (`{ "key": number }`, the unit part of the key), to bench/results/<name>.json.
// Benches that need PostgreSQL get an admin URL: BENCH_DATABASE_URL, else TEST_DATABASE_URL,
// else an embedded server started here (thrown away afterwards).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { BenchContext, BenchModule, Figure } from "../bench/lib";

const root = process.cwd();
const benchDir = join(root, "bench");
const resultsDir = join(benchDir, "results");

const available = readdirSync(benchDir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.slice(0, -".bench.ts".length))
  .sort();
const asked = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = asked.filter((a) => !available.includes(a));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(", ")}; available: ${available.join(", ") || "(none)"}`);
  process.exit(2);
}
const names = asked.length > 0 ? asked : available;

let stopEmbedded: (() => Promise<void>) | undefined;
async function adminUrl(): Promise<string> {
  const fromEnv = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (fromEnv) return fromEnv;
  const { startEmbeddedPostgres } = await import("@isp/db/embedded");
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
  const dataDir = join(root, ".data", "bench-postgres");
  rmSync(dataDir, { recursive: true, force: true });
  const pg = await startEmbeddedPostgres({ dataDir, port });
  stopEmbedded = () => pg.stop();
  const url = new URL(pg.url);
  url.pathname = "/postgres";
  process.env.TEST_DATABASE_URL = url.toString();
  return url.toString();
}

let cachedUrl: Promise<string> | undefined;
const context: BenchContext = {
  databaseAdminUrl: () => (cachedUrl ??= adminUrl()),
  log: (line) => console.log(`  ${line}`),
};

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 4);
}

mkdirSync(resultsDir, { recursive: true });
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
let failed = false;
try {
  for (const name of names) {
    console.log(`\n== ${name}`);
    const mod = (await import(pathToFileURL(join(benchDir, `${name}.bench.ts`)).href)) as BenchModule;
    let figures: Figure[];
    try {
      figures = await mod.default(context);
    } catch (err) {
      failed = true;
      console.error(`bench ${name} failed: ${(err as Error).stack ?? String(err)}`);
      continue;
    }
    const json: Record<string, number> = {};
    for (const f of figures) {
      console.log(`${f.key}: ${format(f.value)}${f.unit ? ` ${f.unit}` : ""}`);
      json[f.key] = f.value;
    }
    writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  }
} finally {
  await stopEmbedded?.();
}
process.exit(failed ? 1 : 0);
