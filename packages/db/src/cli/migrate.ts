// npm run migrate -w @isp/db: DATABASE_URL, or the embedded server under .data/postgres.
import { resolveDatabaseUrl } from "../connection";
import { migrate } from "../migrate";

const db = await resolveDatabaseUrl();
try {
  const r = await migrate(db.url);
  console.log(`time-series flavour: ${r.flavour}; applied: ${r.applied.length ? r.applied.join(", ") : "nothing (up to date)"}`);
} finally {
  await db.stop();
}
