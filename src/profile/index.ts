/** Profile stage: schema, parsing, rules, JSON Schema. */
export * from "./schema.js";
export { PROFILE_LIMITS, parseProfileText, validateProfile, formatPath } from "./parse.js";
export { profileRules } from "./rules.js";
export { profileJsonSchema, profileJsonSchemaText } from "./json-schema.js";
export { closest, editDistance } from "./suggest.js";
export { FLEET_VERSION, FleetSpecSchema, parseFleetText, type FleetService, type FleetSpec } from "./fleet.js";
