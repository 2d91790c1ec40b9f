import { describe, expect, it } from "vitest";
import { compileGlob, expandBraces, GlobPatternError } from "./glob-pattern.js";

const matches = (pattern: string, p: string) => compileGlob(pattern).regex.test(p);

describe("expandBraces", () => {
  it("expands alternatives, nested ones too, and leaves comma-less braces alone", () => {
    expect(expandBraces("a.{ts,js}").sort()).toEqual(["a.js", "a.ts"]);
    expect(expandBraces("{a,b{c,d}}x").sort()).toEqual(["ax", "bcx", "bdx"]);
    expect(expandBraces("a{b}c")).toEqual(["a{b}c"]);
    expect(expandBraces("a\\{b,c}")).toEqual(["a\\{b,c}"]);
  });

  it("refuses patterns that explode", () => {
    expect(() => expandBraces("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}")).toThrow(GlobPatternError);
  });
});

describe("compileGlob", () => {
  it("matches * and ? within one segment", () => {
    expect(matches("*.txt", "a.txt")).toBe(true);
    expect(matches("*.txt", "sub/a.txt")).toBe(false);
    expect(matches("a?c", "abc")).toBe(true);
    expect(matches("a?c", "a/c")).toBe(false);
  });

  it("matches ** across zero or more directories", () => {
    expect(matches("**/*.txt", "a.txt")).toBe(true);
    expect(matches("**/*.txt", "x/y/z/a.txt")).toBe(true);
    expect(matches("src/**/*.ts", "src/a.ts")).toBe(true);
    expect(matches("src/**/*.ts", "src/a/b.ts")).toBe(true);
    expect(matches("src/**/*.ts", "lib/a.ts")).toBe(false);
    expect(matches("src/**", "src/a/b.ts")).toBe(true);
  });

  it("does not match dotfiles with wildcards, unless the segment starts with a dot", () => {
    expect(matches("*", ".env")).toBe(false);
    expect(matches("**/*.js", ".hidden/a.js")).toBe(false);
    expect(matches(".*", ".env")).toBe(true);
    expect(matches(".config/*.json", ".config/a.json")).toBe(true);
  });

  it("supports classes, negated classes and escapes", () => {
    expect(matches("file[0-9].txt", "file7.txt")).toBe(true);
    expect(matches("file[!0-9].txt", "file7.txt")).toBe(false);
    expect(matches("file[!0-9].txt", "fileA.txt")).toBe(true);
    expect(matches("a\\*b", "a*b")).toBe(true);
    expect(matches("a\\*b", "axb")).toBe(false);
    expect(matches("a[b", "a[b")).toBe(true);
  });

  it("treats regex metacharacters literally", () => {
    expect(matches("a+b(c).txt", "a+b(c).txt")).toBe(true);
    expect(matches("a.txt", "abtxt")).toBe(false);
  });

  it("starts walks at the literal prefix and bounds their depth", () => {
    expect(compileGlob("src/lib/*.ts").starts).toEqual([{ base: "src/lib", maxDepth: 1 }]);
    expect(compileGlob("*.ts").starts).toEqual([{ base: "", maxDepth: 1 }]);
    expect(compileGlob("src/**/x").starts).toEqual([{ base: "src", maxDepth: Number.POSITIVE_INFINITY }]);
    expect(compileGlob("{src,test}/*.ts").starts).toEqual([
      { base: "src", maxDepth: 1 },
      { base: "test", maxDepth: 1 },
    ]);
    expect(compileGlob("{*.md,docs/*.md}").starts).toEqual([{ base: "", maxDepth: 2 }]);
  });
});
