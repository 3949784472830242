-- Full-text search with relevance, typo tolerance, and a replica of inventory's availability for
-- facets (docs/decisions/0021, 0022). pg_trgm is a trusted extension (PostgreSQL 13+): a database
-- owner may create it; embedded PGlite loads it at open.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- AlterTable
ALTER TABLE "products" ADD COLUMN     "search_vector" tsvector NOT NULL DEFAULT ''::tsvector;

-- CreateTable
CREATE TABLE "product_stock" (
    "product_id" UUID NOT NULL,
    "available" INTEGER NOT NULL,
    "version" BIGINT NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "product_stock_pkey" PRIMARY KEY ("product_id")
);

-- CreateTable
CREATE TABLE "stock_feed_cursor" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "position" VARCHAR(100) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "stock_feed_cursor_pkey" PRIMARY KEY ("id")
);

-- A product's searchable words: name and SKU weigh most (A), then the names of its category and
-- every category above it (B), then the description (C). English stemming for prose ("kettles"
-- finds "kettle"); the SKU is kept as written ('simple').
CREATE FUNCTION product_search_vector(p_name TEXT, p_sku TEXT, p_description TEXT, p_category UUID)
RETURNS tsvector LANGUAGE sql STABLE AS $$
  SELECT setweight(to_tsvector('english', coalesce(p_name, '')), 'A')
      || setweight(to_tsvector('simple', coalesce(p_sku, '')), 'A')
      || setweight(to_tsvector('english', coalesce((
           SELECT string_agg(a.name, ' ')
           FROM categories c JOIN categories a ON starts_with(c.path, a.path)
           WHERE c.id = p_category), '')), 'B')
      || setweight(to_tsvector('english', coalesce(p_description, '')), 'C')
$$;

CREATE FUNCTION products_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector := product_search_vector(NEW.name, NEW.sku, NEW.description, NEW.category_id);
  RETURN NEW;
END
$$;

CREATE TRIGGER products_search_vector
  BEFORE INSERT OR UPDATE OF name, sku, description, category_id ON products
  FOR EACH ROW EXECUTE FUNCTION products_search_vector_refresh();

-- A category renamed or moved changes the words of every product at or below it.
CREATE FUNCTION categories_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE products p
  SET search_vector = product_search_vector(p.name, p.sku, p.description, p.category_id)
  WHERE p.category_id IN (SELECT c.id FROM categories c WHERE starts_with(c.path, NEW.path));
  RETURN NULL;
END
$$;

CREATE TRIGGER categories_search_vector
  AFTER UPDATE OF name, path ON categories
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.path IS DISTINCT FROM NEW.path)
  EXECUTE FUNCTION categories_search_vector_refresh();

UPDATE products SET search_vector = product_search_vector(name, sku, description, category_id);

CREATE INDEX "products_search_vector_idx" ON "products" USING GIN ("search_vector");
-- Typo tolerance and partial words: word similarity (the <% operator) against the lower-cased name.
CREATE INDEX "products_name_trgm_idx" ON "products" USING GIN (lower("name") gin_trgm_ops);
