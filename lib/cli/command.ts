/**
 * The shape every CLI command module exports as `command`. In its own module
 * so that commands depend on it without importing lib/cli/main.ts, which loads them
 * (imports run one way: cli.ts -> cli/<name>.ts -> cli/command.ts).
 */
export interface Command {
  /** One line for `h5vault --help`. */
  summary: string;
  /** The command's full usage text (`h5vault <name> --help`). */
  usage: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}
