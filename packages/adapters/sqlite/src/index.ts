export { defaultSqliteSink } from './defaultSink';
export type { MigrateOptions, MigrateResult, Migration } from './migrations';
export { MIGRATIONS, migrate, SCHEMA_VERSION } from './migrations';
export type { SqliteStoreOptions } from './sqliteStore';
export { createSqliteStore } from './sqliteStore';
