import { deterministicUuid } from "./ids.ts";

/**
 * The demo catalog, generated from a fixed PRNG seed so every machine gets the same rows and the
 * same ids. Each subgraph seeds only its own slice, yet the slices agree (an order's product ids
 * and unit prices match the products subgraph) without any subgraph reading another's database.
 */

export interface SeedUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  roles: ("CUSTOMER" | "ADMIN")[];
  status: "ACTIVE" | "INACTIVE" | "DELETED";
  createdAt: Date;
}
export interface SeedCategory {
  id: string;
  slug: string;
  name: string;
  parentId: string | null;
  path: string;
  depth: number;
}
export interface SeedProduct {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceAmount: string;
  currency: string;
  imageUrls: string[];
  weightGrams: number;
  status: "ACTIVE" | "ARCHIVED";
  categoryId: string;
  createdAt: Date;
}
export interface SeedReview {
  id: string;
  productId: string;
  authorId: string;
  rating: number;
  body: string;
  createdAt: Date;
}
export interface SeedStock {
  productId: string;
  onHand: number;
  reserved: number;
}
export interface SeedOrderItem {
  id: string;
  productId: string;
  quantity: number;
  unitPrice: string;
  position: number;
}
export interface SeedOrder {
  id: string;
  userId: string;
  status: "PENDING" | "PROCESSING" | "SHIPPED" | "DELIVERED" | "CANCELLED";
  currency: string;
  totalAmount: string;
  shipName: string;
  shipLine1: string;
  shipLine2: string | null;
  shipCity: string;
  shipRegion: string | null;
  shipPostalCode: string;
  shipCountry: string;
  createdAt: Date;
  items: SeedOrderItem[];
}
export interface CatalogSeed {
  users: SeedUser[];
  categories: SeedCategory[];
  products: SeedProduct[];
  reviews: SeedReview[];
  stock: SeedStock[];
  orders: SeedOrder[];
}

export const SEED_SIZES = { users: 250, products: 1200, orders: 2500 } as const;
/** Every seeded account signs in with this password. Demo data only: never seed a real database with it. */
export const SEED_DEMO_PASSWORD = "catalog-demo-password";
export const SEED_ADMIN_EMAIL = "admin@example.com";

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances", "Ken", "Radia", "Tim", "Hedy", "John", "Katherine", "Edsger", "Sophie", "Niklaus", "Anita", "Guido", "Lynn"];
const LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Ritchie", "Allen", "Thompson", "Perlman", "Berners-Lee", "Lamarr", "McCarthy", "Johnson", "Dijkstra", "Wilson", "Wirth", "Borg", "van Rossum", "Conway"];
const CITIES: [string, string, string][] = [["Berlin", "BE", "DE"], ["Lyon", "ARA", "FR"], ["Austin", "TX", "US"], ["Toronto", "ON", "CA"], ["Leeds", "ENG", "GB"], ["Madrid", "MD", "ES"], ["Seattle", "WA", "US"], ["Porto", "13", "PT"]];
const STREETS = ["Market St", "Harbour Rd", "Elm Ave", "Station Sq", "Mill Lane", "Park Blvd", "Canal Walk", "Hill Terrace"];

const TREE: [string, [string, [string, string]][]][] = [
  ["Electronics", [["Audio", ["Headphones", "Speakers"]], ["Computers", ["Laptops", "Monitors"]], ["Cameras", ["Mirrorless", "Action Cameras"]]]],
  ["Home & Kitchen", [["Cookware", ["Pans", "Knives"]], ["Furniture", ["Chairs", "Desks"]], ["Lighting", ["Lamps", "Smart Bulbs"]]]],
  ["Sports & Outdoors", [["Cycling", ["Helmets", "Bike Lights"]], ["Camping", ["Tents", "Sleeping Bags"]], ["Running", ["Running Shoes", "Running Watches"]]]],
  ["Clothing", [["Outerwear", ["Rain Jackets", "Parkas"]], ["Knitwear", ["Sweaters", "Cardigans"]], ["Accessories", ["Scarves", "Gloves"]]]],
  ["Books", [["Fiction", ["Science Fiction", "Mystery"]], ["Non-fiction", ["History", "Science"]], ["Children", ["Picture Books", "Young Adult"]]]],
  ["Toys & Games", [["Board Games", ["Strategy Games", "Party Games"]], ["Puzzles", ["Jigsaw Puzzles", "Brain Teasers"]], ["Building Sets", ["Bricks", "Robotics Kits"]]]],
];
const ADJECTIVES = ["Compact", "Pro", "Classic", "Ultra", "Eco", "Nordic", "Urban", "Trail", "Studio", "Everyday", "Premium", "Lite"];
const REVIEW_BODIES = [
  "Exactly as described, would buy again.",
  "Good value for the price.",
  "Arrived quickly and works well.",
  "Quality could be better for what it costs.",
  "Stopped working after a month.",
  "My favourite purchase this year.",
  "Solid, but the instructions were unclear.",
  "Does the job. Nothing more, nothing less.",
];

