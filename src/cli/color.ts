/**
 * Colour for the marks hwflake prints (✘ ⚠ ✓), following https://no-color.org: colour only on
 * a terminal, never when NO_COLOR is set to a non-empty value, and `--color always|never`
 * overrides both.
 */

/** What `--color` accepts. */
export const COLOR_MODES = ["auto", "always", "never"] as const;
/** One `--color` value. */
export type ColorMode = (typeof COLOR_MODES)[number];

/** Whether to colour output, from the flag, the environment and whether stdout is a terminal. */
export function colorEnabled(mode: ColorMode, env: Readonly<Record<string, string | undefined>>, isTTY: boolean): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false;
  return isTTY;
}

/** Paints text, or returns it unchanged when colour is off. */
export interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
}

/** SGR codes: 31 red, 33 yellow, 32 green, 2 dim; 0 resets. */
export function paint(on: boolean): Paint {
  const sgr = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: sgr(31), yellow: sgr(33), green: sgr(32), dim: sgr(2) };
}
