-- Room for HOT updates on subscribers (issue 5, dunning run). The dunning run, enforcement
-- and recharges update status / expires_at / updated_at, none of them indexed; with pages
-- packed full every such update was a new tuple on another page plus an entry in all eight
-- indexes. 15% free space per page lets most of them stay on the page (heap-only tuple, no
-- index writes): the 100k worst-case dunning run went from 9.7 s to 8.2 s. Applies to pages
-- written from now on; `VACUUM FULL subscribers` in a maintenance window repacks old ones.
-- A storage parameter only: schema.prisma is unchanged.
ALTER TABLE "subscribers" SET (fillfactor = 85);
