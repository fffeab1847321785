import { describe, expect, it } from "vitest";
import { canDisconnect, canLookUpNat, canSeeAccounts, canSeeNoc, homeFor, isRole } from "./roles";

describe("roles", () => {
  it("lands NOC staff on the wall, compliance on the lookup and everyone else on subscribers", () => {
    expect(homeFor("noc")).toBe("/noc");
    expect(homeFor("compliance")).toBe("/compliance");
    for (const role of ["admin", "support", "manager", "dealer"] as const) expect(homeFor(role)).toBe("/subscribers");
  });

  it("lets only compliance officers look up NAT records", () => {
    expect(canLookUpNat("compliance")).toBe(true);
    for (const role of ["admin", "noc", "support", "manager", "dealer"] as const) expect(canLookUpNat(role)).toBe(false);
  });

  it("lets only support and admin disconnect", () => {
    expect(canDisconnect("support")).toBe(true);
    expect(canDisconnect("admin")).toBe(true);
    for (const role of ["noc", "manager", "dealer", "compliance"] as const) expect(canDisconnect(role)).toBe(false);
  });

  it("keeps dealers and compliance off the NOC wall", () => {
    expect(canSeeNoc("dealer")).toBe(false);
    expect(canSeeNoc("compliance")).toBe(false);
    expect(canSeeNoc("manager")).toBe(true);
  });

  it("shows subscriber accounts to support, admin, manager and dealers only", () => {
    for (const role of ["support", "admin", "manager", "dealer"] as const) expect(canSeeAccounts(role)).toBe(true);
    for (const role of ["noc", "compliance"] as const) expect(canSeeAccounts(role)).toBe(false);
  });

  it("recognises only known roles", () => {
    expect(isRole("noc")).toBe(true);
    expect(isRole("root")).toBe(false);
    expect(isRole(undefined)).toBe(false);
  });
});
