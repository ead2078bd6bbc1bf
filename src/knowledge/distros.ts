/**
 * Distributions that are not NixOS, as far as running hwflake's units through
 * numtide/system-manager goes: which ones it is tested on, and which systemd they ship.
 */
import type { Source } from "../plan/types.js";
import { SRC } from "./sources.js";

/** Releases system-manager is tested on, by os-release ID: the oldest tested VERSION_ID. */
const SYSTEM_MANAGER_TESTED: Readonly<Record<string, number>> = { ubuntu: 22.04, debian: 13 };

/** Is `id`/`versionId` a release system-manager is tested on? null when it cannot tell. */
export function systemManagerTested(id: string, versionId: string | undefined): boolean | null {
  const oldest = SYSTEM_MANAGER_TESTED[id];
  if (oldest === undefined) return false;
  const v = versionId === undefined ? NaN : Number.parseFloat(versionId);
  return Number.isNaN(v) ? null : v >= oldest;
}

/** The systemd major version a release ships, where hwflake knows it, with its source. */
export function distroSystemd(id: string, versionId: string | undefined): { version: number; source: Source } | null {
  if (id === "ubuntu" && versionId === "20.04") return { version: 245, source: SRC.ubuntuFocalSystemd };
  return null;
}

/** LoadCredential= (how units get their API key) needs this systemd. */
export const CREDENTIALS_SYSTEMD = 247;
