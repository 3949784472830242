import { buildSchema, parse, type OperationDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { responseTags } from "../src/cache-tags.ts";

const schema = buildSchema(`
  type Query { product(id: ID!): Product  products: [Product!]!  search: [Result!]!  categories: [Category!]! }
  type Product { id: ID! name: String! category: Category reviews: [Review!]! }
  type Category { id: ID! name: String! }
  type Review { id: ID! rating: Int! }
  union Result = Product | Category
`);
const entities = new Set(["Product", "Category", "Review"]);

function tags(query: string, data: Record<string, unknown>, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === "OperationDefinition")!;
  return responseTags({ schema, document, operation, variables, data, entities }).sort();
}

describe("response tags", () => {
  it("tag entities by id through aliases, fragments, lists and nesting; root fields by name", () => {
    const query = `{ p: products { key: id ...F } } fragment F on Product { category { id } reviews { id rating } }`;
    const data = { p: [{ key: "1", category: { id: "c" }, reviews: [{ id: "r1", rating: 5 }, { id: "r2", rating: 4 }] }, { key: "2", category: null, reviews: [] }] };
    expect(tags(query, data)).toEqual(["Category:c", "Product:1", "Product:2", "Query.products", "Review:r1", "Review:r2"]);
  });

  it("an entity shown without its id is tagged by its type", () => {
    expect(tags(`{ product(id: "1") { name category { name } } }`, { product: { name: "x", category: { name: "y" } } })).toEqual([
      "Category",
      "Product",
      "Query.product",
    ]);
  });

  it("an alias named id on another field is not an id", () => {
    expect(tags(`{ product(id: "1") { id: name } }`, { product: { id: "Widget" } })).toEqual(["Product", "Query.product"]);
  });

  it("@skip/@include follow the variables, defaults included", () => {
    const query = `query ($withCategory: Boolean = true) { product(id: "1") { id category @include(if: $withCategory) { id } } }`;
    expect(tags(query, { product: { id: "1", category: { id: "c" } } })).toEqual(["Category:c", "Product:1", "Query.product"]);
    expect(tags(query, { product: { id: "1" } }, { withCategory: false })).toEqual(["Product:1", "Query.product"]);
  });

  it("abstract types: by __typename when selected, else every entity type they can hold", () => {
    const withTypename = `{ search { __typename ... on Product { id } ... on Category { id } } }`;
    expect(tags(withTypename, { search: [{ __typename: "Product", id: "1" }, { __typename: "Category", id: "c" }] })).toEqual([
      "Category:c",
      "Product:1",
      "Query.search",
    ]);
    const aliased = `{ search { __typename: __typename ... on Product { name } } }`;
    expect(tags(aliased, { search: [{ __typename: "Product", name: "x" }] })).toEqual(["Product", "Query.search"]);
    const without = `{ search { ... on Product { name } } }`;
    expect(tags(without, { search: [{ name: "x" }] })).toEqual(["Category", "Product", "Query.search"]);
  });
});
