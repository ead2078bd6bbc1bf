/**
 * Error taxonomy. Stages throw these; only `cli/` turns them into messages and exit codes.
 *
 * Exit codes (documented in the README): 0 ok, 1 drift or refused plan, 2 bad input,
 * 3 internal error (a bug in hwflake).
 */

/** Documented process exit codes. */
export const EXIT = { ok: 0, refused: 1, badInput: 2, internal: 3 } as const;

/** A problem with what the user gave us; the message names the field and the fix. Exit 2. */
export class UserError extends Error {
  override name = "UserError";
  /** Exit code the CLI uses for this error. */
  readonly exitCode: number = EXIT.badInput;
}

/** One validation problem at a path in an input document. */
export interface Issue {
  /** Dotted path with [index] for arrays, e.g. "accelerators[0].arch"; "" for the document. */
  readonly path: string;
  readonly message: string;
}

/** A profile that does not validate: carries every issue, each naming its path and fix. */
export class ProfileError extends UserError {
  override name = "ProfileError";
  constructor(
    readonly file: string,
    readonly issues: readonly Issue[],
  ) {
    super(`${file}: invalid profile\n${issues.map((i) => `  ✘ ${i.path || "(document)"}: ${i.message}`).join("\n")}`);
  }
}

/** A fleet (a folder of profiles plus fleet.yaml) that does not fit together; names the file and field. */
export class FleetError extends UserError {
  override name = "FleetError";
  constructor(
    readonly issues: readonly (Issue & { readonly file: string })[],
  ) {
    super(`invalid fleet\n${issues.map((i) => `  ✘ ${i.file}: ${i.path || "(document)"}: ${i.message}`).join("\n")}`);
  }
}

/** Input that could not be read or detected (missing file, unreadable capture folder). Exit 2. */
export class DetectError extends UserError {
  override name = "DetectError";
}

/** Writing would clobber a file hwflake did not generate. Exit 2; nothing was written. */
export class WriteConflictError extends UserError {
  override name = "WriteConflictError";
}

/** Something hwflake decided not to do (refused plan, drift in --check). Exit 1. */
export class RefusedError extends Error {
  override name = "RefusedError";
  readonly exitCode: number = EXIT.refused;
}

/** A bug: a state the code believes impossible. Exit 3. */
export class InternalError extends Error {
  override name = "InternalError";
  readonly exitCode: number = EXIT.internal;
}
