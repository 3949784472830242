CREATE TYPE "StockState" AS ENUM ('HELD', 'RELEASING', 'RELEASED', 'SELLING', 'SOLD', 'UNTRACKED');

-- CreateEnum
CREATE TYPE "CheckoutState" AS ENUM ('PLACING', 'PLACED', 'ABANDONED', 'RELEASED');

-- CreateEnum
CREATE TYPE "PaymentStatus" AS ENUM ('PENDING', 'CAPTURED', 'DECLINED', 'FAILED', 'REFUNDED');

-- AlterTable
ALTER TABLE "orders" ADD COLUMN     "payment_due_at" TIMESTAMPTZ(3),
ADD COLUMN     "placed_by_partner" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "stock_state" "StockState" NOT NULL DEFAULT 'HELD';

-- CreateTable
CREATE TABLE "order_transitions" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "from_status" "OrderStatus",
    "to_status" "OrderStatus" NOT NULL,
    "actor_id" UUID,
    "actor_kind" VARCHAR(20) NOT NULL,
    "reason" VARCHAR(200),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "order_transitions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "checkouts" (
    "user_id" UUID NOT NULL,
    "idempotency_key" VARCHAR(255) NOT NULL,
    "request_hash" CHAR(64) NOT NULL,
    "order_id" UUID NOT NULL,
    "state" "CheckoutState" NOT NULL,
    "plan" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "checkouts_pkey" PRIMARY KEY ("user_id","idempotency_key")
);

-- CreateTable
CREATE TABLE "payments" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "provider" VARCHAR(40) NOT NULL,
    "status" "PaymentStatus" NOT NULL,
    "amount" DECIMAL(12,2) NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "provider_reference" VARCHAR(100),
    "decline_code" VARCHAR(60),
    "idempotency_key" VARCHAR(100) NOT NULL,
    "card_last4" CHAR(4),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "test_provider_charges" (
    "idempotency_key" VARCHAR(100) NOT NULL,
    "reference" VARCHAR(100) NOT NULL,
    "outcome" VARCHAR(20) NOT NULL,
    "decline_code" VARCHAR(60),
    "amount" DECIMAL(12,2) NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "refunded" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "test_provider_charges_pkey" PRIMARY KEY ("idempotency_key")
);

-- CreateTable
CREATE TABLE "carts" (
    "id" UUID NOT NULL,
    "user_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "carts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cart_lines" (
    "cart_id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cart_lines_pkey" PRIMARY KEY ("cart_id","product_id")
);

-- CreateIndex
CREATE INDEX "order_transitions_order_id_created_at_idx" ON "order_transitions"("order_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "checkouts_order_id_key" ON "checkouts"("order_id");

-- CreateIndex
CREATE INDEX "checkouts_state_created_at_idx" ON "checkouts"("state", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "payments_idempotency_key_key" ON "payments"("idempotency_key");

-- CreateIndex
CREATE INDEX "payments_order_id_idx" ON "payments"("order_id");

-- CreateIndex
CREATE INDEX "payments_status_created_at_idx" ON "payments"("status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "test_provider_charges_reference_key" ON "test_provider_charges"("reference");

-- CreateIndex
CREATE INDEX "carts_user_id_idx" ON "carts"("user_id");

-- CreateIndex
CREATE INDEX "carts_expires_at_idx" ON "carts"("expires_at");

-- CreateIndex
CREATE INDEX "orders_status_created_at_id_idx" ON "orders"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "orders_created_at_id_idx" ON "orders"("created_at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "order_transitions" ADD CONSTRAINT "order_transitions_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payments" ADD CONSTRAINT "payments_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cart_lines" ADD CONSTRAINT "cart_lines_cart_id_fkey" FOREIGN KEY ("cart_id") REFERENCES "carts"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written: orders written before selling existed get the stock state their status implies.
-- Inventory holds nothing for them (its migration of the same change resets what the old demo
-- seed had marked reserved), so unshipped ones are UNTRACKED: shipping or cancelling them moves
-- no stock, and no job ever owes inventory a call for them. On a new database this runs before
-- the demo seed, which writes orders together with their reservations.
UPDATE "orders" SET "stock_state" = CASE
  WHEN "status" IN ('SHIPPED', 'DELIVERED') THEN 'SOLD'::"StockState"
  WHEN "status" = 'CANCELLED' THEN 'RELEASED'::"StockState"
  ELSE 'UNTRACKED'::"StockState" END;

-- Hand-written: an order has at most one payment that is in flight or captured, so two concurrent
-- payOrder calls can never both charge it.
CREATE UNIQUE INDEX "payments_one_live_per_order" ON "payments"("order_id") WHERE "status" IN ('PENDING', 'CAPTURED');
ALTER TABLE "cart_lines" ADD CONSTRAINT "cart_lines_quantity_range" CHECK ("quantity" BETWEEN 1 AND 10000);
