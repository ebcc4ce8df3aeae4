/**
 * Reading course settings from environment variables.
 * A notebook kernel may run without `--allow-env`; then every setting counts as unset
 * instead of crashing the lesson.
 */
export function readEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === undefined || value.trim() === ""
      ? undefined
      : value.trim();
  } catch {
    return undefined;
  }
}

/** `1`, `true`, `yes`, `on` (any case) count as on. */
export function readEnvFlag(name: string): boolean {
  const value = readEnv(name)?.toLowerCase();
  return value === "1" || value === "true" || value === "yes" || value === "on";
}
