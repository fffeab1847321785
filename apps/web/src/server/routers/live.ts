import "server-only";
import { SignJWT } from "jose";
import { z } from "zod";
import { env } from "../../env";
import { protectedProcedure, router } from "../trpc";

/** Long enough for a wall's shift; the socket client fetches a fresh one on every (re)connect. */
export const liveTokenTtlS = 12 * 60 * 60;

export const liveRouter = router({
  token: protectedProcedure
    .output(z.object({ token: z.string(), url: z.string(), expiresAt: z.string() }))
    .query(async ({ ctx }) => {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ role: ctx.operator.role, dealerId: ctx.operator.dealerId })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(String(ctx.operator.id))
        .setIssuedAt(now)
        .setExpirationTime(now + liveTokenTtlS)
        .sign(new TextEncoder().encode(env.authSecret));
      return { token, url: env.livePublicUrl, expiresAt: new Date((now + liveTokenTtlS) * 1000).toISOString() };
    }),
});
