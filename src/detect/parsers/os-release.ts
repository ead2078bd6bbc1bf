/** /etc/os-release (os-release(5)): shell-style `KEY=value` lines. */
import { cleanText } from "./text.js";

/**
 * Parse os-release into its variables. Values may be unquoted, or quoted with `"` or `'`;
 * inside double quotes `\"`, `\\`, `\$` and `` \` `` are escapes, as in the shell
 * (os-release(5): "Variable assignment values must be enclosed in double or single quotes if
 * they include spaces, semicolons or other special characters outside of A–Z, a–z, 0–9 …
 * shell special characters ("$", quotes, backslash, backtick) must be escaped with
 * backslashes"). Comments, blank lines and malformed lines are skipped.
 */
export function parseOsRelease(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of cleanText(text).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const value = unquote(m[2]!);
    if (value !== null) vars.set(m[1]!, value);
  }
  return vars;
}

function unquote(v: string): string | null {
  if (v.startsWith('"')) {
    if (!v.endsWith('"') || v.length < 2) return null;
    return v.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
  }
  if (v.startsWith("'")) {
    if (!v.endsWith("'") || v.length < 2) return null;
    return v.slice(1, -1);
  }
  return v;
}
