import type { SyncSink, SyncStore } from '@syncjob/core';
import { runStoreConformance } from '@syncjob/core/testing';
import type pg from 'pg';
import { createPostgresStore, type PostgresStore } from '../src/index';
import { describePostgres, dropSchemas, freshSchema, postgresUrl } from './testDatabase';

const open = (schema: string, sink?: SyncSink<unknown>) =>
  createPostgresStore({
    connectionString: postgresUrl ?? '',
    schema,
    maxConnections: 4,
    ...(sink ? { sink: sink as SyncSink<pg.PoolClient> } : {}),
  });

describePostgres('conformance', () => {
  runStoreConformance({
    name: 'postgres',
    // A schema of its own per test; the peer is a second store on its own pool over the same schema.
    createStore: ({ sink }) => open(freshSchema('c'), sink),
    createPeer: (store: SyncStore) => open((store as PostgresStore).schema),
    clearLeaseExpiry: async (store, jobId) => {
      const { pool, schema } = store as PostgresStore;
      await pool.query(`UPDATE "${schema}".jobs SET lease_expires_at = NULL WHERE id = $1`, [jobId]);
    },
    cleanup: (store: SyncStore) => dropSchemas(postgresUrl ?? '', [(store as PostgresStore).schema]),
  });
});
