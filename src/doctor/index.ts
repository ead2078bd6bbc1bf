/** `hwflake doctor`: does the host still match its profile? */
export { compareProfiles, DRIFT_CODES, type DoctorReport, type Drift, type DriftCode } from "./compare.js";
