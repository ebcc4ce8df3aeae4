/**
 * lib/viz's display entry points. The implementation (the one place that touches
 * `Deno.jupyter`) is lib/runtime/jupyter_display.ts, shared with lib/hub's download bar and
 * lib/train's progress; HTML is escaped by lib/runtime/format.ts's `escapeHtml`.
 */
export { escapeHtml } from "../runtime/format.ts";
export {
  displayable,
  displayBundle,
  inJupyter,
  type MediaBundle,
} from "../runtime/jupyter_display.ts";
