import "server-only";
import { createCallerFactory, router } from "../trpc";
import { accountsRouter } from "./accounts";
import { authLogRouter } from "./auth-log";
import { billingRouter } from "./billing";
import { complianceRouter } from "./compliance";
import { enforcementRouter } from "./enforcement";
import { escalationsRouter } from "./escalations";
import { liveRouter } from "./live";
import { nocRouter } from "./noc";
import { paymentsRouter } from "./payments";
import { routersRouter } from "./routers";
import { subscriberRouter } from "./subscriber";

export const appRouter = router({
  live: liveRouter,
  subscriber: subscriberRouter,
  enforcement: enforcementRouter,
  escalations: escalationsRouter,
  noc: nocRouter,
  compliance: complianceRouter,
  accounts: accountsRouter,
  billing: billingRouter,
  payments: paymentsRouter,
  routers: routersRouter,
  authLog: authLogRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
