-- A change feed of stock levels for the products subgraph's availability replica
-- (docs/decisions/0022). Each row carries the id of the transaction that last changed it; a reader
-- takes only rows whose transaction is older than every transaction still running
-- (pg_snapshot_xmin), so a change that commits late is never skipped by a cursor that moved on.

-- AlterTable
ALTER TABLE "stock_items" ADD COLUMN     "changed_xid" xid8 NOT NULL DEFAULT pg_current_xact_id();

-- CreateIndex
CREATE INDEX "stock_items_changed_xid_product_id_idx" ON "stock_items"("changed_xid", "product_id");

CREATE FUNCTION stock_items_mark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END
$$;

CREATE TRIGGER stock_items_changed
  BEFORE UPDATE ON stock_items
  FOR EACH ROW EXECUTE FUNCTION stock_items_mark_changed();
