/** JSON Schema export of the profile format, for editors (yaml-language-server) and docs. */
import { z } from "zod";
import { ProfileSchema } from "./schema.js";

/** The JSON Schema (draft 2020-12) of profile input: what a hand-written file may contain. */
export function profileJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ProfileSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
}

/** The schema as the committed file holds it: two-space JSON with a final newline. */
export function profileJsonSchemaText(): string {
  return `${JSON.stringify(profileJsonSchema(), null, 2)}\n`;
}
