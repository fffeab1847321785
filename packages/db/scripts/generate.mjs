// Runs `prisma generate` offline. The Prisma CLI wants a schema-engine binary it would
// download; generation does not use it, so point it at a stub (see DESIGN.md).
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const dir = join(tmpdir(), "isp-prisma-stub");
  mkdirSync(dir, { recursive: true });
  const stub = join(dir, "schema-engine");
  writeFileSync(stub, "#!/bin/sh\necho 'schema-engine stub: prisma migrate is not available offline' >&2\nexit 1\n");
  chmodSync(stub, 0o755);
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
}
const cli = join(here, "..", "node_modules", ".bin", "prisma");
const r = spawnSync(process.execPath, [join(here, "../../../node_modules/prisma/build/index.js"), "generate", "--schema", join(here, "../prisma/schema.prisma")], { stdio: "inherit", env, cwd: join(here, "..") });
void cli;
process.exit(r.status ?? 1);
