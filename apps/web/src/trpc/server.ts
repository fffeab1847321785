import "server-only";
import { createCaller } from "../server/routers/_app";
import { createContext } from "../server/trpc";

/** tRPC for server components: same procedures, same authorisation, no HTTP hop. */
export async function serverApi() {
  return createCaller(await createContext());
}
