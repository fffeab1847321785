import "server-only";
import { nocSnapshotSchema } from "../dto";
import { nocSnapshot } from "../services/noc";
import { nocProcedure, router } from "../trpc";

export const nocRouter = router({
  snapshot: nocProcedure.output(nocSnapshotSchema).query(({ ctx }) => nocSnapshot(ctx.prisma, new Date())),
});
