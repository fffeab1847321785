"use client";
import { signOut } from "next-auth/react";

export function LogoutButton() {
  return (
    <button type="button" className="link" onClick={() => void signOut({ callbackUrl: "/login" })} data-testid="logout">
      Log out
    </button>
  );
}
