export { check00 } from "./check00.ts";
export { check01 } from "./check01.ts";
export { check02 } from "./check02.ts";
export { check03 } from "./check03.ts";
export { check04 } from "./check04.ts";
export { courseModelDir } from "./course_model.ts";
export { type CheckResult, formatFeedback } from "./feedback.ts";
