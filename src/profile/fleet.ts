/**
 * fleet.yaml: what spans the hosts of a fleet folder. Optional; a folder of profiles alone is a
 * fleet too. Strict like the profile: an unknown key is an error.
 */
import { yaml } from "./yaml.js";
import { z } from "zod";
import { FleetError } from "../errors.js";
import { formatPath } from "./parse.js";
import { parsePlainYaml } from "./fast-yaml.js";

/** The fleet file format version this build reads. */
export const FLEET_VERSION = 1;

const name = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, {
  message: 'names start with a lower-case letter and use only a-z, 0-9 and "-"',
});
const host = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, { message: "a host name as in the host's profile" });
// An IPv4 or IPv6 address as the members reach each other; no names, so the firewall rules
// that admit the members cannot be redirected by DNS.
const address = z.union([z.ipv4(), z.ipv6()], { message: 'an IPv4 or IPv6 address, e.g. "10.0.0.11"' });

/** One model served across several hosts (vLLM on Ray). */
export const FleetServiceSchema = z
  .strictObject({
    name: name.meta({ description: "Service name: the vLLM unit and the Ray units are named after it" }),
    model: z.string().min(1).regex(/^[^-\s][^\s]*$/, { message: "a Hugging Face id or absolute path, without spaces or a leading '-'" }),
    engine: z.literal("vllm").default("vllm").meta({ description: "Only vLLM spans hosts (on Ray)" }),
    hosts: z.array(host).min(2, { message: "a service across hosts needs at least two hosts; serve it in the host's profile otherwise" }),
    port: z.number().int().min(1).max(65535),
    listen: z.string().min(1).default("127.0.0.1"),
    apiKeyFile: z
      .string()
      .regex(/^\/[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f]$/, { message: "an absolute path on the head host, without control characters or trailing spaces" })
      .optional()
      .meta({ description: "File on the head host holding the API key (handed to vLLM as a systemd credential)" }),
  })
  .meta({ description: "A model served by vLLM across hosts: tensor parallel within a host, pipeline parallel across hosts, on Ray" });

/** fleet.yaml. */
export const FleetSpecSchema = z
  .strictObject({
    version: z.literal(FLEET_VERSION),
    addresses: z.record(host, address).default({}).meta({ description: "Address of each host as the other members reach it" }),
    services: z.array(FleetServiceSchema).default([]),
  })
  .meta({ description: "What spans the hosts of a fleet" });

/** A validated fleet.yaml. */
export type FleetSpec = z.infer<typeof FleetSpecSchema>;
/** One service of fleet.yaml. */
export type FleetService = FleetSpec["services"][number];

/** Parse fleet.yaml text; `file` names it in messages. */
export function parseFleetText(text: string, file: string): FleetSpec {
  // Plain YAML (what fleet files are) is read by the fast reader, which declines duplicate keys
  // and anything else outside its subset; the yaml package checks unique keys pairwise, which
  // took 0.6 s for 10,000 addresses.
  let input = parsePlainYaml(text);
  if (input === undefined) {
    const doc = yaml().parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0)
      throw new FleetError(doc.errors.map((e) => ({ file, path: "", message: `not valid YAML/JSON: ${e.message.split("\n")[0]}` })));
    try {
      input = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new FleetError([{ file, path: "", message: `cannot be read: ${(e as Error).message}` }]);
    }
  }
  const r = FleetSpecSchema.safeParse(input ?? {});
  if (!r.success) throw new FleetError(r.error.issues.map((i) => ({ file, path: formatPath(i.path), message: i.message })));
  return r.data;
}
