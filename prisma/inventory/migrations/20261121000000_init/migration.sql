-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "StockMovementReason" AS ENUM ('RECEIVED', 'SOLD', 'RETURNED', 'DAMAGED', 'CORRECTION');

-- CreateTable
CREATE TABLE "stock_items" (
    "product_id" UUID NOT NULL,
    "on_hand" INTEGER NOT NULL,
    "reserved" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "stock_items_pkey" PRIMARY KEY ("product_id")
);

-- CreateTable
CREATE TABLE "stock_movements" (
    "id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "delta" INTEGER NOT NULL,
    "reason" "StockMovementReason" NOT NULL,
    "note" VARCHAR(500),
    "on_hand_after" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stock_movements_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "stock_movements_product_id_created_at_idx" ON "stock_movements"("product_id", "created_at");

-- AddForeignKey
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_product_id_fkey" FOREIGN KEY ("product_id") REFERENCES "stock_items"("product_id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written: stock can never go negative, nor can more be reserved than is on hand.
ALTER TABLE "stock_items" ADD CONSTRAINT "stock_items_on_hand_non_negative" CHECK ("on_hand" >= 0);
ALTER TABLE "stock_items" ADD CONSTRAINT "stock_items_reserved_range" CHECK ("reserved" >= 0 AND "reserved" <= "on_hand");
