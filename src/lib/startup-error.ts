/**
 * Something the operator must fix before the process can run (a setting, a busy port, a data
 * directory held by another process). Entry points print its message as one line, without a stack.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Thrown for invalid configuration; the message names the setting so start-up can say what to fix. */
export class ConfigError extends StartupError {}
