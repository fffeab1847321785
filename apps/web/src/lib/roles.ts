// Operator roles and what each may do. Pure, shared by server and client.
export const operatorRoles = ["admin", "noc", "support", "manager", "dealer", "compliance"] as const;
export type OperatorRole = (typeof operatorRoles)[number];

export const nocRoles: readonly OperatorRole[] = ["noc", "admin", "manager", "support"];
export const supportRoles: readonly OperatorRole[] = ["support", "admin"];
export const managerRoles: readonly OperatorRole[] = ["manager", "admin"];

export function isRole(value: unknown): value is OperatorRole {
  return typeof value === "string" && (operatorRoles as readonly string[]).includes(value);
}

export function canDisconnect(role: OperatorRole): boolean {
  return supportRoles.includes(role);
}

export function canSeeNoc(role: OperatorRole): boolean {
  return nocRoles.includes(role);
}

/** Where an operator lands after login. */
export function homeFor(role: OperatorRole): "/noc" | "/subscribers" {
  return role === "noc" ? "/noc" : "/subscribers";
}
