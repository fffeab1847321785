import "server-only";
import bcrypt from "bcryptjs";
import { getServerSession, type NextAuthOptions, type Session } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { z } from "zod";
import { env } from "../env";
import { isRole } from "../lib/roles";
import type { SessionOperator } from "../types/next-auth";
import { db } from "./db";

const sessionMaxAgeS = 12 * 60 * 60;

const credentialsSchema = z.object({
  username: z.string().trim().min(1).max(64),
  password: z.string().min(1).max(200),
});

export const authOptions: NextAuthOptions = {
  secret: env.authSecret,
  session: { strategy: "jwt", maxAge: sessionMaxAgeS },
  pages: { signIn: "/login" },
  providers: [
    CredentialsProvider({
      name: "Operator",
      credentials: {
        username: { label: "Username", type: "text" },
        password: { label: "Password", type: "password" },
      },
      async authorize(credentials) {
        const parsed = credentialsSchema.safeParse(credentials);
        if (!parsed.success) return null;
        const operator = await db().operator.findUnique({
          where: { username: parsed.data.username },
          select: { id: true, username: true, name: true, passwordHash: true, role: true, dealerId: true, active: true },
        });
        // Compare even for unknown users would equalise timing; bcrypt on a miss is cheap enough here.
        if (!operator || !operator.active) return null;
        const ok = await bcrypt.compare(parsed.data.password, operator.passwordHash);
        if (!ok || !isRole(operator.role)) return null;
        return {
          id: String(operator.id),
          name: operator.name,
          username: operator.username,
          role: operator.role,
          dealerId: operator.dealerId,
        };
      },
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user) {
        token.operator = {
          id: Number(user.id),
          username: user.username,
          name: user.name ?? user.username,
          role: user.role,
          dealerId: user.dealerId,
        };
      }
      return token;
    },
    session({ session, token }) {
      if (token.operator) session.operator = token.operator;
      return session;
    },
  },
};

/** The signed-in operator, or null (no session, or a token from before a schema change). */
export async function currentOperator(): Promise<SessionOperator | null> {
  const session: Session | null = await getServerSession(authOptions);
  const op = session?.operator;
  if (!op || !isRole(op.role)) return null;
  return op;
}
