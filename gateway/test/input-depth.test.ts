import { IDENTITY_HEADER, signIdentity } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_AUTH_ENV } from "../../test/support/auth.ts";
import { gql, json, startStack, type Stack } from "../../test/support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/** `levels` arrays inside each other: a few bytes per level, so a 1 MiB body holds 500,000. */
const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const DEEP = 200_000;

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: response.status, body: await json(response) };
}

function expectRefused(answer: { status: number; body: any }) {
  expect(answer.status).toBe(400);
  expect(answer.body.errors).toEqual([
    expect.objectContaining({
      message: "Request input nests deeper than 64 levels.",
      extensions: expect.objectContaining({ code: "MAX_INPUT_DEPTH_EXCEEDED", limit: 64 }),
    }),
  ]);
}

describe("input nested deeper than 64 levels gets 400 MAX_INPUT_DEPTH_EXCEEDED before anything walks it", () => {
  const graphql = () => `${stack.gatewayUrl}/graphql`;

  it("in a POST's variables, and the gateway serves on", async () => {
    expectRefused(await post(graphql(), `{"query":"query($x: [ID]) { __typename }","variables":{"x":${nested(DEEP)}}}`));
    expect((await gql(stack.gatewayUrl, "{ __typename }")).body).toEqual({ data: { __typename: "Query" } });
  });

  it("in a POST's extensions", async () => {
    expectRefused(await post(graphql(), `{"query":"{ __typename }","extensions":{"x":${nested(DEEP)}}}`));
  });

  it("in a batch (an array body)", async () => {
    expectRefused(await post(graphql(), `[{"query":"{ __typename }","variables":{"x":${nested(DEEP)}}}]`));
  });

  it("in a GET's variables and extensions", async () => {
    for (const name of ["variables", "extensions"]) {
      const url = `${graphql()}?query=${encodeURIComponent("{ __typename }")}&${name}=${encodeURIComponent(`{"x":${nested(2_000)}}`)}`;
      const response = await fetch(url, { headers: { "apollo-require-preflight": "1" } });
      expectRefused({ status: response.status, body: await json(response) });
    }
  });

  it("at a subgraph called directly (with the gateway's identity)", async () => {
    const identity = signIdentity(TEST_AUTH_ENV.INTERNAL_AUTH_SECRET!, null);
    expectRefused(
      await post(`${stack.subgraphs.products.url}/graphql`, `{"query":"{ __typename }","variables":{"x":${nested(DEEP)}}}`, { [IDENTITY_HEADER]: identity }),
    );
  });

  it("input within the limit is not refused for its depth", async () => {
    const answer = await post(graphql(), `{"query":"{ __typename }","extensions":{"x":${nested(60)}}}`);
    expect(answer).toEqual({ status: 200, body: { data: { __typename: "Query" } } });
  });
});
