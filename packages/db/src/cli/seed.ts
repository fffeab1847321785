// npm run seed -w @isp/db: migrate, then seed the demo ISP (skipped when already seeded).
import { createPrisma } from "../client";
import { resolveDatabaseUrl } from "../connection";
import { migrate } from "../migrate";
import { DEMO_NAS, DEMO_OPERATORS, DEMO_SUBSCRIBER, seed } from "../seed";

const db = await resolveDatabaseUrl();
try {
  await migrate(db.url);
  const prisma = createPrisma(db.url);
  const started = performance.now();
  const r = await seed(prisma);
  await prisma.$disconnect();
  console.log(
    r.seeded
      ? `seeded ${r.subscribers} subscribers in ${Math.round(performance.now() - started)} ms`
      : `already seeded (${r.subscribers} subscribers); nothing to do`,
  );
  console.log(`NAS ${DEMO_NAS.ip} secret ${DEMO_NAS.secret}; subscriber ${DEMO_SUBSCRIBER.username} / ${DEMO_SUBSCRIBER.password}`);
  console.log(`operators: ${DEMO_OPERATORS.map((o) => o.username).join(", ")} (password ${DEMO_OPERATORS[0]?.password})`);
} finally {
  await db.stop();
}
