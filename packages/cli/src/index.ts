export type { CheckResult, CheckServerOptions } from './checkServer/checkServer';
export { checkServer, formatCheckTable } from './checkServer/checkServer';
export type { CliContext } from './cliContext';
export { CliError, EXIT } from './cliError';
export { runCli, USAGE } from './runCli';
