import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../src/config.ts";
import { TEST_AUTH_ENV } from "../../test/support/auth.ts";

describe("gateway configuration", () => {
  it("refuses TRUST_PROXY=true, which would let any client choose its own IP for rate limits", () => {
    expect(() => loadGatewayConfig({ ...TEST_AUTH_ENV, TRUST_PROXY: "true" })).toThrow(/hop count/);
    expect(loadGatewayConfig({ ...TEST_AUTH_ENV, TRUST_PROXY: "1" }).trustProxy).toBe(1);
    expect(loadGatewayConfig({ ...TEST_AUTH_ENV, TRUST_PROXY: "10.0.0.0/8" }).trustProxy).toBe("10.0.0.0/8");
    expect(loadGatewayConfig(TEST_AUTH_ENV).trustProxy).toBe(false);
  });

  it("keeps the request deadline shorter than the identity it signs for subgraphs", () => {
    expect(() => loadGatewayConfig({ ...TEST_AUTH_ENV, REQUEST_TIMEOUT_MS: "120000" })).toThrow(/REQUEST_TIMEOUT_MS/);
    expect(loadGatewayConfig({ ...TEST_AUTH_ENV, REQUEST_TIMEOUT_MS: "90000" }).requestTimeoutMs).toBe(90_000);
  });

  it("watches the supergraph file unless told otherwise, and takes a supergraph URL with its limits", () => {
    const defaults = loadGatewayConfig(TEST_AUTH_ENV);
    expect(defaults.supergraphWatch).toBe(true);
    expect(defaults.supergraphUrl).toBeUndefined();
    expect(loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_WATCH: "false" }).supergraphWatch).toBe(false);
    expect(loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_URL: "https://registry.example.com/sg" }).supergraphUrl).toEqual({
      url: "https://registry.example.com/sg",
      pollIntervalMs: 10_000,
      timeoutMs: 5_000,
      maxBytes: 5_242_880,
    });
    expect(() => loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_URL: "not a url" })).toThrow(/SUPERGRAPH_URL/);
    expect(() => loadGatewayConfig({ ...TEST_AUTH_ENV, SUPERGRAPH_POLL_INTERVAL_MS: "10" })).toThrow(/SUPERGRAPH_POLL_INTERVAL_MS/);
  });

  it("refuses to start without the internal secret", () => {
    expect(() => loadGatewayConfig({})).toThrow(/INTERNAL_AUTH_SECRET is required/);
  });
});
