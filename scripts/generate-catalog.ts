// npm run catalog:generate -- 100000: adds that many generated products (and their stock) to the
// configured PostgreSQL databases (DATABASE_URL, or PRODUCTS_/INVENTORY_DATABASE_URL), for the
// search benchmark and for trying search at scale. Products are filed under the seeded category
// tree's leaves, with names, descriptions and prices varied enough for search and facets to have
// work to do; about one in twelve is out of stock. Ids derive from the product's number, so running
// it again adds nothing already there (and `-- 200000` adds the next 100,000).
import { configuredDatabaseUrl, demoSeedAllowed, openPostgres } from "@catalog/common";

const ADJECTIVES = ["Compact", "Pro", "Classic", "Ultra", "Eco", "Nordic", "Urban", "Trail", "Studio", "Everyday", "Premium", "Lite", "Heritage", "Swift", "Alpine", "Coastal"];
const COLOURS = ["Black", "White", "Graphite", "Sage", "Navy", "Sand", "Crimson", "Olive", "Slate", "Ivory", "Amber", "Teal"];
const MATERIALS = ["recycled aluminium", "oak", "stainless steel", "organic cotton", "walnut", "merino wool", "bamboo", "ceramic", "carbon fibre", "linen"];
const PHRASES = [
  "Built to last and easy to repair.",
  "Tested by our team for a full season.",
  "Ships in plastic-free packaging.",
  "A favourite of our customers for gifts.",
  "Quiet, light and simple to use.",
  "Covered by a two-year warranty.",
];
const BATCH = 10_000;

const total = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(total) || total < 1 || total > 5_000_000) {
  console.error("Usage: npm run catalog:generate -- <number of products, 1 to 5,000,000>");
  process.exit(1);
}
try {
  demoSeedAllowed(process.env.NODE_ENV, "true");
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const productsUrl = configuredDatabaseUrl("products", process.env);
const inventoryUrl = configuredDatabaseUrl("inventory", process.env);
if (!productsUrl || !inventoryUrl) {
  console.error("Set DATABASE_URL (or PRODUCTS_DATABASE_URL and INVENTORY_DATABASE_URL): the generator writes to PostgreSQL only.");
  process.exit(1);
}

const sqlArray = (items: readonly string[]) => `ARRAY[${items.map((item) => `'${item.replace(/'/g, "''")}'`).join(", ")}]`;
/** The generated product number `i`'s id: the same on every machine and every run. */
const idOf = (i: string) => `md5('generated-product:' || ${i})::uuid`;

const products = openPostgres(productsUrl);
const inventory = openPostgres(inventoryUrl);
try {
  const [leaves] = await products.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM categories c WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)`,
  );
  if (!leaves?.count) throw new Error("The products database has no categories: start the system once (it seeds them) or run npm run db:seed.");
  const started = Date.now();
  for (let from = 1; from <= total; from += BATCH) {
    const to = Math.min(total, from + BATCH - 1);
    // The search vector trigger fills search_vector for each row, as it does for every write.
    await products.execute(
      `WITH leaf AS (
         SELECT id, regexp_replace(name, 's$', '') AS noun, lower(name) AS plural, row_number() OVER (ORDER BY path) - 1 AS n
         FROM categories c WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)
       )
       INSERT INTO products (id, sku, name, description, price_amount, currency, weight_grams, status, category_id, created_at, updated_at)
       SELECT ${idOf("g")},
              'GEN-' || lpad(g::text, 7, '0'),
              (${sqlArray(ADJECTIVES)})[1 + g % ${ADJECTIVES.length}] || ' ' || (${sqlArray(COLOURS)})[1 + (g / 7) % ${COLOURS.length}] || ' ' || leaf.noun || ' ' || g,
              'The ' || (${sqlArray(ADJECTIVES)})[1 + g % ${ADJECTIVES.length}] || ' ' || leaf.noun || ' in ' || (${sqlArray(MATERIALS)})[1 + (g / 3) % ${MATERIALS.length}]
                || ', from our ' || leaf.plural || ' range. ' || (${sqlArray(PHRASES)})[1 + (g / 5) % ${PHRASES.length}],
              round((4.99 + (g * 7919 % 49500) / 100.0)::numeric, 2),
              'USD',
              50 + g * 31 % 15000,
              CASE WHEN g % 53 = 0 THEN 'ARCHIVED' ELSE 'ACTIVE' END::"ProductStatus",
              leaf.id,
              timestamptz '2024-01-01' + g * interval '7 minutes',
              now()
       FROM generate_series($1::int, $2::int) AS g
       JOIN leaf ON leaf.n = g % ${leaves.count}
       ON CONFLICT (id) DO NOTHING`,
      [from, to],
    );
    await inventory.execute(
      `INSERT INTO stock_items (product_id, on_hand, reserved, updated_at)
       SELECT ${idOf("g")}, CASE WHEN g % 12 = 0 THEN 0 ELSE 1 + g * 13 % 60 END, 0, now()
       FROM generate_series($1::int, $2::int) AS g
       ON CONFLICT (product_id) DO NOTHING`,
      [from, to],
    );
    process.stdout.write(`\r${to.toLocaleString("en")} of ${total.toLocaleString("en")} products`);
  }
  await products.exec("ANALYZE");
  await inventory.exec("ANALYZE");
  process.stdout.write(`\ndone in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
} finally {
  await products.close();
  await inventory.close();
}
