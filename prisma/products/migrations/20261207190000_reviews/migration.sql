-- Reviews (#12, docs/decisions/0020): a title, whether the author bought the product (checked with
-- the orders subgraph when the review is written), moderation, and one review per product per author.
ALTER TABLE "reviews" ADD COLUMN "title" VARCHAR(120),
    ADD COLUMN "verified_purchase" BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN "hidden_at" TIMESTAMPTZ(3),
    ADD COLUMN "hidden_reason" VARCHAR(500),
    ADD COLUMN "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Before the unique index: where an author has several reviews of one product (seed data written
-- before the rule), keep the newest. The others are kept aside in "reviews_superseded" (not in the
-- Prisma schema: an operator's record, to restore from or drop), never deleted outright.
CREATE TABLE "reviews_superseded" AS
SELECT r.*, CURRENT_TIMESTAMP AS "superseded_at"
FROM "reviews" r
WHERE EXISTS (
  SELECT 1 FROM "reviews" newer
  WHERE newer."product_id" = r."product_id"
    AND newer."author_id" = r."author_id"
    AND (newer."created_at", newer."id") > (r."created_at", r."id")
);

DELETE FROM "reviews" r
USING "reviews" newer
WHERE newer."product_id" = r."product_id"
  AND newer."author_id" = r."author_id"
  AND (newer."created_at", newer."id") > (r."created_at", r."id");

-- CreateIndex
CREATE UNIQUE INDEX "reviews_product_id_author_id_key" ON "reviews"("product_id", "author_id");

-- Hand-written: the hard limits the API validates (an API bound may be stricter).
ALTER TABLE "reviews" ADD CONSTRAINT "reviews_body_length" CHECK (char_length("body") <= 5000);
