export type { MigrateOptions, MigrateResult } from './migrations';
export { DEFAULT_SCHEMA, migrate, SCHEMA_VERSION } from './migrations';
export type { PostgresSinkOptions } from './postgresSink';
export { createPostgresSink } from './postgresSink';
export type { PostgresStore, PostgresStoreOptions } from './postgresStore';
export { createPostgresStore } from './postgresStore';
