import "server-only";
import { createCallerFactory, router } from "../trpc";
import { accountsRouter } from "./accounts";
import { billingRouter } from "./billing";
import { complianceRouter } from "./compliance";
import { enforcementRouter } from "./enforcement";
import { liveRouter } from "./live";
import { nocRouter } from "./noc";
import { subscriberRouter } from "./subscriber";

export const appRouter = router({
  live: liveRouter,
  subscriber: subscriberRouter,
  enforcement: enforcementRouter,
  noc: nocRouter,
  compliance: complianceRouter,
  accounts: accountsRouter,
  billing: billingRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
