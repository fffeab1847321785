import type { OperatorRole } from "../lib/roles";

export interface SessionOperator {
  id: number;
  username: string;
  name: string;
  role: OperatorRole;
  dealerId: number | null;
}

declare module "next-auth" {
  interface Session {
    operator: SessionOperator;
  }
  interface User {
    id: string;
    username: string;
    role: OperatorRole;
    dealerId: number | null;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    operator?: SessionOperator;
  }
}