function slugify(text: string): string {
  return text.toLowerCase().replace(/&/g, "and").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function money(cents: number): string {
  return (cents / 100).toFixed(2);
}

let cached: CatalogSeed | undefined;

export function catalogSeed(): CatalogSeed {
  if (cached) return cached;
  const random = mulberry32(20261121);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const epoch = Date.UTC(2025, 0, 1);
  const day = 86_400_000;

  const users: SeedUser[] = [];
  for (let i = 0; i < SEED_SIZES.users; i++) {
    const firstName = FIRST[i % FIRST.length]!;
    const lastName = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
    users.push({
      id: deterministicUuid(`user:${i}`),
      email: i === 0 ? SEED_ADMIN_EMAIL : `${slugify(firstName)}.${slugify(lastName)}${i}@example.com`,
      firstName,
      lastName,
      roles: i === 0 ? ["CUSTOMER", "ADMIN"] : ["CUSTOMER"],
      status: i > 0 && i % 41 === 0 ? "INACTIVE" : i > 0 && i % 97 === 0 ? "DELETED" : "ACTIVE",
      createdAt: new Date(epoch + i * day / 3),
    });
  }

  const categories: SeedCategory[] = [];
  const leaves: SeedCategory[] = [];
  const add = (name: string, parent: SeedCategory | null): SeedCategory => {
    const slug = parent ? `${parent.slug}-${slugify(name)}` : slugify(name);
    const id = deterministicUuid(`category:${slug}`);
    const category: SeedCategory = {
      id,
      slug,
      name,
      parentId: parent?.id ?? null,
      path: `${parent?.path ?? "/"}${id}/`,
      depth: parent ? parent.depth + 1 : 0,
    };
    categories.push(category);
    return category;
  };
  for (const [rootName, children] of TREE) {
    const root = add(rootName, null);
    for (const [childName, grandchildren] of children) {
      const child = add(childName, root);
      for (const leafName of grandchildren) leaves.push(add(leafName, child));
    }
  }

  const products: SeedProduct[] = [];
  for (let i = 0; i < SEED_SIZES.products; i++) {
    const category = leaves[i % leaves.length]!;
    const name = `${pick(ADJECTIVES)} ${category.name.replace(/s$/, "")} ${100 + i}`;
    const id = deterministicUuid(`product:${i}`);
    products.push({
      id,
      sku: `SKU-${String(i + 1).padStart(5, "0")}`,
      name,
      description: `The ${name} from our ${category.name.toLowerCase()} range.`,
      priceAmount: money(int(499, 49_999)),
      currency: "USD",
      imageUrls: [`https://images.example.com/products/${id}/1.jpg`, `https://images.example.com/products/${id}/2.jpg`],
      weightGrams: int(50, 15_000),
      status: i % 53 === 0 ? "ARCHIVED" : "ACTIVE",
      categoryId: category.id,
      createdAt: new Date(epoch + i * 3_600_000),
    });
  }

  const reviews: SeedReview[] = [];
  const stock: SeedStock[] = [];
  for (const [index, product] of products.entries()) {
    const count = int(0, 5);
    const authors = new Set<number>();
    for (let r = 0; r < count; r++) {
      // One review per product per author (a unique index): a drawn author who already reviewed
      // this product gives way to the next customer, so the draws (and all later data) stay the same.
      let author = int(1, users.length - 1);
      while (authors.has(author)) author = (author % (users.length - 1)) + 1;
      authors.add(author);
      reviews.push({
        id: deterministicUuid(`review:${index}:${r}`),
        productId: product.id,
        authorId: users[author]!.id,
        rating: int(1, 5),
        body: pick(REVIEW_BODIES),
        createdAt: new Date(product.createdAt.getTime() + (r + 1) * day),
      });
    }
    const onHand = index % 17 === 0 ? 0 : int(0, 500);
    stock.push({ productId: product.id, onHand, reserved: Math.min(onHand, int(0, 5)) });
  }

  const statuses: SeedOrder["status"][] = ["DELIVERED", "DELIVERED", "DELIVERED", "SHIPPED", "PROCESSING", "PENDING", "CANCELLED"];
  const orders: SeedOrder[] = [];
  for (let i = 0; i < SEED_SIZES.orders; i++) {
    // The first customer has many orders, so deep per-user queries have something to page through.
    const user = i < 60 ? users[1]! : users[int(1, users.length - 1)]!;
    const [city, region, country] = pick(CITIES);
    const items: SeedOrderItem[] = [];
    let total = 0;
    const lines = int(1, 4);
    for (let position = 0; position < lines; position++) {
      const product = products[int(0, products.length - 1)]!;
      const quantity = int(1, 3);
      // Some prices changed since the purchase: the line keeps the price paid.
      const paidCents = Math.round(Number(product.priceAmount) * 100 * (random() < 0.2 ? 1.1 : 1));
      total += paidCents * quantity;
      items.push({ id: deterministicUuid(`order-item:${i}:${position}`), productId: product.id, quantity, unitPrice: money(paidCents), position });
    }
    orders.push({
      id: deterministicUuid(`order:${i}`),
      userId: user.id,
      status: pick(statuses),
      currency: "USD",
      totalAmount: money(total),
      shipName: `${user.firstName} ${user.lastName}`,
      shipLine1: `${int(1, 250)} ${pick(STREETS)}`,
      shipLine2: random() < 0.3 ? `Apt ${int(1, 40)}` : null,
      shipCity: city,
      shipRegion: region,
      shipPostalCode: String(int(10000, 99999)),
      shipCountry: country,
      createdAt: new Date(epoch + 30 * day + i * 5_400_000),
      items,
    });
  }

  // Orders not yet shipped hold their units, as the selling saga would have left them (inventory
  // seeds the matching reservations); on hand covers at least what is held.
  for (const item of stock) item.reserved = 0;
  const stockOf = new Map(stock.map((item) => [item.productId, item]));
  for (const order of orders) {
    if (order.status !== "PENDING" && order.status !== "PROCESSING") continue;
    for (const line of order.items) {
      const item = stockOf.get(line.productId)!;
      item.reserved += line.quantity;
      item.onHand = Math.max(item.onHand, item.reserved);
    }
  }

  cached = { users, categories, products, reviews, stock, orders };
  return cached;
}
