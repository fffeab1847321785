import "server-only";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { routerApiKinds, routerAuthModes, routerCreateInput, routerUpdateInput, routerVendors } from "../../lib/router-input";
import { createRouter, listRouters, RouterAdminError, setRouterActive, updateRouter } from "../services/routers";
import { router, routerAdminProcedure, routerViewProcedure } from "../trpc";

// The output schema is the allow-list of what reaches the browser: no secret field exists
// in it, so none can leak even if the service returned one.
const routerSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  ipAddress: z.string(),
  vendor: z.enum(routerVendors),
  location: z.string().nullable(),
  active: z.boolean(),
  coaPort: z.number().int(),
  requireMessageAuthenticator: z.boolean(),
  authMode: z.enum(routerAuthModes),
  apiKind: z.enum(routerApiKinds),
  apiPort: z.number().int().nullable(),
  apiUsername: z.string().nullable(),
  apiPasswordSet: z.boolean(),
  restUrl: z.string().nullable(),
  apiTls: z.boolean(),
  tlsFingerprint: z.string().nullable(),
  tlsInsecure: z.boolean(),
  secretSet: z.boolean(),
  secretChangedAt: z.string().nullable(),
  openSessions: z.number().int(),
  lastSeenAt: z.string().nullable(),
  createdAt: z.string(),
});
export type RouterRowDto = z.infer<typeof routerSchema>;

function asTrpc(err: unknown): never {
  if (err instanceof RouterAdminError) throw new TRPCError({ code: err.code, message: err.message });
  throw err;
}

const idInput = z.object({ id: z.number().int().positive() });

// List: NOC and admin (roles.ts routerViewRoles); every write: admin only.
export const routersRouter = router({
  list: routerViewProcedure.output(z.array(routerSchema)).query(({ ctx }) => listRouters(ctx.prisma)),

  create: routerAdminProcedure
    .input(routerCreateInput)
    .output(z.object({ id: z.number().int() }))
    .mutation(({ ctx, input }) => createRouter(ctx.prisma, ctx.operator, input).catch(asTrpc)),

  update: routerAdminProcedure
    .input(routerUpdateInput)
    .output(z.object({ id: z.number().int(), changed: z.boolean() }))
    .mutation(({ ctx, input }) => updateRouter(ctx.prisma, ctx.operator, input).catch(asTrpc)),

  deactivate: routerAdminProcedure
    .input(idInput.extend({ confirmOpenSessions: z.number().int().min(0).optional() }))
    .output(z.object({ id: z.number().int(), active: z.boolean(), openSessions: z.number().int() }))
    .mutation(({ ctx, input }) => setRouterActive(ctx.prisma, ctx.operator, { id: input.id, active: false, confirmOpenSessions: input.confirmOpenSessions }).catch(asTrpc)),

  reactivate: routerAdminProcedure
    .input(idInput)
    .output(z.object({ id: z.number().int(), active: z.boolean(), openSessions: z.number().int() }))
    .mutation(({ ctx, input }) => setRouterActive(ctx.prisma, ctx.operator, { id: input.id, active: true }).catch(asTrpc)),
});
