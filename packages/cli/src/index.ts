export type { CliContext } from './cliContext';
export { CliError, EXIT } from './cliError';
export { runCli, USAGE } from './runCli';
