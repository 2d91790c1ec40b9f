import { describe, expect, it } from "vitest";
import { canonicalHost, hostAllowed, hostMatches, isInternalAddress, splitHostPort } from "./hosts.js";

describe("hostMatches", () => {
  it("matches an exact name, case-insensitively and ignoring a trailing dot", () => {
    expect(hostMatches("api.example.com", "api.example.com", 443)).toBe(true);
    expect(hostMatches("API.Example.COM", "api.example.com.", 443)).toBe(true);
    expect(hostMatches("api.example.com", "example.com", 443)).toBe(false);
    expect(hostMatches("api.example.com", "api.example.com.evil.test", 443)).toBe(false);
    expect(hostMatches("api.example.com", "xapi.example.com", 443)).toBe(false);
  });

  it("matches subdomains of any depth for *.name, never the apex or look-alikes", () => {
    expect(hostMatches("*.example.com", "a.example.com", 443)).toBe(true);
    expect(hostMatches("*.example.com", "a.b.c.example.com", 80)).toBe(true);
    expect(hostMatches("*.example.com", "example.com", 443)).toBe(false);
    expect(hostMatches("*.example.com", "badexample.com", 443)).toBe(false);
    expect(hostMatches("*.example.com", "a.example.com.evil.test", 443)).toBe(false);
    expect(hostMatches("*.example.com", ".example.com", 443)).toBe(false);
  });

  it("matches IPv4 literals exactly, in any spelling of the same address", () => {
    expect(hostMatches("192.0.2.10", "192.0.2.10", 443)).toBe(true);
    expect(hostMatches("192.0.2.10", "192.0.2.100", 443)).toBe(false);
    expect(hostMatches("192.0.2.10", "192.0.2.1", 443)).toBe(false);
    expect(hostMatches("127.0.0.1", "0x7f.1", 80)).toBe(true);
    expect(hostMatches("127.0.0.1", "2130706433", 80)).toBe(true);
    expect(hostMatches("*.0.2.10", "192.0.2.10", 443)).toBe(false);
  });

  it("restricts to the rule's port when it names one", () => {
    expect(hostMatches("api.example.com:8443", "api.example.com", 8443)).toBe(true);
    expect(hostMatches("api.example.com:8443", "api.example.com", 443)).toBe(false);
    expect(hostMatches("api.example.com:8443", "api.example.com")).toBe(false);
    expect(hostMatches("*.example.com:443", "x.example.com", 443)).toBe(true);
    expect(hostMatches("192.0.2.10:80", "192.0.2.10", 80)).toBe(true);
    expect(hostMatches("192.0.2.10:80", "192.0.2.10", 81)).toBe(false);
    expect(hostMatches("api.example.com", "api.example.com", 1234)).toBe(true);
  });

  it("matches bracketed IPv6 literals exactly", () => {
    expect(hostMatches("[2001:db8::1]", "2001:db8::1", 443)).toBe(true);
    expect(hostMatches("[2001:db8::1]:443", "[2001:DB8:0::1]", 443)).toBe(true);
    expect(hostMatches("[2001:db8::1]", "2001:db8::2", 443)).toBe(false);
  });

  it("matches nothing for malformed rules or hosts", () => {
    for (const rule of [
      "",
      "*",
      "*.",
      "a b.com",
      "user@api.example.com",
      "api.example.com/x",
      "api.example.com:0",
      "api.example.com:99999",
    ]) {
      expect(hostMatches(rule, "api.example.com", 443), rule).toBe(false);
    }
    for (const host of [
      "",
      "api.example.com/x",
      "evil@api.example.com",
      "api.example.com ",
      "äpi.example.com",
    ]) {
      expect(hostMatches("api.example.com", host, 443), host).toBe(false);
    }
  });
});

describe("hostAllowed", () => {
  it("allows everything when unrestricted and nothing for an empty list", () => {
    expect(hostAllowed("unrestricted", "anything.test", 443)).toBe(true);
    expect(hostAllowed([], "api.example.com", 443)).toBe(false);
    expect(hostAllowed(["a.test", "*.b.test"], "x.b.test", 443)).toBe(true);
    expect(hostAllowed(["a.test", "*.b.test"], "b.test", 443)).toBe(false);
  });
});

describe("canonicalHost and splitHostPort", () => {
  it("canonicalises names and literals", () => {
    expect(canonicalHost("API.Test.")).toBe("api.test");
    expect(canonicalHost("[::1]")).toBe("::1");
    expect(canonicalHost("0x7f.0.0.1")).toBe("127.0.0.1");
    expect(canonicalHost("a/b")).toBeNull();
  });
  it("splits authorities", () => {
    expect(splitHostPort("api.test:443")).toEqual({ host: "api.test", port: 443 });
    expect(splitHostPort("[::1]:8443")).toEqual({ host: "::1", port: 8443 });
    expect(splitHostPort("api.test")).toEqual({ host: "api.test", port: null });
    expect(splitHostPort("api.test:70000")).toBeNull();
  });
});

describe("isInternalAddress", () => {
  it("flags loopback, link-local, unspecified and multicast, not private or public ranges", () => {
    for (const ip of [
      "127.0.0.1",
      "127.1.2.3",
      "0.0.0.0",
      "169.254.169.254",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:169.254.169.254",
    ]) {
      expect(isInternalAddress(ip), ip).toBe(true);
    }
    for (const ip of [
      "10.0.0.1",
      "192.168.1.1",
      "172.16.0.1",
      "192.0.2.10",
      "2001:db8::1",
      "::ffff:192.0.2.10",
    ]) {
      expect(isInternalAddress(ip), ip).toBe(false);
    }
  });
});
