import { describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { profileJsonSchema, profileJsonSchemaText } from "../../src/profile/index.js";

const file = join(import.meta.dirname, "..", "..", "schema", "profile.schema.json");

describe("JSON Schema export", () => {
  it("the committed schema/profile.schema.json is what the zod schema exports (UPDATE_GOLDEN=1 rewrites it)", () => {
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, profileJsonSchemaText());
    expect(readFileSync(file, "utf8")).toBe(profileJsonSchemaText());
  });
  it("is strict where the profile is strict, so editors flag typos", () => {
    const s = profileJsonSchema() as { additionalProperties?: boolean; required?: string[]; properties: Record<string, unknown> };
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(expect.arrayContaining(["version", "host"]));
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(["cpu", "accelerators", "serve", "memory", "system"]));
  });
});
