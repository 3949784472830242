-- CreateEnum
CREATE TYPE "ReservationStatus" AS ENUM ('HELD', 'COMMITTED', 'RELEASED');

-- AlterEnum


ALTER TYPE "StockMovementReason" ADD VALUE 'RESERVED';
ALTER TYPE "StockMovementReason" ADD VALUE 'RELEASED';

-- AlterTable
ALTER TABLE "stock_movements" ADD COLUMN     "order_id" UUID,
ADD COLUMN     "reserved_delta" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "reservations" (
    "order_id" UUID NOT NULL,
    "status" "ReservationStatus" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "reservation_lines" (
    "order_id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,

    CONSTRAINT "reservation_lines_pkey" PRIMARY KEY ("order_id","product_id")
);

-- CreateIndex
CREATE INDEX "reservations_status_created_at_idx" ON "reservations"("status", "created_at");

-- CreateIndex
CREATE INDEX "reservation_lines_product_id_idx" ON "reservation_lines"("product_id");

-- AddForeignKey
ALTER TABLE "reservation_lines" ADD CONSTRAINT "reservation_lines_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "reservations"("order_id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written: a reservation line holds at least one unit.
ALTER TABLE "reservation_lines" ADD CONSTRAINT "reservation_lines_quantity_positive" CHECK ("quantity" > 0);

-- Hand-written: before this change `reserved` was only ever written by the old demo seed, with no
-- order behind it. Nothing could release it, so it starts again from what reservations hold: none.
UPDATE "stock_items" SET "reserved" = 0;
